package tui_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/testkit"
)

// startUp runs `devstack up` on yaml in a tmux pane of 120x40 and stops it (q, then signals) when
// the test ends. It returns the pane, the devstack binary and the stack's devstack.yaml.
func startUp(t *testing.T, yaml string) (*term, string, string) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (apt-get install -y tmux)")
	}
	bin := testkit.DevstackBinary(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "devstack.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	tm := upInTmux(t, bin, dir, "", "devstack-tui-traces-", [3]time.Duration{30 * time.Second, 20 * time.Second, 5 * time.Second})
	return tm, bin, filepath.Join(dir, "devstack.yaml")
}

// sendTraceAndLog sends, like a service with the stock Go SDK, an order's trace (a request span
// with an SQL child and a failing publish child) and an OTLP log record written inside the request
// span, so it carries the trace id. It returns the trace id.
func sendTraceAndLog(t *testing.T, endpoint string) string {
	t.Helper()
	ctx := context.Background()
	res := resource.NewSchemaless(semconv.ServiceName("users"), semconv.ServiceInstanceID("users-0"))
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(endpoint), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res))
	lexp, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(endpoint), otlploghttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(lexp)), sdklog.WithResource(res))

	tr := tp.Tracer("tui-test")
	rctx, root := tr.Start(ctx, "POST /api/orders", oteltrace.WithSpanKind(oteltrace.SpanKindServer))
	_, sql := tr.Start(rctx, "INSERT shop", oteltrace.WithSpanKind(oteltrace.SpanKindClient),
		oteltrace.WithAttributes(attribute.String("db.statement", "INSERT INTO orders VALUES ($1)")))
	time.Sleep(2 * time.Millisecond)
	sql.End()
	_, pub := tr.Start(rctx, "orders.placed publish", oteltrace.WithSpanKind(oteltrace.SpanKindProducer))
	pub.SetStatus(codes.Error, "broker unreachable")
	pub.End()
	var rec otellog.Record
	rec.SetBody(attribute.StringValue("order 1042 placed"))
	rec.SetSeverity(otellog.SeverityInfo)
	rec.SetTimestamp(time.Now())
	lp.Logger("tui-test").Emit(rctx, rec)
	root.End()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("export spans: %v", err)
	}
	if err := lp.Shutdown(ctx); err != nil {
		t.Fatalf("export logs: %v", err)
	}
	return root.SpanContext().TraceID().String()
}

// TestTracesViewAgainstARealStack: `devstack up` in tmux with telemetry on; a trace and a log line
// sent over OTLP show in the Traces view (filtered by status), enter draws the waterfall with the
// selected span's attributes, T on the log line opens the same trace, and T on a request in the
// Gateway view opens the gateway's trace of it.
func TestTracesViewAgainstARealStack(t *testing.T) {
	otlp, gw := testkit.FreePort(t), testkit.FreePort(t)
	tm, bin, cfg := startUp(t, fmt.Sprintf("name: traced\ncontrol: {port: %d}\npostgres: {enabled: false}\n"+
		"broker: {port: %d, topics: {orders: {partitions: 1}}}\nregistry: {port: %d}\n"+
		"gateway: {http_port: %d, https_port: %d, routes: [{path: /, service: web}]}\n"+
		"telemetry: {http_port: %d, grpc_port: -1, persist: false}\n"+
		"services:\n  web:\n    command: exec python3 -m http.server $$PORT --bind 127.0.0.1\n",
		testkit.FreePort(t), testkit.FreePort(t), testkit.FreePort(t), gw, testkit.FreePort(t), otlp))
	tm.waitFor("the UI with the telemetry receiver ready", 60*time.Second, contains("1 Services", "● telemetry"))
	tm.keys("7")
	tm.waitFor("an empty trace list", 20*time.Second, contains("no traces yet"))

	id := sendTraceAndLog(t, fmt.Sprintf("127.0.0.1:%d", otlp))
	s := tm.waitFor("the trace in the list", 20*time.Second, contains("users POST /api/orders", "1 trace", "✗1"))
	if !strings.Contains(s, "trace "+id) {
		t.Errorf("the selected trace's id %s is not shown:\n%s", id, s)
	}
	tm.keys("e", "e") // ok only: the order failed
	tm.waitFor("the ok-only filter", 20*time.Second, contains("status: ok", "no trace matches the filter"))
	tm.keys("a")
	tm.waitFor("the filter cleared", 20*time.Second, contains("status: any", "users POST /api/orders"))

	tm.keys("Enter")
	s = tm.waitFor("the waterfall", 20*time.Second, contains("trace "+id, "3 spans", "users INSERT shop", "✗ users orders.placed publish"))
	if strings.Index(s, "users POST /api/orders") > strings.Index(s, "  users INSERT shop") {
		t.Errorf("the child is not under its parent:\n%s", s)
	}
	tm.keys("j")
	tm.waitFor("the SQL span's attributes", 20*time.Second, contains("users (users-0) · INSERT shop", "db.statement = INSERT INTO orders VALUES ($1)"))
	tm.keys("Escape")
	tm.waitFor("back to the list", 20*time.Second, contains("service: any", "users POST /api/orders"))

	// the OTLP log record carries the trace id: T in the Logs view opens its trace, esc returns
	tm.keys("2")
	tm.waitFor("the OTLP log line", 20*time.Second, contains("order 1042 placed"))
	tm.keys("T")
	tm.waitFor("the trace of the log line", 20*time.Second, contains("trace "+id, "3 spans", "users INSERT shop"))
	tm.keys("Escape")
	tm.waitFor("the Logs view again", 20*time.Second, contains("order 1042 placed", "source: all"))

	// a request through the gateway: the gateway traces it and says the trace id (traceresponse); in
	// the Gateway view the request's detail line names it and T opens the gateway's span
	tm.keys("1")
	tm.waitFor("web ready", 60*time.Second, func(s string) bool { return statuses(s)["web"] == "ready" })
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", gw))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	gid, _, _, ok := event.ParseTraceparent(resp.Header.Get("traceresponse"))
	if resp.StatusCode != 200 || !ok {
		t.Fatalf("GET / through the gateway: %s, traceresponse %q", resp.Status, resp.Header.Get("traceresponse"))
	}
	tm.keys("6")
	tm.waitFor("the request and its trace id", 20*time.Second, contains("GET", "trace "+gid+" (T)"))
	tm.keys("T")
	tm.waitFor("the gateway's trace of the request", 20*time.Second, contains("trace "+gid, "1 span", "gateway GET"))
	tm.keys("Escape")
	tm.waitFor("the Gateway view again", 20*time.Second, contains("ROUTE", "trace "+gid+" (T)"))

	// a record produced with the order's traceparent: T on it in the Messages view opens the order
	prod := exec.Command(bin, "produce", "orders", "-c", cfg, "-H", "traceparent="+event.FormatTraceparent(id, "00f067aa0ba902b7", 1))
	prod.Stdin = strings.NewReader(`{"orderId":1042}` + "\n")
	if out, err := prod.CombinedOutput(); err != nil {
		t.Fatalf("devstack produce: %v\n%s", err, out)
	}
	tm.keys("3")
	tm.waitFor("the orders topic", 20*time.Second, contains("TOPIC", "orders"))
	tm.keys("G", "Enter") // orders sorts after the registry's _schemas
	tm.waitFor("the record in the Messages view", 20*time.Second, contains(`{"orderId":1042}`, "traceparent"))
	tm.keys("T")
	// the embedded broker adds its produce span, under the record's traceparent (a span the trace does
	// not hold: marked ?)
	tm.waitFor("the order's trace from its record", 20*time.Second, contains("trace "+id, "4 spans", "users INSERT shop", "? broker produce orders"))
	tm.keys("Escape")
	tm.waitFor("the Messages view again", 20*time.Second, contains(`{"orderId":1042}`))
}
