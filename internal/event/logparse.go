package event

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/go-logfmt/logfmt"
)

// MaxStructuredLine is the longest line ParseStructured reads; a longer line stays plain text.
const MaxStructuredLine = 64 << 10

// maxFields bounds how many fields one structured line keeps (the rest are dropped).
const maxFields = 128

// Structured is what a JSON or logfmt log line says.
type Structured struct {
	Severity string            // error, warn, info, debug, trace, or "" when the line names no level
	Message  string            // the msg/message/event field ("" when there is none)
	TraceID  string            // 32 lower-case hex digits, or ""
	SpanID   string            // 16 lower-case hex digits, or ""
	Fields   map[string]string // every other field, nested JSON objects flattened to dotted keys
}

// The keys ParseStructured takes a line's level, message, trace id and span id from, in order of
// preference. JSON objects are flattened first, so {"log":{"level":"info"}} is "log.level".
var (
	levelKeys   = []string{"level", "lvl", "severity", "log.level", "levelname", "severity_text", "loglevel"}
	messageKeys = []string{"msg", "message", "event"}
	traceKeys   = []string{"trace_id", "traceId", "traceID", "trace.id", "otelTraceID"}
	spanKeys    = []string{"span_id", "spanId", "spanID", "span.id", "otelSpanID"}
)

// ParseStructured reads a log line that is a JSON object or logfmt (key=value pairs, as Go's slog
// text handler, logrus or structlog's logfmt renderer write them). ok is false for anything else: a
// plain line, broken JSON, a line longer than MaxStructuredLine, or key=value text that names neither
// a level nor a message ("user=alice logged in" is prose, not logfmt). It looks at the first byte
// before doing any work, so a plain line costs next to nothing.
func ParseStructured(text string) (s Structured, ok bool) {
	t := strings.TrimSpace(text)
	if len(t) < 2 || len(t) > MaxStructuredLine {
		return s, false
	}
	var flat map[string]string
	switch c := t[0]; {
	case c == '{':
		if t[len(t)-1] != '}' {
			return s, false
		}
		flat, ok = parseJSONLine(t)
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '@':
		// logfmt: the first token must be key=value before the decoder is worth running
		tok := t
		if i := strings.IndexAny(t, " \t"); i >= 0 {
			tok = t[:i]
		}
		if strings.IndexByte(tok, '=') <= 0 {
			return s, false
		}
		flat, ok = parseLogfmtLine(t)
		if ok && !hasAny(flat, levelKeys) && !hasAny(flat, messageKeys) {
			ok = false
		}
	}
	if !ok {
		return Structured{}, false
	}
	s.Severity = takeLevel(flat)
	if k, v, found := first(flat, messageKeys); found {
		s.Message = v
		delete(flat, k)
	}
	if k, v, found := first(flat, traceKeys); found {
		if id, ok := hexID(v, 32); ok {
			s.TraceID = id
			delete(flat, k)
		}
	}
	if k, v, found := first(flat, spanKeys); found {
		if id, ok := hexID(v, 16); ok {
			s.SpanID = id
			delete(flat, k)
		}
	}
	if tp, found := flat["traceparent"]; found {
		if tid, pid, _, ok := ParseTraceparent(strings.TrimSpace(tp)); ok {
			if s.TraceID == "" || s.TraceID == tid {
				s.TraceID = tid
				if s.SpanID == "" {
					s.SpanID = pid
				}
				delete(flat, "traceparent")
			}
		}
	}
	if len(flat) > 0 {
		s.Fields = flat
	}
	return s, true
}

func hasAny(m map[string]string, keys []string) bool {
	_, _, ok := first(m, keys)
	return ok
}

func first(m map[string]string, keys []string) (k, v string, ok bool) {
	for _, k := range keys {
		if v, ok := m[k]; ok {
			return k, v, true
		}
	}
	return "", "", false
}

// takeLevel removes the first level key whose value is a level it knows and returns that level.
func takeLevel(flat map[string]string) string {
	for _, k := range levelKeys {
		v, ok := flat[k]
		if !ok {
			continue
		}
		if lvl := NormalizeLevel(v); lvl != "" {
			delete(flat, k)
			return lvl
		}
	}
	return ""
}

// NormalizeLevel maps a level as loggers write it to error, warn, info, debug or trace ("" when it is
// none of them): names in any case and their usual abbreviations (fatal, critical, panic → error;
// notice → info), slog's offsets ("INFO+2", "DEBUG-4"), and pino's numbers (10 trace … 50 error, 60
// fatal).
func NormalizeLevel(v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	if n, err := strconv.Atoi(v); err == nil {
		switch {
		case n <= 0:
			return ""
		case n <= 10:
			return "trace"
		case n <= 20:
			return "debug"
		case n <= 30:
			return "info"
		case n <= 40:
			return "warn"
		default:
			return "error"
		}
	}
	if i := strings.IndexAny(v, "+-"); i > 0 {
		v = v[:i] // slog: INFO+2
	}
	switch strings.ToLower(v) {
	case "trace", "trc", "finest", "finer":
		return "trace"
	case "debug", "dbg", "d", "verbose", "fine":
		return "debug"
	case "info", "inf", "i", "information", "informational", "notice", "log":
		return "info"
	case "warn", "warning", "wrn", "w":
		return "warn"
	case "error", "err", "e", "eror", "fatal", "crit", "critical", "panic", "dpanic", "alert",
		"emerg", "emergency", "severe", "exception":
		return "error"
	}
	return ""
}

// hexID lower-cases v and returns it when it is n hex digits and not all zeros.
func hexID(v string, n int) (string, bool) {
	if len(v) != n {
		return "", false
	}
	v = strings.ToLower(v)
	if !lowerHex(v) || allZero(v) {
		return "", false
	}
	return v, true
}

// parseJSONLine decodes one JSON object and flattens it: nested objects become dotted keys, arrays
// stay JSON text, numbers keep their digits. Anything after the object makes it not JSON.
func parseJSONLine(t string) (map[string]string, bool) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(t), &obj); err != nil || len(obj) == 0 {
		return nil, false
	}
	flat := make(map[string]string, len(obj))
	flatten(flat, "", obj)
	return flat, true
}

func flatten(dst map[string]string, prefix string, obj map[string]json.RawMessage) {
	for k, raw := range obj {
		if len(dst) >= maxFields {
			return
		}
		if prefix != "" {
			k = prefix + "." + k
		}
		switch raw[0] {
		case '"':
			var v string
			if json.Unmarshal(raw, &v) == nil {
				dst[k] = v
			}
		case '{':
			var sub map[string]json.RawMessage
			if json.Unmarshal(raw, &sub) != nil {
				continue
			}
			if len(sub) == 0 {
				dst[k] = "{}"
				continue
			}
			flatten(dst, k, sub)
		case '[':
			var b bytes.Buffer
			if json.Compact(&b, raw) == nil {
				dst[k] = b.String()
			}
		default: // a number, true, false or null, as written
			dst[k] = string(raw)
		}
	}
}

// parseLogfmtLine reads one logfmt record; every key must have a value (a bare word is prose).
func parseLogfmtLine(t string) (map[string]string, bool) {
	dec := logfmt.NewDecoderSize(strings.NewReader(t), len(t)+1)
	flat := map[string]string{}
	records := 0
	for dec.ScanRecord() {
		records++
		if records > 1 {
			return nil, false
		}
		for dec.ScanKeyval() {
			// the decoder gives a nil value for "k", "k=" and k="": only the first is a bare word
			if dec.Value() == nil && !strings.Contains(t, string(dec.Key())+"=") {
				return nil, false
			}
			if len(flat) < maxFields {
				flat[string(dec.Key())] = string(dec.Value())
			}
		}
	}
	if dec.Err() != nil || len(flat) == 0 {
		return nil, false
	}
	return flat, true
}
