package event

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// LogLine is one line of output from a service instance, the gateway or devstack itself.
type LogLine struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Source  string    `json:"source"`            // service name, or "devstack", "gateway", "broker", "postgres"
	Replica int       `json:"replica,omitempty"` // 0-based replica index for services
	Stream  string    `json:"stream,omitempty"`  // stdout, stderr, build, setup, access, system
	Text    string    `json:"text"`
	// Severity, TraceID, SpanID and Fields are set for a line that was JSON or logfmt, or that came as an
	// OTLP log record: its level (error, warn, info, debug, trace), trace context and other fields.
	Severity string            `json:"severity,omitempty"`
	TraceID  string            `json:"trace_id,omitempty"`
	SpanID   string            `json:"span_id,omitempty"`
	Fields   map[string]string `json:"fields,omitempty"`
}

// Level is a log line's level: error, warn, info, debug, or "". A line that carried its severity
// (JSON, logfmt, OTLP) has that one (trace counts as debug); for others it is guessed from the text.
func (l LogLine) Level() string {
	switch l.Severity {
	case "":
	case "trace":
		return "debug"
	default:
		return l.Severity
	}
	t := l.Text
	if len(t) > 200 {
		t = t[:200]
	}
	t = strings.ToLower(t)
	switch {
	case strings.Contains(t, "error") || strings.Contains(t, "panic") || strings.Contains(t, "fatal") ||
		strings.Contains(t, "traceback") || strings.Contains(t, "exception"):
		return "error"
	case strings.Contains(t, "warn"):
		return "warn"
	case strings.Contains(t, "debug"):
		return "debug"
	case strings.Contains(t, "info"):
		return "info"
	}
	return ""
}

// Logs is a bounded ring buffer of log lines with live subscribers. It is a stream separate from
// the state Bus so a chatty service cannot crowd state changes out.
type Logs struct {
	mu   sync.Mutex
	buf  []LogLine
	next int  // index of the next write
	full bool // buf has wrapped
	seq  uint64
	subs map[*logSub]struct{}
	// Gateway access lines are stored as their record and written out as text when first read
	// (the gateway adds one per request, most of which nobody reads): acc[i] is the record of
	// buf[i] until its text is written (a zero Time: none).
	acc []Access
}

type logSub struct {
	ch     chan LogLine
	filter func(LogLine) bool
}

// NewLogs returns a ring buffer that keeps the last capacity lines (at least 16).
func NewLogs(capacity int) *Logs {
	if capacity < 16 {
		capacity = 16
	}
	return &Logs{buf: make([]LogLine, capacity), subs: map[*logSub]struct{}{}}
}

// Append stores a line (stamping Seq and, if unset, Time) and delivers it to subscribers.
// A subscriber that falls behind has its channel closed.
//
// A line a service wrote (stream stdout or stderr) that is JSON or logfmt is parsed here, once, for
// every reader: its Text becomes the message and the level, trace context and other fields go to
// Severity, TraceID, SpanID and Fields (see ParseStructured). A line that already carries a severity
// or fields (an OTLP log record) and every other stream are stored as they come.
func (l *Logs) Append(line LogLine) {
	line = Structure(line)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.appendLocked(line, nil)
}

// Structure returns line with what ParseStructured reads from it when it is a service's output
// (stream stdout or stderr) that is JSON or logfmt and carries no severity or fields yet; any other
// line as it is.
func Structure(line LogLine) LogLine {
	if (line.Stream != "stdout" && line.Stream != "stderr") || line.Severity != "" || line.Fields != nil {
		return line
	}
	s, ok := ParseStructured(line.Text)
	if !ok {
		return line
	}
	line.Text, line.Severity, line.TraceID, line.SpanID, line.Fields = s.Message, s.Severity, s.TraceID, s.SpanID, s.Fields
	return line
}

// AppendAccess stores a gateway access record as a line (source gateway, stream access) whose
// text, Access.Line, is built only when the line is read or someone is subscribed.
func (l *Logs) AppendAccess(a *Access) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := LogLine{Time: a.Time, Source: AccessSource, Stream: AccessStream}
	if len(l.subs) > 0 {
		line.Text = a.Line()
		a = nil
	}
	l.appendLocked(line, a)
}

// appendLocked stores line; a non-nil a is its access record, whose text is left for later.
func (l *Logs) appendLocked(line LogLine, a *Access) {
	l.seq++
	line.Seq = l.seq
	if line.Time.IsZero() {
		line.Time = time.Now()
	}
	l.buf[l.next] = line
	if a != nil && l.acc == nil {
		l.acc = make([]Access, len(l.buf))
	}
	if l.acc != nil {
		l.acc[l.next] = Access{}
		if a != nil {
			l.acc[l.next] = *a
			l.acc[l.next].Time = line.Time // never zero: marks the record as pending
		}
	}
	l.next++
	if l.next == len(l.buf) {
		l.next = 0
		l.full = true
	}
	for s := range l.subs {
		if s.filter != nil && !s.filter(line) {
			continue
		}
		select {
		case s.ch <- line:
		default:
			delete(l.subs, s)
			close(s.ch)
		}
	}
}

// Tail returns up to n of the most recent lines that match filter (nil matches all), oldest first.
// n <= 0 means all that are kept.
func (l *Logs) Tail(n int, filter func(LogLine) bool) []LogLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tailLocked(n, filter)
}

func (l *Logs) tailLocked(n int, filter func(LogLine) bool) []LogLine {
	size := l.next
	if l.full {
		size = len(l.buf)
	}
	if n <= 0 || n > size {
		n = size
	}
	out := make([]LogLine, 0, n)
	// walk backwards from newest
	for i := 0; i < size && len(out) < n; i++ {
		idx := (l.next - 1 - i + len(l.buf)) % len(l.buf)
		if l.acc != nil && !l.acc[idx].Time.IsZero() {
			l.buf[idx].Text = l.acc[idx].Line()
			l.acc[idx] = Access{}
		}
		if filter == nil || filter(l.buf[idx]) {
			out = append(out, l.buf[idx])
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// Subscribe returns up to backlog recent matching lines and a channel of every later matching line.
// The channel (capacity buf, at least 256) is closed by cancel or when the subscriber falls behind.
func (l *Logs) Subscribe(backlog, buf int, filter func(LogLine) bool) ([]LogLine, <-chan LogLine, func()) {
	if buf < 256 {
		buf = 256
	}
	s := &logSub{ch: make(chan LogLine, buf), filter: filter}
	l.mu.Lock()
	defer l.mu.Unlock()
	var past []LogLine
	if backlog > 0 {
		past = l.tailLocked(backlog, filter)
	}
	l.subs[s] = struct{}{}
	var once sync.Once
	cancel := func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if _, ok := l.subs[s]; ok {
				delete(l.subs, s)
				close(s.ch)
			}
		})
	}
	return past, s.ch, cancel
}

// SourceFilter returns a filter matching lines from the given source; "" matches all.
func SourceFilter(source string) func(LogLine) bool {
	if source == "" {
		return nil
	}
	return func(l LogLine) bool { return l.Source == source }
}

// The source and stream of the gateway's access lines.
const (
	AccessSource = "gateway"
	AccessStream = "access"
)

// Line is the access record as one log line:
// "GET /api/orders 201 1.23ms 512B service=users upstream=127.0.0.1:3001 sub="alice" client=127.0.0.1 rid=…".
func (a *Access) Line() string {
	b := make([]byte, 0, 160)
	b = append(b, a.Method...)
	b = append(b, ' ')
	b = append(b, a.Path...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(a.Status), 10)
	b = append(b, ' ')
	b = append(b, a.Latency.Round(10*time.Microsecond).String()...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, a.Bytes, 10)
	b = append(b, 'B')
	if a.Service != "" {
		b = append(b, " service="...)
		b = append(b, a.Service...)
	}
	if a.Upstream != "" {
		b = append(b, " upstream="...)
		b = append(b, a.Upstream...)
	}
	if a.Subject != "" {
		b = append(b, " sub="...)
		b = strconv.AppendQuote(b, a.Subject)
	}
	if a.Auth != "" && a.Auth != "none" && a.Auth != "ok" {
		b = append(b, " auth="...)
		b = strconv.AppendQuote(b, a.Auth)
	}
	b = append(b, " client="...)
	b = append(b, a.ClientIP...)
	b = append(b, " rid="...)
	b = append(b, a.RequestID...)
	if a.TraceID != "" {
		b = append(b, " trace="...)
		b = append(b, a.TraceID...)
	}
	return string(b)
}
