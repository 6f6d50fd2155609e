package event

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

const (
	tid = "4bf92f3577b34da6a3ce929d0e0e4736"
	sid = "00f067aa0ba902b7"
)

func TestParseStructured(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Structured
		ok   bool
	}{
		{"pino", `{"level":30,"time":1764766800000,"pid":4242,"hostname":"box","msg":"order created","orderId":7}`,
			Structured{Severity: "info", Message: "order created",
				Fields: map[string]string{"time": "1764766800000", "pid": "4242", "hostname": "box", "orderId": "7"}}, true},
		{"pino error with an err object", `{"level":50,"err":{"type":"Error","message":"boom"},"msg":"boom","trace_id":"` + strings.ToUpper(tid) + `"}`,
			Structured{Severity: "error", Message: "boom", TraceID: tid,
				Fields: map[string]string{"err.type": "Error", "err.message": "boom"}}, true},
		{"pino fatal", `{"level":60,"msg":"down"}`, Structured{Severity: "error", Message: "down"}, true},
		{"pino trace", `{"level":10,"msg":"t"}`, Structured{Severity: "trace", Message: "t"}, true},
		{"structlog JSON", `{"event": "order scored", "level": "info", "timestamp": "2026-12-03T13:00:00Z", "order_id": 7, "score": 0.93}`,
			Structured{Severity: "info", Message: "order scored",
				Fields: map[string]string{"timestamp": "2026-12-03T13:00:00Z", "order_id": "7", "score": "0.93"}}, true},
		{"structlog logfmt", `event="order scored" level=warning order_id=7`,
			Structured{Severity: "warn", Message: "order scored", Fields: map[string]string{"order_id": "7"}}, true},
		{"python json logger with OpenTelemetry's logging fields", `{"asctime": "2026-12-03 13:00:00,123", "levelname": "WARNING", "name": "analytics", "message": "slow query", "otelTraceID": "` + tid + `", "otelSpanID": "` + sid + `", "otelServiceName": "analytics"}`,
			Structured{Severity: "warn", Message: "slow query", TraceID: tid, SpanID: sid,
				Fields: map[string]string{"asctime": "2026-12-03 13:00:00,123", "name": "analytics", "otelServiceName": "analytics"}}, true},
		{"Go slog JSON handler", `{"time":"2026-12-03T13:00:00.123456789Z","level":"ERROR","msg":"fetch failed","err":"EOF","partition":3,"ok":false,"tags":["a","b"],"x":null}`,
			Structured{Severity: "error", Message: "fetch failed",
				Fields: map[string]string{"time": "2026-12-03T13:00:00.123456789Z", "err": "EOF", "partition": "3", "ok": "false", "tags": `["a","b"]`, "x": "null"}}, true},
		{"Go slog custom level", `{"level":"INFO+2","msg":"m"}`, Structured{Severity: "info", Message: "m"}, true},
		{"Go slog text handler", `time=2026-12-03T13:00:00.123Z level=WARN msg="lag high" group=scorer lag=12 trace_id=` + tid + ` span_id=` + sid,
			Structured{Severity: "warn", Message: "lag high", TraceID: tid, SpanID: sid,
				Fields: map[string]string{"time": "2026-12-03T13:00:00.123Z", "group": "scorer", "lag": "12"}}, true},
		{"logrus text with an empty value", `time="2026-12-03T13:00:00Z" level=info msg=started port=3000 user=`,
			Structured{Severity: "info", Message: "started",
				Fields: map[string]string{"time": "2026-12-03T13:00:00Z", "port": "3000", "user": ""}}, true},
		{"ECS dotted keys", `{"@timestamp":"2026-12-03T13:00:00Z","log.level":"debug","message":"hi","trace.id":"` + tid + `","span.id":"` + sid + `"}`,
			Structured{Severity: "debug", Message: "hi", TraceID: tid, SpanID: sid,
				Fields: map[string]string{"@timestamp": "2026-12-03T13:00:00Z"}}, true},
		{"ECS nested objects", `{"log":{"level":"warn","logger":"orders"},"message":"x","trace":{"id":"` + tid + `"}}`,
			Structured{Severity: "warn", Message: "x", TraceID: tid, Fields: map[string]string{"log.logger": "orders"}}, true},
		{"traceparent", `{"msg":"x","traceparent":"00-` + tid + `-` + sid + `-01"}`,
			Structured{Message: "x", TraceID: tid, SpanID: sid}, true},
		{"bad traceparent stays a field", `{"msg":"x","traceparent":"00-zz"}`,
			Structured{Message: "x", Fields: map[string]string{"traceparent": "00-zz"}}, true},
		{"trace id of the wrong length stays a field", `{"msg":"x","trace_id":"abc"}`,
			Structured{Message: "x", Fields: map[string]string{"trace_id": "abc"}}, true},
		{"unknown level stays a field", `{"level":"chatty","msg":"x"}`,
			Structured{Message: "x", Fields: map[string]string{"level": "chatty"}}, true},
		{"no message", `{"level":"info","k":"v"}`, Structured{Severity: "info", Fields: map[string]string{"k": "v"}}, true},
		{"leading spaces", "  {\"msg\":\"x\"}\r", Structured{Message: "x"}, true},

		{"plain text", "Listening on port 3000", Structured{}, false},
		{"plain text with a level word", "ERROR something broke", Structured{}, false},
		{"prose with key=value", "user=alice logged in", Structured{}, false},
		{"key=value without level or message", "a=b c=d", Structured{}, false},
		{"broken JSON", `{"level":"info","msg":"x"`, Structured{}, false},
		{"broken JSON that ends in a brace", `{"level":"info" "msg":"x"}`, Structured{}, false},
		{"two objects", `{"msg":"a"} {"msg":"b"}`, Structured{}, false},
		{"an array", `[1,2]`, Structured{}, false},
		{"empty object", `{}`, Structured{}, false},
		{"unterminated logfmt quote", `level=info msg="x`, Structured{}, false},
		{"too long", `{"msg":"` + strings.Repeat("x", MaxStructuredLine) + `"}`, Structured{}, false},
		{"empty", "", Structured{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseStructured(tt.line)
			if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseStructured(%q)\n = %+v, %v\nwant %+v, %v", tt.line, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestLogsAppendParsesServiceOutput(t *testing.T) {
	tests := []struct {
		name string
		in   LogLine
		want LogLine // Seq and Time are not compared
	}{
		{"JSON on stdout", LogLine{Source: "orders", Stream: "stdout", Text: `{"level":"warn","msg":"slow","trace_id":"` + tid + `","ms":"812"}`},
			LogLine{Source: "orders", Stream: "stdout", Text: "slow", Severity: "warn", TraceID: tid, Fields: map[string]string{"ms": "812"}}},
		{"logfmt on stderr", LogLine{Source: "scorer", Stream: "stderr", Text: `level=error msg="no broker"`},
			LogLine{Source: "scorer", Stream: "stderr", Text: "no broker", Severity: "error"}},
		{"plain", LogLine{Source: "orders", Stream: "stdout", Text: "Listening on 3000"},
			LogLine{Source: "orders", Stream: "stdout", Text: "Listening on 3000"}},
		{"build output is left alone", LogLine{Source: "orders", Stream: "build", Text: `{"msg":"x"}`},
			LogLine{Source: "orders", Stream: "build", Text: `{"msg":"x"}`}},
		{"devstack's own lines are left alone", LogLine{Source: "devstack", Stream: "system", Text: `level=info msg=x`},
			LogLine{Source: "devstack", Stream: "system", Text: `level=info msg=x`}},
		{"an OTLP record keeps what it came with", LogLine{Source: "orders", Stream: "otlp", Text: `{"msg":"body"}`, Severity: "info", Fields: map[string]string{"a": "b"}},
			LogLine{Source: "orders", Stream: "otlp", Text: `{"msg":"body"}`, Severity: "info", Fields: map[string]string{"a": "b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLogs(16)
			l.Append(tt.in)
			got := l.Tail(1, nil)[0]
			got.Seq, got.Time = 0, tt.want.Time
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("stored %+v\nwant   %+v", got, tt.want)
			}
		})
	}
}

func TestLevelUsesSeverity(t *testing.T) {
	for sev, want := range map[string]string{"warn": "warn", "trace": "debug", "info": "info"} {
		// the text says error; the severity the line carried wins
		if got := (LogLine{Text: "error count=0", Severity: sev}).Level(); got != want {
			t.Errorf("Level() with severity %q = %q, want %q", sev, got, want)
		}
	}
}

func FuzzParseStructured(f *testing.F) {
	for _, s := range []string{
		`{"level":30,"msg":"x","a":{"b":[1,{"c":null}]}}`, `time=1 level=info msg="a \"b\"" k=v`,
		`{"traceparent":"00-` + tid + `-` + sid + `-01","msg":"x"}`, `{`, `a=b`, `level=`, "plain", `{"log":{"level":"warn"}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		s, ok := ParseStructured(line)
		if !ok {
			if !reflect.DeepEqual(s, Structured{}) {
				t.Fatalf("not structured but returned %+v", s)
			}
			return
		}
		switch s.Severity {
		case "", "error", "warn", "info", "debug", "trace":
		default:
			t.Fatalf("severity %q", s.Severity)
		}
		if s.TraceID != "" && (len(s.TraceID) != 32 || !lowerHex(s.TraceID)) {
			t.Fatalf("trace id %q", s.TraceID)
		}
		if s.SpanID != "" && (len(s.SpanID) != 16 || !lowerHex(s.SpanID)) {
			t.Fatalf("span id %q", s.SpanID)
		}
		if len(s.Fields) > maxFields {
			t.Fatalf("%d fields", len(s.Fields))
		}
		if utf8.ValidString(line) && !utf8.ValidString(s.Message) {
			t.Fatalf("message %q from valid UTF-8", s.Message)
		}
	})
}

// BenchmarkParseStructured: what a line costs where it enters the log ring.
func BenchmarkParseStructured(b *testing.B) {
	for _, bc := range []struct{ name, line string }{
		{"plain", "[Nest] 4242  - 12/03/2026, 1:00:00 PM     LOG [OrdersService] order 1042 placed by u-7 (3 items)"},
		{"pino", `{"level":30,"time":1764766800000,"pid":4242,"hostname":"box","msg":"order created","orderId":7,"trace_id":"` + tid + `"}`},
		{"slog_text", `time=2026-12-03T13:00:00.123Z level=WARN msg="lag high" group=scorer lag=12 trace_id=` + tid},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ParseStructured(bc.line)
			}
		})
	}
}

// TestParseSlogOutput parses what Go's log/slog handlers really write.
func TestParseSlogOutput(t *testing.T) {
	for _, name := range []string{"json", "text"} {
		t.Run(name, func(t *testing.T) {
			var b strings.Builder
			var h slog.Handler
			if name == "json" {
				h = slog.NewJSONHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})
			} else {
				h = slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})
			}
			log := slog.New(h)
			log.Warn("lag is high", "group", "scorer", "lag", 12, slog.Group("http", "status", 201), "trace_id", tid, "span_id", sid)
			log.Log(context.Background(), slog.LevelInfo+2, "custom level", "note", `two "words"`)
			log.Debug("details")
			lines := strings.Split(strings.TrimSpace(b.String()), "\n")
			want := []Structured{
				{Severity: "warn", Message: "lag is high", TraceID: tid, SpanID: sid, Fields: map[string]string{"group": "scorer", "lag": "12", "http.status": "201"}},
				{Severity: "info", Message: "custom level", Fields: map[string]string{"note": `two "words"`}},
				{Severity: "debug", Message: "details", Fields: map[string]string{}},
			}
			for i, line := range lines {
				got, ok := ParseStructured(line)
				if !ok {
					t.Fatalf("slog's %s line not parsed: %s", name, line)
				}
				if _, ok := got.Fields["time"]; !ok {
					t.Errorf("no time field in %+v", got)
				}
				delete(got.Fields, "time")
				if len(got.Fields) == 0 {
					got.Fields = map[string]string{}
				}
				if !reflect.DeepEqual(got, want[i]) {
					t.Errorf("%s\n = %+v\nwant %+v", line, got, want[i])
				}
			}
		})
	}
}
