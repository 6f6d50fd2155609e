package stack

import (
	"context"
	"fmt"

	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/telemetry"
)

// otlpMetricOptions are the bounds of the services' OTLP metrics the stack keeps (config's).
func otlpMetricOptions() telemetry.MetricStoreOptions {
	return telemetry.MetricStoreOptions{
		MaxServices:         config.OTLPMetricServices,
		MaxSeriesPerService: config.OTLPMetricSeriesPerService,
		StaleAfter:          config.OTLPMetricStaleAfter,
	}
}

func (s *Stack) metricStore() *telemetry.MetricStore {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.otlpMetrics
}

// ServiceMetrics implements control.Controller: the OTLP metrics a service of devstack.yaml exported.
func (s *Stack) ServiceMetrics(_ context.Context, name string) ([]event.ServiceMetric, error) {
	if _, ok := s.cfg.Services[name]; !ok {
		return nil, fmt.Errorf("no service named %q in %s: %w", name, s.cfg.Path, control.ErrNotFound)
	}
	m := s.metricStore()
	if m == nil {
		return nil, control.ErrNoTelemetry
	}
	return m.Service(name), nil
}
