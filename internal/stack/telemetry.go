package stack

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/telemetry"
)

// CompTelemetry is the OTLP receiver's component name on the bus (control.Endpoints.Telemetry reads
// its Addr, the OTLP/HTTP host:port).
const CompTelemetry = "telemetry"

// The OpenTelemetry SDK variables every service instance and test command gets when telemetry runs.
const (
	envOTLPEndpoint = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envOTLPProtocol = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envServiceName  = "OTEL_SERVICE_NAME"
	envResourceAttr = "OTEL_RESOURCE_ATTRIBUTES"
)

// telemetryOptions are the span store's and the receiver's settings from the config (the receiver's
// store and callbacks are added by the caller).
func telemetryOptions(c *config.Config) (telemetry.StoreOptions, telemetry.Options) {
	t := c.Telemetry
	so := telemetry.StoreOptions{MaxSpans: t.MaxSpans}
	if c.TelemetryPersist() {
		so.Dir = filepath.Join(c.StateDirPath(), "traces")
	}
	ro := telemetry.Options{HTTPAddr: hostPort("127.0.0.1", t.HTTPPort), MaxBodyBytes: config.TelemetryMaxBody}
	if t.GRPCPort >= 0 {
		ro.GRPCAddr = hostPort("127.0.0.1", t.GRPCPort)
	}
	return so, ro
}

// telemetryComponent runs the OTLP receiver and the span store. It starts before the broker and the
// gateway, which add their own spans to the store.
func (s *Stack) telemetryComponent() Component {
	return Component{Name: CompTelemetry, After: []string{CompControl}, Start: func(context.Context) (*Running, error) {
		so, ro := telemetryOptions(s.cfg)
		log := s.log.With("component", CompTelemetry)
		so.Logger, ro.Logger = log, log
		var problems []string
		store, err := telemetry.OpenStore(so)
		if err != nil && so.Dir != "" {
			// saved traces that cannot be read must not keep the stack from starting: this run's are kept in memory
			log.Warn("saved traces unusable; keeping this run's traces in memory only", "err", err)
			problems = append(problems, fmt.Sprintf("traces are not saved: %v", err))
			so.Dir = ""
			store, err = telemetry.OpenStore(so)
		}
		if err != nil {
			return nil, err
		}
		ro.Store = store
		ro.Logs = s.logs.Append
		metrics := telemetry.NewMetricStore(otlpMetricOptions())
		ro.Metrics = metrics.Add
		rcv, err := telemetry.Listen(ro)
		if err != nil {
			store.Close()
			return nil, err
		}
		failed, stop := serve(rcv.Serve)
		s.mu.Lock()
		s.spans, s.otlp, s.otlpMetrics = store, rcv, metrics
		s.mu.Unlock()
		// the detail is set once: it says what does not change while the stack runs (a count of the
		// traces kept would be stale at the first request; `devstack traces` and the metrics have that)
		spans, traces := store.Len()
		detail := fmt.Sprintf("keeps %d spans", so.MaxSpans)
		if spans > 0 && so.Dir != "" {
			detail += fmt.Sprintf(", %d traces from the last run", traces)
		}
		if a := rcv.GRPCAddr(); a != "" {
			detail = "grpc " + a + ", " + detail
		}
		return &Running{
			Addr:     rcv.HTTPAddr(),
			Detail:   detail,
			Problems: problems,
			Failed:   failed,
			Stop: func() error {
				stop()
				// the store stays readable (Traces, Trace); what it still had queued is written
				return store.Close()
			},
		}, nil
	}}
}

// spanSink is where the broker and the gateway send their spans: the store's AddSpans, or nil (tracing
// off) without telemetry.
func (s *Stack) spanSink() event.SpanSink {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.spans == nil {
		return nil
	}
	return s.spans.AddSpans
}

// Traces implements control.Controller.
func (s *Stack) Traces(_ context.Context, q event.TraceQuery) ([]event.TraceSummary, error) {
	s.mu.Lock()
	st := s.spans
	s.mu.Unlock()
	if st == nil {
		return nil, control.ErrNoTelemetry
	}
	return st.Traces(q), nil
}

// Trace implements control.Controller.
func (s *Stack) Trace(_ context.Context, id string) ([]event.Span, error) {
	s.mu.Lock()
	st := s.spans
	s.mu.Unlock()
	if st == nil {
		return nil, control.ErrNoTelemetry
	}
	spans, ok := st.Trace(strings.ToLower(id))
	if !ok {
		return nil, fmt.Errorf("no trace %s is kept (never received, or dropped with the oldest past telemetry.max_spans): %w", id, control.ErrNotFound)
	}
	return spans, nil
}

// otelEnv is what a service (or test command) gets so a stock OpenTelemetry SDK exports to the stack:
// the endpoint, the protocol and the service's name. A user's own values (.env, env:, the service's
// env:) are applied after these and win.
func otelEnv(endpoint, service string) map[string]string {
	return map[string]string{
		envOTLPEndpoint: endpoint,
		envOTLPProtocol: "http/protobuf",
		envServiceName:  service,
	}
}

// instanceResourceAttrs adds service.instance.id=<service>-<replica> and devstack.replica=<replica> to
// a user's OTEL_RESOURCE_ATTRIBUTES (base, maybe ""), unless base sets them itself.
func instanceResourceAttrs(base, service string, replica int) string {
	has := map[string]bool{}
	for kv := range strings.SplitSeq(base, ",") {
		if k, _, ok := strings.Cut(kv, "="); ok {
			has[strings.TrimSpace(k)] = true
		}
	}
	parts := []string{}
	if strings.TrimSpace(base) != "" {
		parts = append(parts, base)
	}
	if !has[telemetry.InstanceAttr] {
		parts = append(parts, telemetry.InstanceAttr+"="+service+"-"+strconv.Itoa(replica))
	}
	if !has[telemetry.ReplicaAttr] {
		parts = append(parts, telemetry.ReplicaAttr+"="+strconv.Itoa(replica))
	}
	return strings.Join(parts, ",")
}

// TestOTelEnv is what a test command of `devstack test` gets so its OpenTelemetry SDK exports to the
// stack as service "test" (nil without telemetry). It replaces the shell's OTEL_* (another stack's);
// the env file and env: are applied after it and win.
func (s *Stack) TestOTelEnv() []string {
	s.mu.Lock()
	r := s.otlp
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	var out []string
	for k, v := range otelEnv("http://"+r.HTTPAddr(), "test") {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return append(out, envResourceAttr+"=") // not the shell's
}
