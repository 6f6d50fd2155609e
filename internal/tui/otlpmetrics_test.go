package tui

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
)

// fakeOTLP holds, per fake controller, the OTLP metrics its services exported; a fake without an entry
// runs no telemetry.
var fakeOTLP sync.Map // *fakeCtrl -> map[string][]event.ServiceMetric

func (f *fakeCtrl) ServiceMetrics(_ context.Context, service string) ([]event.ServiceMetric, error) {
	v, ok := fakeOTLP.Load(f)
	if !ok {
		return nil, control.ErrNoTelemetry
	}
	return v.(map[string][]event.ServiceMetric)[service], nil
}

// selectService moves the cursor to service name as a user does and runs the metric fetches that
// follow until the detail has that service's.
func selectService(t *testing.T, m *Model, name string) {
	t.Helper()
	var cmds []tea.Cmd
	for i := 0; ; i++ {
		if sv, ok := m.selectedService(); ok && sv.Name == name {
			break
		}
		if i == 20 {
			t.Fatalf("service %s not reachable with down", name)
		}
		if c := press(m, "down"); c != nil {
			cmds = append(cmds, c)
		}
	}
	cmd := tea.Batch(cmds...)
	if cmd == nil {
		cmd = m.refresh()
	}
	for cmd != nil {
		_, cmd = m.Update(await[svcMetricsMsg](t, cmd))
	}
	if m.otlp.service != name {
		t.Fatalf("the detail has %q's metrics, want %q's", m.otlp.service, name)
	}
}

// TestServiceDetailShowsOTLPMetrics: the selected service's detail lists the OTLP metrics it exported
// (a few series, then how many more); without telemetry it shows none.
func TestServiceDetailShowsOTLPMetrics(t *testing.T) {
	f := fixture()
	list := []event.ServiceMetric{
		{Name: "http_server_request_duration_seconds", Type: "histogram", Instance: "users-0", Labels: map[string]string{"http_route": "/users"}, Count: 4, Sum: 1},
		{Name: "orders_placed_total", Type: "counter", Instance: "users-0", Labels: map[string]string{"status": "ok"}, Value: 5},
	}
	for i := range 7 {
		list = append(list, event.ServiceMetric{Name: fmt.Sprintf("z_gauge_%d", i), Type: "gauge", Value: float64(i)})
	}
	fakeOTLP.Store(f, map[string][]event.ServiceMetric{"users": list})
	t.Cleanup(func() { fakeOTLP.Delete(f) })
	m := newTestModel(t, f, config{}, 120, 40)
	selectService(t, m, "users")
	v := m.View()
	for _, want := range []string{
		"OTLP metrics",
		`http_server_request_duration_seconds{instance="users-0",http_route="/users"}  count 4 · mean 0.25`,
		`orders_placed_total{instance="users-0",status="ok"}  5`,
		"z_gauge_3  3",
		"… 3 more series",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("the services view does not show %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "z_gauge_4") {
		t.Errorf("more than %d series shown:\n%s", maxMetricLines, v)
	}

	// another service selected: its own (none), not the previous one's
	selectService(t, m, "scorer")
	if v := m.View(); strings.Contains(v, "OTLP metrics") {
		t.Errorf("scorer exported nothing, yet:\n%s", v)
	}
}

func TestServiceDetailWithoutTelemetry(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, config{}, 120, 40)
	selectService(t, m, "users")
	if v := m.View(); strings.Contains(v, "OTLP metrics") {
		t.Errorf("no telemetry, yet:\n%s", v)
	}
}
