package proxy

import (
	"context"
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/devstack-dev/devstack/internal/event"
)

// Tracing (Options.Spans set): every request the gateway answers gets a server span. Both request
// paths take the trace decision through newTrace: an incoming valid W3C traceparent is continued
// (same trace id, the client's span as parent, its flags and tracestate kept), anything else starts
// a new sampled trace. The request goes upstream with a traceparent naming the gateway's span as
// parent (the client's header is replaced), and the response carries the gateway's span in a
// traceresponse header (W3C Trace Context Level 2, a draft), so a client or `curl -i` sees the trace
// id. Spans leave the request path as compact records (spanRec) in a batchQueue; the publisher turns
// a batch into event.Spans and hands it to the sink in one call.
//
// With Spans nil nothing of this runs: traceparent, tracestate and traceresponse pass untouched.

const (
	traceIDLen    = 32
	spanIDLen     = 16
	traceparentLn = 55 // "00-" trace "-" span "-" flags
	flagSampled   = 0x01
	knownFlags    = 0x03 // sampled, random (W3C Trace Context Level 2)
)

// traceCtx is one request's trace context.
type traceCtx struct {
	on bool
	// keepState: the client's tracestate goes on (it sent a valid traceparent)
	keepState bool
	hasParent bool
	flags     byte
	traceID   string // 32 hex digits; never points into a reused buffer
	spanID    [spanIDLen]byte
	parentID  [spanIDLen]byte // the client's span (hasParent)
}

// newTrace is the trace decision of both request paths. tp is the client's traceparent, n how many
// traceparent headers it sent (several: invalid, as W3C says). ids cuts stable storage for the trace
// id (the event loops' block); nil allocates.
func newTrace(tp string, n int, ids *idBlock) traceCtx {
	t := traceCtx{on: true, flags: flagSampled}
	if n == 1 {
		if tid, pid, flags, ok := event.ParseTraceparent(tp); ok {
			// the flags defined so far: sampled, and Level 2's random trace id (which stays true, as
			// the trace id goes on unchanged); others are not passed on under version 00
			t.keepState, t.hasParent, t.flags = true, true, flags&knownFlags
			copy(t.parentID[:], pid)
			if ids != nil {
				t.traceID = ids.clone(tid)
			} else {
				t.traceID = string([]byte(tid)) // tp may point into a buffer that is reused
			}
		}
	}
	if t.traceID == "" {
		for {
			if ids != nil {
				t.traceID = ids.next()
			} else {
				t.traceID = newRequestID()
			}
			if t.traceID != zeroTraceID {
				break
			}
		}
	}
	newSpanID(&t.spanID)
	return t
}

var zeroTraceID = string(make([]byte, traceIDLen))

// newSpanID writes 64 random bits (not all zero) as hex into b.
func newSpanID(b *[spanIDLen]byte) {
	u := rand.Uint64()
	for u == 0 {
		u = rand.Uint64()
	}
	var r [8]byte
	for i := range r {
		r[i] = byte(u >> (8 * i))
	}
	hex.Encode(b[:], r[:])
}

// appendHeader appends the traceparent naming the gateway's span: what goes upstream, and the
// value of the traceresponse header.
func (t *traceCtx) appendHeader(b []byte) []byte {
	const digits = "0123456789abcdef"
	b = append(b, "00-"...)
	b = append(b, t.traceID...)
	b = append(b, '-')
	b = append(b, t.spanID[:]...)
	return append(b, '-', digits[t.flags>>4], digits[t.flags&15])
}

// header is appendHeader as a string.
func (t *traceCtx) header() string {
	var a [traceparentLn]byte
	return string(t.appendHeader(a[:0]))
}

// clone copies s into the block (for ids read from a buffer that is reused).
func (b *idBlock) clone(s string) string {
	if len(s) != requestIDLen {
		return string([]byte(s))
	}
	if len(b.free) < requestIDLen {
		b.free = make([]byte, requestIDLen*idBlockIDs)
	}
	id := b.free[:requestIDLen:requestIDLen]
	b.free = b.free[requestIDLen:]
	copy(id, s)
	return unsafe.String(&id[0], requestIDLen)
}

// spanRec is what the gateway keeps of a request's span until the publisher builds the event.Span.
// Its strings must not point into buffers that are reused.
type spanRec struct {
	trace      traceCtx
	start, end time.Time
	method     string
	scheme     string
	host       string
	path       string
	route      string // the matched route's path ("" when no route matched)
	reserved   bool   // one of the gateway's own endpoints (path is then the route)
	service    string
	upstream   string
	subject    string
	auth       string
	ip         string
	requestID  string
	status     int
	errMsg     string // the gateway's own failure (no upstream, timeout, ...)
}

// pushSpan queues a request's span (tracing on).
func (g *Gateway) pushSpan(s spanRec) {
	if g.spans != nil {
		g.spans.push(s)
	}
}

// publishSpans hands queued spans to the sink, a batch per call, until ctx ends.
func (g *Gateway) publishSpans(ctx context.Context) {
	if g.spans == nil {
		<-ctx.Done()
		return
	}
	names := map[spanName]string{}
	g.spans.run(ctx, func(batch []spanRec) {
		out := make([]event.Span, len(batch))
		// the span and parent ids of the whole batch in one block
		ids := make([]byte, 2*spanIDLen*len(batch))
		for i := range batch {
			s := &batch[i]
			sp := &out[i]
			b := ids[2*spanIDLen*i : 2*spanIDLen*(i+1)]
			copy(b, s.trace.spanID[:])
			sp.SpanID = unsafe.String(&b[0], spanIDLen)
			if s.trace.hasParent {
				copy(b[spanIDLen:], s.trace.parentID[:])
				sp.ParentID = unsafe.String(&b[spanIDLen], spanIDLen)
			}
			s.fill(sp, names)
		}
		g.opts.Spans(out)
		if len(names) > 4096 {
			clear(names) // the names of routes that were reloaded away, or of odd methods
		}
	})
}

// spanName is the key of a span name: "POST /api/orders" is made once per method and route.
type spanName struct{ method, route string }

// statusText holds the status codes as text (no allocation per span).
var statusText = func() (t [600]string) {
	for i := 100; i < len(t); i++ {
		t[i] = strconv.Itoa(i)
	}
	return
}()

func statusString(code int) string {
	if code >= 100 && code < len(statusText) {
		return statusText[code]
	}
	return strconv.Itoa(code)
}

// fill completes the event.Span but for its span and parent ids (attribute names from
// OpenTelemetry's semantic conventions); names caches span names.
func (s *spanRec) fill(sp *event.Span, names map[spanName]string) {
	sp.TraceID, sp.Service, sp.Kind, sp.Start, sp.End = s.trace.traceID, "gateway", "server", s.start, s.end
	a := make(map[string]string, 12)
	a["http.request.method"] = s.method
	a["url.path"] = s.path
	a["url.scheme"] = s.scheme
	a["client.address"] = s.ip
	a["devstack.request_id"] = s.requestID
	if s.status != 0 {
		a["http.response.status_code"] = statusString(s.status)
	}
	if i := strings.LastIndexByte(s.host, ':'); i > strings.LastIndexByte(s.host, ']') {
		a["server.address"], a["server.port"] = strings.Trim(s.host[:i], "[]"), s.host[i+1:]
	} else if s.host != "" {
		a["server.address"] = strings.Trim(s.host, "[]")
	}
	route := s.route
	if s.reserved {
		route = s.path
	}
	if route != "" {
		a["http.route"] = route
		k := spanName{s.method, route}
		if sp.Name = names[k]; sp.Name == "" {
			sp.Name = s.method + " " + route
			names[k] = sp.Name
		}
	} else {
		sp.Name = s.method
	}
	if s.service != "" {
		a["devstack.upstream.service"] = s.service
	}
	if s.upstream != "" {
		a["devstack.upstream.instance"] = s.upstream
	}
	if s.subject != "" {
		a["enduser.id"] = s.subject
	}
	if s.auth != "" && s.auth != "none" {
		a["devstack.auth"] = s.auth
	}
	switch {
	case s.errMsg != "":
		sp.Status, sp.StatusMessage = "error", s.errMsg
		a["error.type"] = statusString(s.status)
	case s.status >= 500:
		sp.Status, sp.StatusMessage = "error", "the upstream answered "+statusString(s.status)
		a["error.type"] = statusString(s.status)
	}
	sp.Attrs = a
}
