package control

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/devstack-dev/devstack/internal/event"
)

func (b *busController) ServiceMetrics(_ context.Context, service string) ([]event.ServiceMetric, error) {
	switch service {
	case "nobody":
		return nil, ErrNoTelemetry
	case "users":
		return []event.ServiceMetric{{Name: "orders_placed_total", Type: "counter", Instance: "users-0", Labels: map[string]string{"status": "ok"}, Value: 5}}, nil
	}
	return nil, fmt.Errorf("service %q: %w", service, ErrNotFound)
}

// TestServiceMetricsRoundTrip: a service's OTLP metrics cross the API, with ErrNotFound and
// ErrNoTelemetry kept for errors.Is.
func TestServiceMetricsRoundTrip(t *testing.T) {
	_, c := startServer(t)
	ctx := context.Background()
	ms, err := c.ServiceMetrics(ctx, "users")
	if err != nil || len(ms) != 1 || ms[0].Name != "orders_placed_total" || ms[0].Labels["status"] != "ok" || ms[0].Value != 5 || ms[0].Instance != "users-0" {
		t.Fatalf("ServiceMetrics = %+v, %v", ms, err)
	}
	if _, err := c.ServiceMetrics(ctx, "nobody"); !errors.Is(err, ErrNoTelemetry) {
		t.Errorf("without telemetry: %v, want ErrNoTelemetry", err)
	}
	if _, err := c.ServiceMetrics(ctx, "ghost"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown service: %v, want ErrNotFound", err)
	}
}
