package event

import "time"

// Span is one operation of a trace as devstack keeps and shows it: what a service sent over OTLP, or a
// span devstack made itself (the gateway's request span, the broker's produce and fetch spans). Ids are
// lowercase hex as in W3C traceparent.
type Span struct {
	TraceID  string `json:"trace_id"`            // 32 hex digits
	SpanID   string `json:"span_id"`             // 16 hex digits
	ParentID string `json:"parent_id,omitempty"` // "" for a root span
	// Service is the resource's service.name (the service's name in devstack.yaml for its instances;
	// "gateway" and "broker" for devstack's own spans); Instance its service.instance.id.
	Service  string `json:"service"`
	Instance string `json:"instance,omitempty"`
	Name     string `json:"name"`
	// Kind is OTLP's span kind in lowercase: internal, server, client, producer, consumer.
	Kind  string    `json:"kind,omitempty"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Status is "error", "ok" or "" (unset), StatusMessage OTLP's status message.
	Status        string `json:"status,omitempty"`
	StatusMessage string `json:"status_message,omitempty"`
	// Attrs are the span's attributes, values rendered as text (OTLP arrays and maps as JSON).
	Attrs  map[string]string `json:"attrs,omitempty"`
	Events []SpanEvent       `json:"events,omitempty"`
	// Links are other spans this one points at (a consumer's link to the producer's span).
	Links []SpanLink `json:"links,omitempty"`
}

// Duration is End - Start.
func (s Span) Duration() time.Duration { return s.End.Sub(s.Start) }

// SpanEvent is a timed event inside a span (an exception, a log).
type SpanEvent struct {
	Time  time.Time         `json:"time"`
	Name  string            `json:"name"`
	Attrs map[string]string `json:"attrs,omitempty"`
}

// SpanLink points at a span of the same or another trace.
type SpanLink struct {
	TraceID string            `json:"trace_id"`
	SpanID  string            `json:"span_id"`
	Attrs   map[string]string `json:"attrs,omitempty"`
}

// SpanSink takes spans a component made (the gateway, the broker). It must not block: a sink that
// cannot keep up drops spans rather than slowing a request down. nil means tracing is off.
type SpanSink func([]Span)

// TraceSummary is one line of the trace list.
type TraceSummary struct {
	TraceID string `json:"trace_id"`
	// Root is the root span's service and name ("gateway POST /api/orders"); when the root has not
	// arrived (yet), the earliest span's.
	RootService string        `json:"root_service"`
	RootName    string        `json:"root_name"`
	Start       time.Time     `json:"start"`
	Duration    time.Duration `json:"duration"`
	// Services are the services that have spans in the trace, in order of their first span.
	Services []string `json:"services"`
	Spans    int      `json:"spans"`
	// Errors is how many spans have status error.
	Errors int `json:"errors,omitempty"`
}

// TraceQuery selects traces for the list, newest first.
type TraceQuery struct {
	Service     string        `json:"service,omitempty"`      // only traces that touch this service
	Status      string        `json:"status,omitempty"`       // "error": only traces with an error span; "ok": only without
	MinDuration time.Duration `json:"min_duration,omitempty"` // only traces at least this long
	Limit       int           `json:"limit,omitempty"`        // at most this many (0: all that are kept)
}

// ParseTraceparent reads a W3C traceparent header ("00-<trace id>-<parent id>-<flags>"). ok is false
// for anything the W3C Trace Context spec says to ignore: a wrong length or separator, non-lowercase-hex
// digits, version ff, an all-zero trace or parent id, or a version 00 header with extra text. A later
// version may carry more fields after the flags, as the spec allows. The ids returned are substrings
// of h (no allocation).
func ParseTraceparent(h string) (traceID, parentID string, flags byte, ok bool) {
	if len(h) < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-' {
		return "", "", 0, false
	}
	if !lowerHex(h[0:2]) || h[0:2] == "ff" || !lowerHex(h[3:35]) || !lowerHex(h[36:52]) || !lowerHex(h[53:55]) {
		return "", "", 0, false
	}
	if len(h) > 55 && (h[0:2] == "00" || h[55] != '-') {
		return "", "", 0, false
	}
	traceID, parentID = h[3:35], h[36:52]
	if allZero(traceID) || allZero(parentID) {
		return "", "", 0, false
	}
	return traceID, parentID, hexByte(h[53])<<4 | hexByte(h[54]), true
}

// FormatTraceparent writes a version 00 traceparent header.
func FormatTraceparent(traceID, spanID string, flags byte) string {
	const digits = "0123456789abcdef"
	return "00-" + traceID + "-" + spanID + "-" + string([]byte{digits[flags>>4], digits[flags&15]})
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}

func hexByte(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}
