package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/testkit"
)

// sendOrderTraces sends, with the stock OpenTelemetry Go SDK over OTLP/HTTP, an order's trace (users'
// request span with an SQL child and a failing produce child carrying an exception event) and, a
// second later, a short healthy one. It returns both trace ids.
func sendOrderTraces(t *testing.T, endpoint string) (order, health string) {
	t.Helper()
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(endpoint), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	res := resource.NewSchemaless(semconv.ServiceName("users"), semconv.ServiceInstanceID("users-0"))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res))
	tr := tp.Tracer("cli-test")
	t0 := time.Now().Add(-time.Minute)
	at := func(ms int) oteltrace.SpanStartEventOption {
		return oteltrace.WithTimestamp(t0.Add(time.Duration(ms) * time.Millisecond))
	}
	end := func(ms int) oteltrace.SpanEndOption {
		return oteltrace.WithTimestamp(t0.Add(time.Duration(ms) * time.Millisecond))
	}

	rctx, root := tr.Start(ctx, "POST /api/orders", at(0), oteltrace.WithSpanKind(oteltrace.SpanKindServer),
		oteltrace.WithAttributes(attribute.String("http.route", "/api/orders"), attribute.Int("http.response.status_code", 500)))
	_, sql := tr.Start(rctx, "INSERT shop", at(5), oteltrace.WithSpanKind(oteltrace.SpanKindClient),
		oteltrace.WithAttributes(attribute.String("db.system", "postgresql"), attribute.String("db.statement", "INSERT INTO orders VALUES ($1)")))
	sql.End(end(9))
	_, pub := tr.Start(rctx, "orders.placed publish", at(10), oteltrace.WithSpanKind(oteltrace.SpanKindProducer))
	pub.AddEvent("exception", oteltrace.WithTimestamp(t0.Add(20*time.Millisecond)),
		oteltrace.WithAttributes(attribute.String("exception.message", "broker unreachable")))
	pub.SetStatus(codes.Error, "broker unreachable")
	pub.End(end(30))
	root.End(end(48))

	_, hc := tr.Start(ctx, "GET /healthz", at(1000), oteltrace.WithSpanKind(oteltrace.SpanKindServer))
	hc.End(oteltrace.WithTimestamp(t0.Add(1000*time.Millisecond + 300*time.Microsecond)))
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("export: %v", err)
	}
	return root.SpanContext().TraceID().String(), hc.SpanContext().TraceID().String()
}

// TestTracesCommand: `devstack traces` lists a running stack's traces newest first with its filters,
// `devstack traces show` draws one as a tree, --json gives scripts the same data; spans come from the
// stock Go SDK over OTLP into the stack's receiver, and the CLI reads them through the control API.
func TestTracesCommand(t *testing.T) {
	dir := t.TempDir()
	port := testkit.FreePort(t)
	cfg, _ := runTestStack(t, dir, fmt.Sprintf("name: traced\ncontrol: {port: %d}\nbroker: {enabled: false}\npostgres: {enabled: false}\n"+
		"telemetry: {http_port: %d, grpc_port: -1, persist: false}\n", testkit.FreePort(t), port))
	order, health := sendOrderTraces(t, fmt.Sprintf("127.0.0.1:%d", port))

	out := mustCLI(t, "", "traces", "-c", cfg)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TRACE ID") || !strings.HasPrefix(lines[1], health) || !strings.HasPrefix(lines[2], order) {
		t.Fatalf("devstack traces: want the health check then the order, newest first:\n%s", out)
	}
	if !regexpLine(lines[2], `^`+order+`\s+\d\d:\d\d:\d\d\.\d{3}\s+48ms\s+3\s+1\s+users POST /api/orders\s+users$`) {
		t.Errorf("order line: %q", lines[2])
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--status", "error"}, []string{order}},
		{[]string{"--status", "ok"}, []string{health}},
		{[]string{"--min-duration", "10ms"}, []string{order}},
		{[]string{"--service", "users", "--limit", "1"}, []string{health}},
		{[]string{"--service", "nobody"}, nil},
	} {
		out := mustCLI(t, "", append([]string{"traces", "-c", cfg, "--json"}, tc.args...)...)
		var got []event.TraceSummary
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("traces --json %v: %v\n%s", tc.args, err, out)
		}
		var ids []string
		for _, s := range got {
			ids = append(ids, s.TraceID)
		}
		if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
			t.Errorf("traces %v: %v, want %v", tc.args, ids, tc.want)
		}
	}
	if out := mustCLI(t, "", "traces", "-c", cfg, "--service", "nobody"); strings.TrimSpace(out) != "no trace matches" {
		t.Errorf("no match: %q", out)
	}

	// the waterfall: the root, its children indented under it by start time, the failure said
	out = mustCLI(t, "", "traces", "show", strings.ToUpper(order), "-c", cfg)
	for _, re := range []string{
		`^trace ` + order + `  48ms  3 spans  started `,
		`(?m)^services: users$`,
		`(?m)^\+0ms\s+48ms  users POST /api/orders\s+\|█{40}\|$`,
		`(?m)^\+5\.0ms\s+4\.0ms    users INSERT shop\s+\| {4}█{3,4} +\|$`,
		`(?m)^\+10ms\s+20ms    ✗ users orders\.placed publish\s+\| +█+ +\|$`,
		`(?m)^\s+error: broker unreachable$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("traces show: no match for %s in:\n%s", re, out)
		}
	}
	if strings.Index(out, "INSERT shop") > strings.Index(out, "orders.placed publish") {
		t.Errorf("children not in start order:\n%s", out)
	}
	out = mustCLI(t, "", "traces", "show", order, "-c", cfg, "--details")
	for _, s := range []string{"db.statement=INSERT INTO orders VALUES ($1)", "kind producer instance users-0", "event +20ms exception", "exception.message=broker unreachable"} {
		if !strings.Contains(out, s) {
			t.Errorf("traces show --details lacks %q:\n%s", s, out)
		}
	}
	var spans []event.Span
	if err := json.Unmarshal([]byte(mustCLI(t, "", "traces", "show", order, "-c", cfg, "--json")), &spans); err != nil || len(spans) != 3 {
		t.Fatalf("traces show --json: %v, %d spans", err, len(spans))
	}

	// clear errors
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"traces", "show", strings.Repeat("ab", 16)}, "trace abababababababababababababababab is not kept by this stack"},
		{[]string{"traces", "show", "xyz"}, `trace id "xyz": want 32 hex digits`},
		{[]string{"traces", "--status", "failed"}, `--status "failed": want error or ok`},
	} {
		_, _, err := runCLI(t, "", append(tc.args, "-c", cfg)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("devstack %v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestTracesCommandWithoutTelemetry: a stack that keeps no traces, and no stack at all, are each said
// with what to do.
func TestTracesCommandWithoutTelemetry(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := runTestStack(t, dir, fmt.Sprintf("name: untraced\ncontrol: {port: %d}\nbroker: {enabled: false}\npostgres: {enabled: false}\ntelemetry: {enabled: false}\n", testkit.FreePort(t)))
	for _, args := range [][]string{{"traces"}, {"traces", "show", strings.Repeat("ab", 16)}} {
		_, _, err := runCLI(t, "", append(args, "-c", cfg)...)
		if err == nil || !strings.Contains(err.Error(), "runs no telemetry receiver") || !strings.Contains(err.Error(), "telemetry: {enabled: true}") {
			t.Errorf("devstack %v without telemetry: %v", args, err)
		}
	}
	none := filepath.Join(t.TempDir(), "devstack.yaml")
	if err := os.WriteFile(none, []byte("name: t\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCLI(t, "", "traces", "-c", none)
	if err == nil || !strings.Contains(err.Error(), "no devstack is running") || !strings.Contains(err.Error(), "devstack up") {
		t.Errorf("devstack traces without a stack: %v", err)
	}
}
