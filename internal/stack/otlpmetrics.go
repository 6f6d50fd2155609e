package stack

import (
	"context"
	"fmt"

	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
)

// ServiceMetrics implements control.Controller: the OTLP metrics a service of devstack.yaml exported.
func (s *Stack) ServiceMetrics(_ context.Context, name string) ([]event.ServiceMetric, error) {
	if _, ok := s.cfg.Services[name]; !ok {
		return nil, fmt.Errorf("no service named %q in %s: %w", name, s.cfg.Path, control.ErrNotFound)
	}
	// the telemetry component fills this in (its receiver's metrics go to a telemetry.MetricStore)
	return nil, control.ErrNoTelemetry
}
