package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sendLog is a service with no OpenTelemetry library: it prints a pino line, a Go slog text line and a
// plain line, then sends one OTLP/JSON log record to what OTEL_EXPORTER_OTLP_ENDPOINT says (with the
// resource OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES describe) and prints "sent <status>".
const sendLog = `import json, os, time, urllib.request
print(json.dumps({"level": 40, "time": 1764766800000, "msg": "slow order", "orderId": 7, "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}), flush=True)
print('time=2026-12-03T13:00:00.123Z level=ERROR msg="payment failed" order=7', flush=True)
print("listening", flush=True)
attrs = [{"key": "service.name", "value": {"stringValue": os.environ["OTEL_SERVICE_NAME"]}}]
for kv in filter(None, os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(",")):
    k, v = kv.split("=", 1)
    attrs.append({"key": k, "value": {"stringValue": v}})
body = {"resourceLogs": [{"resource": {"attributes": attrs}, "scopeLogs": [{"logRecords": [{
    "timeUnixNano": str(time.time_ns()), "severityNumber": 9, "body": {"stringValue": "from otlp"},
    "traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00f067aa0ba902b7",
    "attributes": [{"key": "order.id", "value": {"intValue": "7"}}]}]}]}]}
req = urllib.request.Request(os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] + "/v1/logs", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
with urllib.request.urlopen(req) as r:
    print("sent", r.status, flush=True)
`

// `devstack up` shows a service's JSON and logfmt lines as level, message and fields, and
// `devstack logs --json` writes them, its plain lines and its OTLP log records as ECS documents; once
// the stack is gone, `logs --json` reads .devstack/logs.
func TestLogsJSONFromUp(t *testing.T) {
	dir, _ := stackDir(t, `name: logs
control: {port: ${CONTROL_PORT}}
broker: {enabled: false}
postgres: {enabled: false}
telemetry: {http_port: ${TELEMETRY_PORT}, grpc_port: -1}
services:
  web:
    command: python3 -u send_log.py; exec sleep 1000
    settle: 0s
`)
	if err := os.WriteFile(filepath.Join(dir, "send_log.py"), []byte(sendLog), 0o644); err != nil {
		t.Fatal(err)
	}
	u := startUp(t, dir)
	u.waitFor(t, "sent 200", time.Minute)
	u.waitFor(t, "WARN  slow order orderId=7 time=1764766800000 trace_id=4bf92f3577b34da6a3ce929d0e0e4736", 10*time.Second)
	u.waitFor(t, "ERROR payment failed order=7 time=2026-12-03T13:00:00.123Z", 10*time.Second)

	type doc struct {
		Level   string            `json:"log.level"`
		Message string            `json:"message"`
		ECS     string            `json:"ecs.version"`
		Service string            `json:"service.name"`
		Node    string            `json:"service.node.name"`
		TraceID string            `json:"trace.id"`
		SpanID  string            `json:"span.id"`
		Labels  map[string]string `json:"labels"`
		Stream  string            `json:"devstack.stream"`
	}
	read := func(out string) map[string]doc {
		t.Helper()
		docs := map[string]doc{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var d doc
			if err := json.Unmarshal([]byte(line), &d); err != nil {
				t.Fatalf("not NDJSON: %q: %v", line, err)
			}
			if d.ECS == "" || d.Service != "web" {
				t.Errorf("not an ECS document of web: %s", line)
			}
			docs[d.Message] = d
		}
		return docs
	}
	var docs map[string]doc
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, code := run(t, dir, "logs", "web", "--json")
		if code != 0 {
			t.Fatalf("devstack logs web --json: exit %d\n%s", code, out)
		}
		if docs = read(out); docs["from otlp"].Stream != "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	const tid = "4bf92f3577b34da6a3ce929d0e0e4736"
	checks := map[string]doc{
		"slow order":     {Level: "warn", Node: "web.0", TraceID: tid, Stream: "stdout", Labels: map[string]string{"orderId": "7", "time": "1764766800000"}},
		"payment failed": {Level: "error", Node: "web.0", Stream: "stdout", Labels: map[string]string{"order": "7", "time": "2026-12-03T13:00:00.123Z"}},
		"listening":      {Node: "web.0", Stream: "stdout"},
		"from otlp":      {Level: "info", Node: "web.0", TraceID: tid, SpanID: "00f067aa0ba902b7", Stream: "otlp", Labels: map[string]string{"order_id": "7"}},
	}
	for msg, want := range checks {
		got, ok := docs[msg]
		if !ok {
			t.Errorf("no document with message %q in %v", msg, docs)
			continue
		}
		want.Message, want.ECS, want.Service = msg, got.ECS, "web"
		if !equalDoc(got.Labels, want.Labels) || got.Level != want.Level || got.Node != want.Node || got.TraceID != want.TraceID ||
			got.SpanID != want.SpanID || got.Stream != want.Stream {
			t.Errorf("%q:\n got %+v\nwant %+v", msg, got, want)
		}
	}

	// without the stack: the service's own lines from .devstack/logs/web.log
	if !stopUp(t, u) {
		t.FailNow()
	}
	out, code := run(t, dir, "logs", "web", "--json")
	if code != 0 {
		t.Fatalf("devstack logs web --json without a stack: exit %d\n%s", code, out)
	}
	if d := read(out)["slow order"]; d.Level != "warn" || d.TraceID != tid || d.Labels["orderId"] != "7" {
		t.Errorf("slow order from the log file: %+v\n%s", d, out)
	}
}

func equalDoc(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
