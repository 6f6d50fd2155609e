package cli_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
)

// sendSpan is a client with no OpenTelemetry library at all: it sends one span as OTLP/JSON (hex ids,
// as the OTLP spec has them) to what OTEL_EXPORTER_OTLP_ENDPOINT says, named by its argument, with the
// resource OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES describe, and prints "sent <trace id> <status>".
const sendSpan = `import json, os, sys, time, urllib.request, secrets
ep = os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"]
attrs = [{"key": "service.name", "value": {"stringValue": os.environ["OTEL_SERVICE_NAME"]}}]
for kv in filter(None, os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(",")):
    k, v = kv.split("=", 1)
    attrs.append({"key": k, "value": {"stringValue": v}})
tid, now = secrets.token_hex(16), time.time_ns()
body = {"resourceSpans": [{"resource": {"attributes": attrs}, "scopeSpans": [{"spans": [{
    "traceId": tid, "spanId": secrets.token_hex(8), "name": sys.argv[1], "kind": 2,
    "startTimeUnixNano": str(now - 5000000), "endTimeUnixNano": str(now)}]}]}]}
req = urllib.request.Request(ep + "/v1/traces", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
with urllib.request.urlopen(req) as r:
    print("sent", tid, r.status, os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL"), flush=True)
`

const telemetryYAML = `name: otel
control: {port: ${CONTROL_PORT}}
broker: {enabled: false}
postgres: {enabled: false}
telemetry: {http_port: ${TELEMETRY_PORT}, grpc_port: ${OTLP_GRPC_PORT}}
services:
  web:
    command: python3 -u send_span.py checkout; exec sleep 1000
    settle: 0s
tests:
  - name: otel
    command: python3 -u send_span.py from-the-test
`

var sentRe = regexp.MustCompile(`sent ([0-9a-f]{32}) 200 http/protobuf`)

// `devstack up` runs the OTLP receiver: the ready line names it, status lists it, a service's span (sent
// with nothing but the OTEL_* variables devstack gave it) is a trace the control API returns, and after
// a restart the trace is still there (.devstack/traces).
func TestUpKeepsTraces(t *testing.T) {
	dir, ports := stackDir(t, telemetryYAML)
	if err := os.WriteFile(filepath.Join(dir, "send_span.py"), []byte(sendSpan), 0o644); err != nil {
		t.Fatal(err)
	}
	otlp := fmt.Sprintf("127.0.0.1:%d", ports["TELEMETRY_PORT"])
	u := startUp(t, dir)
	u.waitFor(t, "otlp http://"+otlp, time.Minute)
	u.waitFor(t, "sent ", 30*time.Second)
	m := sentRe.FindStringSubmatch(u.output())
	if m == nil {
		t.Fatalf("the service did not send its span:\n%s", u.output())
	}
	traceID := m[1]

	st := status(t, dir)
	found := false
	for _, c := range st.Components {
		if c.Name == "telemetry" && c.Status == "ready" && c.Addr == otlp {
			found = true
		}
	}
	if !found {
		t.Errorf("status lists no ready telemetry component on %s: %+v", otlp, st.Components)
	}

	check := func(when string) {
		t.Helper()
		cl, err := control.Dial(filepath.Join(dir, ".devstack"))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var sums []event.TraceSummary
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if sums, err = cl.Traces(ctx, event.TraceQuery{Service: "web"}); err == nil && len(sums) > 0 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil || len(sums) != 1 || sums[0].TraceID != traceID || sums[0].RootName != "checkout" {
			t.Fatalf("%s: traces of web %+v, %v; want the one the service sent, %s", when, sums, err, traceID)
		}
		spans, err := cl.Trace(ctx, traceID)
		if err != nil || len(spans) != 1 || spans[0].Instance != "web-0" || spans[0].Kind != "server" || spans[0].Duration() != 5*time.Millisecond {
			t.Errorf("%s: the trace's spans %+v, %v", when, spans, err)
		}
	}
	check("while up runs")

	stopUp(t, u)
	// the service sends a second span when it starts again: the first one must still be there, from disk
	u = startUp(t, dir)
	u.waitFor(t, "all ready", time.Minute)
	u.waitFor(t, "sent ", 30*time.Second)
	cl, err := control.Dial(filepath.Join(dir, ".devstack"))
	if err != nil {
		t.Fatal(err)
	}
	if spans, err := cl.Trace(context.Background(), traceID); err != nil || len(spans) != 1 {
		t.Errorf("after a restart, the first run's trace: %+v, %v", spans, err)
	}
	stopUp(t, u)
}

// `devstack test` gives a test command the OTEL_* variables of its own (isolated) receiver: the test's
// span is accepted, as service "test".
func TestTestCommandGetsOTel(t *testing.T) {
	dir, _ := stackDir(t, telemetryYAML)
	if err := os.WriteFile(filepath.Join(dir, "send_span.py"), []byte(sendSpan), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1") // the shell's; the test must get the stack's
	out, code := run(t, dir, "test")
	if code != 0 || !sentRe.MatchString(out) || !strings.Contains(out, "1 passed") {
		t.Errorf("devstack test: exit %d; want the test's span accepted (sent ... 200):\n%s", code, out)
	}
}
