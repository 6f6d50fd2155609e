package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
)

// otelChildEnv makes the test binary a child that sends one span named by its value, configured only
// by the OTEL_* variables the stack gave it (a stock SDK, no options), prints the trace id and exits.
const otelChildEnv = "DEVSTACK_TEST_OTEL_SPAN"

func otelChild(name string) int {
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx) // OTEL_EXPORTER_OTLP_ENDPOINT
	if err != nil {
		fmt.Fprintln(os.Stderr, "exporter:", err)
		return 1
	}
	res, err := resource.New(ctx, resource.WithFromEnv()) // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
	if err != nil {
		fmt.Fprintln(os.Stderr, "resource:", err)
		return 1
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res))
	sctx, sp := tp.Tracer("child").Start(ctx, name, oteltrace.WithSpanKind(oteltrace.SpanKindServer))
	lexp, err := otlploghttp.New(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "log exporter:", err)
		return 1
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(lexp)), sdklog.WithResource(res))
	var rec otellog.Record
	rec.SetBody(attribute.StringValue(name + " done"))
	rec.SetSeverity(otellog.SeverityInfo)
	rec.AddAttributes(attribute.String("step", name))
	lp.Logger("child").Emit(sctx, rec)
	sp.End()
	if err := errors.Join(tp.Shutdown(ctx), lp.Shutdown(ctx)); err != nil {
		fmt.Fprintln(os.Stderr, "export:", err)
		return 1
	}
	fmt.Println("sent trace", sp.SpanContext().TraceID())
	return 0
}

const telemetryStack = `
name: teltest
control: {port: ${CONTROL_PORT}}
broker: {enabled: false}
postgres: {enabled: false}
telemetry: {http_port: ${TELEMETRY_PORT}, grpc_port: ${OTLP_GRPC_PORT}}
services:
  web:
    replicas: 2
    command: echo "otel=$$OTEL_EXPORTER_OTLP_ENDPOINT $$OTEL_EXPORTER_OTLP_PROTOCOL $$OTEL_SERVICE_NAME $$OTEL_RESOURCE_ATTRIBUTES"; "$$CHILD"; exec sleep 60
    env: {CHILD: "${CHILD}", DEVSTACK_TEST_OTEL_SPAN: "checkout"}
    settle: 0s
  own:
    command: echo "otel=$$OTEL_SERVICE_NAME $$OTEL_RESOURCE_ATTRIBUTES"; exec sleep 60
    env: {OTEL_SERVICE_NAME: mine, OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=dev,devstack.replica=9"}
    settle: 0s
`

// A stack with telemetry on: each service instance gets the OTLP endpoint, its service name and its
// instance in its environment (a user's own OTEL_* win); a span the stock Go SDK sends from the
// service's process shows in Stack.Traces and Trace, and through the control API.
func TestStackTelemetry(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CHILD", exe)
	// the shell's (another stack's): must not reach a service
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=outer-0")
	rs := newRealStack(t, telemetryStack)
	st := start(t, rs.load(t), Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	endpoint := fmt.Sprintf("127.0.0.1:%d", rs.ports["TELEMETRY_PORT"])
	if a := st.Addrs()[CompTelemetry]; a != endpoint {
		t.Errorf("telemetry ready on %q, want %s", a, endpoint)
	}
	// the status detail says what stays true while the stack runs (no count that is stale at the
	// first span)
	for _, c := range st.Bus().Snapshot().Components {
		if want := fmt.Sprintf("grpc 127.0.0.1:%d, keeps 100000 spans", rs.ports["OTLP_GRPC_PORT"]); c.Name == CompTelemetry && c.Detail != want {
			t.Errorf("telemetry detail %q, want %q", c.Detail, want)
		}
	}

	said := map[string]string{} // source/replica -> the otel= line
	waitUntil(t, 20*time.Second, "every instance's otel= line and the two children's spans", func() bool {
		for _, l := range st.LogStore().Tail(200, nil) {
			if strings.HasPrefix(l.Text, "otel=") {
				said[fmt.Sprintf("%s/%d", l.Source, l.Replica)] = l.Text
			}
		}
		n := 0
		for _, l := range st.LogStore().Tail(200, event.SourceFilter("web")) {
			if strings.HasPrefix(l.Text, "sent trace") {
				n++
			}
		}
		return len(said) == 3 && n == 2
	})
	for key, want := range map[string]string{
		"web/0": "otel=http://" + endpoint + " http/protobuf web service.instance.id=web-0,devstack.replica=0",
		"web/1": "otel=http://" + endpoint + " http/protobuf web service.instance.id=web-1,devstack.replica=1",
		"own/0": "otel=mine deployment.environment=dev,devstack.replica=9,service.instance.id=own-0",
	} {
		if said[key] != want {
			t.Errorf("%s was told %q, want %q", key, said[key], want)
		}
	}

	var sums []event.TraceSummary
	waitUntil(t, 10*time.Second, "two traces in the store", func() bool {
		sums, err = st.Traces(ctx, event.TraceQuery{Service: "web"})
		return err == nil && len(sums) == 2
	})
	instances := []string{}
	for _, s := range sums {
		if s.RootService != "web" || s.RootName != "checkout" || s.Spans != 1 {
			t.Errorf("summary %+v", s)
		}
		spans, err := st.Trace(ctx, s.TraceID)
		if err != nil || len(spans) != 1 {
			t.Fatalf("Trace(%s): %v, %v", s.TraceID, spans, err)
		}
		instances = append(instances, spans[0].Instance)
	}
	slices.Sort(instances)
	if !slices.Equal(instances, []string{"web-0", "web-1"}) {
		t.Errorf("span instances %q, want web-0 and web-1", instances)
	}

	// the OTLP log records are lines of their service and replica, with the span's trace context
	traceIDs := map[string]bool{sums[0].TraceID: true, sums[1].TraceID: true}
	replicas := map[int]bool{}
	for _, l := range st.LogStore().Tail(200, event.SourceFilter("web")) {
		if l.Stream != "otlp" {
			continue
		}
		if l.Text != "checkout done" || l.Severity != "info" || !traceIDs[l.TraceID] || len(l.SpanID) != 16 || l.Fields["step"] != "checkout" {
			t.Errorf("OTLP log line %+v", l)
		}
		replicas[l.Replica] = true
	}
	if !replicas[0] || !replicas[1] {
		t.Errorf("OTLP log lines from replicas %v, want 0 and 1", replicas)
	}

	// through the control API, as `devstack traces` and the TUI read them
	cl, err := control.Dial(st.Config().StateDirPath())
	if err != nil {
		t.Fatal(err)
	}
	got, err := cl.Traces(ctx, event.TraceQuery{Limit: 1})
	if err != nil || len(got) != 1 || got[0].TraceID != sums[0].TraceID {
		t.Errorf("control Traces(limit 1): %+v, %v; want the newest, %s", got, err, sums[0].TraceID)
	}
	spans, err := cl.Trace(ctx, sums[0].TraceID)
	if err != nil || len(spans) != 1 || spans[0].Name != "checkout" {
		t.Errorf("control Trace: %+v, %v", spans, err)
	}
	if _, err := cl.Trace(ctx, strings.Repeat("ab", 16)); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("control Trace of an unknown id: %v, want not found", err)
	}
	ep, err := cl.Endpoints(ctx)
	if err != nil || ep.Telemetry != endpoint {
		t.Errorf("endpoints %+v, %v; want telemetry %s", ep, err, endpoint)
	}
}

// Without telemetry, Traces and Trace say so (control.ErrNoTelemetry), and services get no OTEL_* of
// devstack's: what the shell had passes through.
func TestStackTelemetryDisabled(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	rs := newRealStack(t, strings.Replace(telemetryStack, "telemetry: {http_port: ${TELEMETRY_PORT}, grpc_port: ${OTLP_GRPC_PORT}}", "telemetry: {enabled: false}", 1))
	st := start(t, rs.load(t), Options{NoControl: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	if _, err := st.Traces(ctx, event.TraceQuery{}); err != control.ErrNoTelemetry {
		t.Errorf("Traces: %v, want ErrNoTelemetry", err)
	}
	if _, err := st.Trace(ctx, strings.Repeat("ab", 16)); err != control.ErrNoTelemetry {
		t.Errorf("Trace: %v, want ErrNoTelemetry", err)
	}
	var line string
	waitUntil(t, 20*time.Second, "web's otel= line", func() bool {
		for _, l := range st.LogStore().Tail(100, event.SourceFilter("web")) {
			if strings.HasPrefix(l.Text, "otel=") {
				line = l.Text
				return true
			}
		}
		return false
	})
	if !strings.HasPrefix(line, "otel=http://127.0.0.1:1 ") || strings.Contains(line, "service.instance.id") {
		t.Errorf("without telemetry web was told %q", line)
	}
}

// Saved traces that cannot be read (a file where .devstack/traces should be) do not stop the stack: the
// receiver runs with this run's traces in memory and says why they are not saved.
func TestStackTelemetryUnusableTracesDir(t *testing.T) {
	rs := newRealStack(t, `
name: teltest
broker: {enabled: false}
postgres: {enabled: false}
services:
  idle: {command: exec sleep 60, settle: 0s}
`)
	if err := os.MkdirAll(rs.dir+"/.devstack", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rs.dir+"/.devstack/traces", []byte("not a dir"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := rs.load(t)
	st := start(t, cfg, Options{NoControl: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady with an unusable traces dir: %v", err)
	}
	for _, c := range st.Bus().Snapshot().Components {
		if c.Name == CompTelemetry && (c.Status != event.StatusReady || len(c.Problems) != 1 || !strings.Contains(c.Problems[0], "traces are not saved")) {
			t.Errorf("telemetry component %+v, want ready with the problem", c)
		}
	}
	if _, err := st.Traces(ctx, event.TraceQuery{}); err != nil {
		t.Errorf("Traces: %v", err)
	}
}
