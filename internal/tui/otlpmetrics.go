package tui

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
)

// maxMetricLines bounds the OTLP metrics the service detail shows.
const maxMetricLines = 6

// otlpMetricsState is the latest OTLP metrics of the selected service, polled on the services tab's
// tick.
type otlpMetricsState struct {
	service string
	list    []event.ServiceMetric
}

type svcMetricsMsg struct {
	service string
	metrics []event.ServiceMetric
	err     error
}

func fetchServiceMetrics(ctx context.Context, c control.Controller, service string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		ms, err := c.ServiceMetrics(ctx, service)
		return svcMetricsMsg{service: service, metrics: ms, err: err}
	}
}

// fetchSelectedMetrics polls the selected service's OTLP metrics (nil on a component row).
func (m *Model) fetchSelectedMetrics() tea.Cmd {
	sv, ok := m.selectedService()
	if !ok || m.fetching["svcmetrics"] {
		return nil
	}
	m.fetching["svcmetrics"] = true
	return fetchServiceMetrics(m.ctx, m.ctrl, sv.Name)
}

// applyMetrics keeps what a poll returned; an error (no telemetry, a stopped stack) shows none.
func (s *otlpMetricsState) apply(msg svcMetricsMsg) bool {
	list := msg.metrics
	if msg.err != nil {
		list = nil
	}
	changed := s.service != msg.service || len(s.list) != len(list) || fmt.Sprint(s.list) != fmt.Sprint(list)
	s.service, s.list = msg.service, list
	return changed
}

// metricLines are the service's OTLP metrics for its detail: one series a line, at most
// maxMetricLines, then how many more.
func (m *Model) metricLines(service string, w int) []string {
	if m.otlp.service != service || len(m.otlp.list) == 0 {
		return nil
	}
	lines := []string{m.st.dim.Render("OTLP metrics (all: /__devstack/metrics)")}
	for i, sm := range m.otlp.list {
		if i == maxMetricLines {
			lines = append(lines, m.st.dim.Render(fmt.Sprintf("… %d more series", len(m.otlp.list)-i)))
			break
		}
		lines = append(lines, trunc(seriesName(sm)+"  "+m.st.bold.Render(metricValue(sm)), w))
	}
	return lines
}

// seriesName writes a series as Prometheus does: name{labels}, the instance first.
func seriesName(sm event.ServiceMetric) string {
	var ls []string
	if sm.Instance != "" {
		ls = append(ls, "instance="+strconv.Quote(sm.Instance))
	}
	keys := make([]string, 0, len(sm.Labels))
	for k := range sm.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ls = append(ls, k+"="+strconv.Quote(sm.Labels[k]))
	}
	if len(ls) == 0 {
		return sm.Name
	}
	return sm.Name + "{" + strings.Join(ls, ",") + "}"
}

// metricValue is a gauge's or counter's value, a histogram's or summary's count and mean.
func metricValue(sm event.ServiceMetric) string {
	switch sm.Type {
	case "histogram", "summary":
		if sm.Count == 0 {
			return "count 0"
		}
		return fmt.Sprintf("count %d · mean %s", sm.Count, strconv.FormatFloat(sm.Sum/float64(sm.Count), 'g', 4, 64))
	}
	return strconv.FormatFloat(sm.Value, 'g', 6, 64)
}
