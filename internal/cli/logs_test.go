package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/testkit"
)

// ecsDocs decodes NDJSON, dropping each document's @timestamp and devstack.seq (checked to be there).
func ecsDocs(t *testing.T, out string) []map[string]any {
	t.Helper()
	var docs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var d map[string]any
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		ts, _ := d["@timestamp"].(string)
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Errorf("@timestamp %q: %v", ts, err)
		}
		if _, ok := d["devstack.seq"].(float64); !ok {
			t.Errorf("no devstack.seq in %s", sc.Text())
		}
		delete(d, "@timestamp")
		delete(d, "devstack.seq")
		docs = append(docs, d)
	}
	return docs
}

func TestLogsJSONIsECS(t *testing.T) {
	script, err := filepath.Abs("testdata/logs/app.sh")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const tid, sid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	telemetryAddr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	yaml := fmt.Sprintf("name: logstest\ncontrol: {port: %d}\nbroker: {enabled: false}\ntelemetry: {http_port: %s, grpc_port: -1}\n"+
		"services:\n  app:\n    command: %s\n", testkit.FreePort(t), strings.TrimPrefix(telemetryAddr, "127.0.0.1:"), script)
	cfg, _ := runTestStack(t, dir, yaml)

	base := func(level, msg, stream string) map[string]any {
		d := map[string]any{"message": msg, "ecs.version": ecsVersion, "service.name": "app", "service.node.name": "app.0",
			"event.dataset": "app.log", "devstack.stream": stream}
		if level != "" {
			d["log.level"] = level
		}
		return d
	}
	want := []map[string]any{
		base("warn", "slow order", "stdout"),
		base("error", "payment failed", "stderr"),
		base("", "listening on 3000", "stdout"),
		base("info", "order created", "stdout"),
	}
	want[0]["trace.id"] = tid
	want[0]["labels"] = map[string]any{"time": "1764766800000", "pid": "4242", "orderId": "7"}
	want[1]["span.id"] = sid
	want[1]["labels"] = map[string]any{"time": "2026-12-03T13:00:00.123Z", "order": "7"}
	want[3]["trace.id"], want[3]["span.id"], want[3]["log.logger"] = tid, sid, "shop.orders"
	want[3]["labels"] = map[string]any{"asctime": "2026-12-03 13:00:00,123", "http_status": "201"}

	// an OTLP log record the service sends (OTLP/HTTP JSON, as an SDK's exporter does) is a line like the others
	otlp := fmt.Sprintf(`{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"app"}},
		{"key":"devstack.replica","value":{"intValue":"1"}}]},"scopeLogs":[{"scope":{"name":"shop"},"logRecords":[{
		"timeUnixNano":"%d","severityNumber":13,"severityText":"WARN","body":{"stringValue":"otlp record"},
		"traceId":"%s","spanId":"%s","attributes":[{"key":"order.id","value":{"intValue":"7"}},{"key":"logger","value":{"stringValue":"OrdersService"}}]}]}]}]}`,
		time.Now().UnixNano(), tid, sid)
	resp, err := http.Post("http://"+telemetryAddr+"/v1/logs", "application/json", strings.NewReader(otlp))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("OTLP logs export: %s %s", resp.Status, body)
	}
	otlpDoc := base("warn", "otlp record", "otlp")
	otlpDoc["service.node.name"], otlpDoc["trace.id"], otlpDoc["span.id"], otlpDoc["log.logger"] = "app.1", tid, sid, "OrdersService"
	otlpDoc["labels"] = map[string]any{"order_id": "7"}
	want = append(want, otlpDoc)

	// the service's lines are there once the stack is ready, but give its output a moment
	var docs []map[string]any
	deadline := time.Now().Add(20 * time.Second)
	for {
		docs = ecsDocs(t, mustCLI(t, "", "logs", "app", "--json", "--file", cfg))
		var svc []map[string]any
		for _, d := range docs {
			if d["devstack.stream"] != "system" {
				svc = append(svc, d)
			}
		}
		if len(svc) >= len(want) || time.Now().After(deadline) {
			docs = svc
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// stdout and stderr are read apart: lines of the two keep no order between them
	byMessage := func(d []map[string]any) {
		sort.Slice(d, func(i, j int) bool { return d[i]["message"].(string) < d[j]["message"].(string) })
	}
	byMessage(docs)
	byMessage(want)
	if !reflect.DeepEqual(docs, want) {
		g, _ := json.MarshalIndent(docs, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Fatalf("logs --json:\n%s\nwant:\n%s", g, w)
	}

	// the text output shows level, message and fields
	text := mustCLI(t, "", "logs", "app", "--file", cfg)
	for _, s := range []string{"WARN  slow order orderId=7 pid=4242 time=1764766800000 trace_id=" + tid,
		"ERROR payment failed order=7 time=2026-12-03T13:00:00.123Z span_id=" + sid, "| listening on 3000"} {
		if !strings.Contains(text, s) {
			t.Errorf("logs without --json lacks %q:\n%s", s, text)
		}
	}

	// --follow --json: the backlog, then a line the service writes later
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out testkit.SyncBuffer
	app := &App{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out}
	root := newRoot(app)
	root.SetArgs([]string{"logs", "app", "--json", "--follow", "--file", cfg})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	for !strings.Contains(out.String(), "order created") && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	if err := os.WriteFile(filepath.Join(dir, "late"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(out.String(), `"message":"late"`) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("logs --follow: %v\n%s", err, out.String())
	}
	docs = ecsDocs(t, out.String())
	late := base("debug", "late", "stdout")
	if last := docs[len(docs)-1]; !reflect.DeepEqual(last, late) {
		t.Fatalf("logs --follow --json, last line = %v, want %v", last, late)
	}
}

func TestToECS(t *testing.T) {
	at := time.Date(2026, 12, 3, 13, 0, 0, 123e6, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		in   event.LogLine
		want string
	}{
		{"an OTLP log record", event.LogLine{Seq: 9, Time: at, Source: "orders", Replica: 1, Stream: "otlp", Text: "order created",
			Severity: "info", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
			Fields: map[string]string{"code.function": "create", "logger": "OrdersService"}},
			`{"@timestamp":"2026-12-03T12:00:00.123Z","log.level":"info","message":"order created","ecs.version":"` + ecsVersion +
				`","service.name":"orders","service.node.name":"orders.1","event.dataset":"orders.log","log.logger":"OrdersService",` +
				`"trace.id":"4bf92f3577b34da6a3ce929d0e0e4736","span.id":"00f067aa0ba902b7","labels":{"code_function":"create"},` +
				`"devstack.stream":"otlp","devstack.seq":9}`},
		{"a structured line without a message", event.LogLine{Seq: 5, Time: at, Source: "orders", Stream: "stdout", Severity: "info",
			Fields: map[string]string{"order": "7", "note": "two words"}},
			`{"@timestamp":"2026-12-03T12:00:00.123Z","log.level":"info","message":"note=\"two words\" order=7","ecs.version":"` + ecsVersion +
				`","service.name":"orders","service.node.name":"orders.0","event.dataset":"orders.log","labels":{"note":"two words","order":"7"},"devstack.stream":"stdout","devstack.seq":5}`},
		{"a gateway access line", event.LogLine{Seq: 3, Time: at, Source: "gateway", Stream: "access", Text: "GET /api/orders 200 1ms 2B"},
			`{"@timestamp":"2026-12-03T12:00:00.123Z","message":"GET /api/orders 200 1ms 2B","ecs.version":"` + ecsVersion +
				`","service.name":"gateway","event.dataset":"gateway.log","devstack.stream":"access","devstack.seq":3}`},
		{"a plain line whose text names its level", event.LogLine{Seq: 4, Time: at, Source: "orders", Stream: "stderr", Text: "Error: <boom> & co"},
			`{"@timestamp":"2026-12-03T12:00:00.123Z","log.level":"error","message":"Error: <boom> & co","ecs.version":"` + ecsVersion +
				`","service.name":"orders","service.node.name":"orders.0","event.dataset":"orders.log","devstack.stream":"stderr","devstack.seq":4}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := newECSWriter(&b).write(tt.in); err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(b.String()); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestParseLogFileLine(t *testing.T) {
	l, ok := parseLogFileLine("orders", `2026-12-03T13:00:00.123Z stderr r2 | {"level":"warn","msg":"x | y"}`)
	want := event.LogLine{Time: time.Date(2026, 12, 3, 13, 0, 0, 123e6, time.UTC), Source: "orders", Replica: 2, Stream: "stderr", Text: `{"level":"warn","msg":"x | y"}`}
	if !ok || !l.Time.Equal(want.Time) || l.Source != want.Source || l.Replica != 2 || l.Stream != "stderr" || l.Text != want.Text {
		t.Fatalf("parseLogFileLine = %+v, %v", l, ok)
	}
	for _, bad := range []string{"", "no separator", "yesterday stdout r0 | x", "2026-12-03T13:00:00.123Z stdout 0 | x"} {
		if _, ok := parseLogFileLine("orders", bad); ok {
			t.Errorf("parseLogFileLine(%q) ok", bad)
		}
	}
}

func TestLogsJSONFromLogFile(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	dir := t.TempDir()
	cfg := filepath.Join(dir, "devstack.yaml")
	if err := os.WriteFile(cfg, []byte("name: t\nservices:\n  orders:\n    command: sleep 1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := filepath.Join(dir, ".devstack", "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	file := "2026-12-03T13:00:00.123Z stdout r0 | level=warn msg=slow ms=812\n" +
		"2026-12-03T13:00:00.124Z system r0 | devstack: log rotation deleted 3 lines\n"
	if err := os.WriteFile(filepath.Join(logs, "orders.log"), []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustCLI(t, "", "logs", "orders", "--json", "--file", cfg)
	want := `{"@timestamp":"2026-12-03T13:00:00.123Z","log.level":"warn","message":"slow","ecs.version":"` + ecsVersion +
		`","service.name":"orders","service.node.name":"orders.0","event.dataset":"orders.log","labels":{"ms":"812"},"devstack.stream":"stdout"}`
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || lines[0] != want {
		t.Fatalf("logs --json from the log file:\n%s\nwant first line:\n%s", out, want)
	}
}
