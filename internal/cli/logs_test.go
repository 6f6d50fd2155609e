package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/testkit"
)

// syncBuffer is a bytes.Buffer a command writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

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
	yaml := fmt.Sprintf("name: logstest\ncontrol: {port: %d}\nbroker: {enabled: false}\nservices:\n  app:\n    command: %s\n",
		testkit.FreePort(t), script)
	cfg, _ := runTestStack(t, dir, yaml)

	const tid, sid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
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
	var out syncBuffer
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
