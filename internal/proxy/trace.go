package proxy

import (
	"context"
	"encoding/hex"
	"math/rand/v2"
	"net"
	"strconv"
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
			t.keepState, t.hasParent, t.flags = true, true, flags
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
	g.spans.run(ctx, func(batch []spanRec) {
		out := make([]event.Span, len(batch))
		for i := range batch {
			out[i] = batch[i].span()
		}
		g.opts.Spans(out)
	})
}

// span builds the event.Span (attribute names from OpenTelemetry's semantic conventions).
func (s *spanRec) span() event.Span {
	sp := event.Span{TraceID: s.trace.traceID, SpanID: string(s.trace.spanID[:]), Service: "gateway", Kind: "server",
		Start: s.start, End: s.end}
	if s.trace.hasParent {
		sp.ParentID = string(s.trace.parentID[:])
	}
	a := make(map[string]string, 16)
	a["http.request.method"] = s.method
	a["url.path"] = s.path
	a["url.scheme"] = s.scheme
	a["network.protocol.name"] = "http"
	a["client.address"] = s.ip
	a["devstack.request_id"] = s.requestID
	if s.status != 0 {
		a["http.response.status_code"] = strconv.Itoa(s.status)
	}
	if host, port, err := net.SplitHostPort(s.host); err == nil {
		a["server.address"], a["server.port"] = host, port
	} else if s.host != "" {
		a["server.address"] = s.host
	}
	route := s.route
	if s.reserved {
		route = s.path
	}
	if route != "" {
		a["http.route"] = route
		sp.Name = s.method + " " + route
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
		a["error.type"] = strconv.Itoa(s.status)
	case s.status >= 500:
		sp.Status, sp.StatusMessage = "error", "the upstream answered "+strconv.Itoa(s.status)
		a["error.type"] = strconv.Itoa(s.status)
	}
	sp.Attrs = a
	return sp
}
