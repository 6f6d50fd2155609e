package proxy

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"strconv"
	"unsafe"
)

// findHeader returns the first value of header name (any case) among hdrs, or "".
func findHeader(b []byte, bstr string, hdrs []span, name string) string {
	for i := range hdrs {
		s := &hdrs[i]
		if int(s.ne-s.ns) == len(name) && bytes.EqualFold(b[s.ns:s.ne], []byte(name)) {
			return bstr[s.vs:s.ve]
		}
	}
	return ""
}

// The fast path parses HTTP/1.1 request and response heads itself, strictly: anything it is not
// sure about (obsolete line folding, duplicate framing headers, odd bytes, other versions, a
// Transfer-Encoding on a request, protocol upgrades, Expect) makes it hand the connection to the
// net/http server, which then answers exactly as it always did. So the parser only needs to
// recognise the plain, common case; it never has to produce an error response itself.

// header kinds the fast path acts on
const (
	hOther = iota
	hHost
	hContentLength
	hTransferEncoding
	hConnection
	hUpgrade
	hExpect
	hAuthorization
	hRequestID
	hXFF
	hXFProto
	hXFHost
	hXAuth
	hHop // Keep-Alive, Proxy-Connection, Proxy-Authorization, Proxy-Authenticate, TE, Trailer
	hOrigin
	hDate
	hTraceparent
	hTracestate
	hTraceresponse
)

// span is one header line: offsets into the head buffer.
type span struct {
	ns, ne, vs, ve int32
	kind           uint8
}

const (
	maxFastHead    = 16 << 10 // request heads larger than this go to net/http (it allows 64 KiB)
	maxFastHeaders = 100
	maxFastBody    = 64 << 10 // request bodies larger than this go to net/http
	maxRespHead    = 64 << 10
)

var crlfcrlf = []byte("\r\n\r\n")

// findHead finds the end of a message head in buf, looking at most limit bytes: n is the head's
// length with its blank line, or -1 when it is not complete yet; over is set when it cannot be
// complete within limit.
func findHead(buf []byte, limit int) (n int, over bool) {
	search := buf
	if len(search) > limit {
		search = search[:limit]
	}
	if i := bytes.Index(search, crlfcrlf); i >= 0 {
		return i + 4, false
	}
	return -1, len(buf) >= limit
}

// requestHead finds the end of a request head in a client's buffered bytes: n as findHead's, or
// handoff when the fast path must give the connection to net/http now: the head cannot be
// complete within maxFastHead, or it ends in a way only net/http reads (a blank line after a bare
// LF: net/http answers such heads, while waiting for CRLF CRLF would hang until the header timeout).
func requestHead(buf []byte) (n int, handoff bool) {
	n, over := findHead(buf, maxFastHead)
	if n >= 0 || over {
		return n, over
	}
	return -1, bytes.Contains(buf, lflf) || bytes.Contains(buf, lfcrlf)
}

var lflf, lfcrlf = []byte("\n\n"), []byte("\n\r\n")

// reqHead is a parsed request head. Strings point into the buffer the head was parsed from.
type reqHead struct {
	method       string
	path, query  string
	host         string
	contentLen   int64 // -1: no Content-Length
	auth         string
	nAuth        int
	requestID    string
	nRequestID   int
	traceparent  string
	nTraceparent int
	origin       bool
	connClose    bool
	headEnd      int // length of the head including the blank line
	hdrs         []span
	xffPrior     int // number of X-Forwarded-For lines
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 32
	}
	return c
}

// eqFold compares b with a lower-case ASCII string.
func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

func headerKind(n []byte) uint8 {
	switch len(n) {
	case 2:
		if eqFold(n, "te") {
			return hHop
		}
	case 4:
		if eqFold(n, "host") {
			return hHost
		}
		if eqFold(n, "date") {
			return hDate
		}
	case 6:
		if eqFold(n, "expect") {
			return hExpect
		}
		if eqFold(n, "origin") {
			return hOrigin
		}
	case 7:
		if eqFold(n, "upgrade") {
			return hUpgrade
		}
		if eqFold(n, "trailer") {
			return hHop
		}
	case 10:
		if eqFold(n, "connection") {
			return hConnection
		}
		if eqFold(n, "keep-alive") {
			return hHop
		}
		if eqFold(n, "tracestate") {
			return hTracestate
		}
	case 11:
		if eqFold(n, "traceparent") {
			return hTraceparent
		}
	case 12:
		if eqFold(n, "x-request-id") {
			return hRequestID
		}
	case 13:
		if eqFold(n, "authorization") {
			return hAuthorization
		}
		if eqFold(n, "traceresponse") {
			return hTraceresponse
		}
	case 14:
		if eqFold(n, "content-length") {
			return hContentLength
		}
	case 15:
		if eqFold(n, "x-forwarded-for") {
			return hXFF
		}
	case 16:
		if eqFold(n, "x-forwarded-host") {
			return hXFHost
		}
		if eqFold(n, "proxy-connection") {
			return hHop
		}
	case 17:
		if eqFold(n, "transfer-encoding") {
			return hTransferEncoding
		}
		if eqFold(n, "x-forwarded-proto") {
			return hXFProto
		}
	case 18:
		if eqFold(n, "proxy-authenticate") {
			return hHop
		}
	case 19:
		if eqFold(n, "proxy-authorization") {
			return hHop
		}
	}
	if isIdentityHeader(unsafe.String(unsafe.SliceData(n), len(n))) {
		return hXAuth
	}
	return hOther
}

// tokenChar reports whether c may appear in a header name (RFC 9110 tchar).
var tokenChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-32] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return
}()

// parseHeaders parses header lines in b (starting after the start line, ending with the blank
// line) into hdrs. It returns false on anything unusual.
func parseHeaders(b []byte, off int, hdrs []span) ([]span, bool) {
	for {
		if off+1 >= len(b) {
			return hdrs, false
		}
		if b[off] == '\r' {
			return hdrs, b[off+1] == '\n' && off+2 == len(b)
		}
		if len(hdrs) >= maxFastHeaders {
			return hdrs, false
		}
		ns := off
		for off < len(b) && tokenChar[b[off]] {
			off++
		}
		if off == ns || off >= len(b) || b[off] != ':' {
			return hdrs, false // empty name, a space before the colon, or a bad byte
		}
		ne := off
		off++
		for off < len(b) && (b[off] == ' ' || b[off] == '\t') {
			off++
		}
		vs := off
		if off = scanValue(b, off); off < 0 || off+1 >= len(b) || b[off+1] != '\n' {
			return hdrs, false
		}
		ve := off
		for ve > vs && (b[ve-1] == ' ' || b[ve-1] == '\t') {
			ve--
		}
		off += 2
		if off < len(b) && (b[off] == ' ' || b[off] == '\t') {
			return hdrs, false // obsolete line folding
		}
		hdrs = append(hdrs, span{ns: int32(ns), ne: int32(ne), vs: int32(vs), ve: int32(ve), kind: headerKind(b[ns:ne])})
	}
}

// scanValue returns the index of the first CR at or after off, or -1 when a byte that may not be in
// a header value (a control character other than HTAB, or DEL) comes first or there is no CR. Eight
// bytes at a time while no byte is below 0x20 or equal to 0x7f (long values: tokens, cookies).
func scanValue(b []byte, off int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for off+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[off:])
		less := (w - 0x20*ones) & ^w & highs // some byte < 0x20 (may report more, never less)
		d := w ^ 0x7f*ones
		del := (d - ones) & ^d & highs // some byte == 0x7f
		if less|del != 0 {
			break
		}
		off += 8
	}
	for ; off < len(b); off++ {
		c := b[off]
		if c == '\r' {
			return off
		}
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return -1
		}
	}
	return -1
}

func parseDecimal(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// methodString returns a constant string for the methods the fast path serves, or "".
func methodString(m []byte) string {
	switch string(m) {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "PATCH":
		return "PATCH"
	case "HEAD":
		return "HEAD"
	case "OPTIONS":
		return "OPTIONS"
	}
	return ""
}

func validHostBytes(h []byte) bool {
	if len(h) == 0 || len(h) > 255 {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_') {
			return false
		}
	}
	return true
}

// connTokens checks a Connection header value: ok is false when it names anything but
// keep-alive and close (an upgrade, or headers to strip: net/http handles those).
func connTokens(v []byte) (close, ok bool) {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		var t []byte
		if i < 0 {
			t, v = v, nil
		} else {
			t, v = v[:i], v[i+1:]
		}
		t = bytes.TrimSpace(t)
		switch {
		case len(t) == 0:
		case eqFold(t, "close"):
			close = true
		case eqFold(t, "keep-alive"):
		default:
			return close, false
		}
	}
	return close, true
}

// parseRequest parses a complete request head (b ends with the blank line). ok is false when the
// request must go to net/http. bstr is b as a string (same memory): the returned strings are
// substrings of it.
func parseRequest(b []byte, bstr string, h *reqHead) bool {
	*h = reqHead{hdrs: h.hdrs[:0], contentLen: -1, headEnd: len(b)}
	sp := bytes.IndexByte(b, ' ')
	if sp <= 0 {
		return false
	}
	h.method = methodString(b[:sp])
	if h.method == "" {
		return false
	}
	le := bytes.IndexByte(b, '\r')
	if le < 0 || le+1 >= len(b) || b[le+1] != '\n' {
		return false
	}
	line := b[sp+1 : le]
	sp2 := bytes.IndexByte(line, ' ')
	if sp2 <= 0 || string(line[sp2+1:]) != "HTTP/1.1" {
		return false
	}
	target := line[:sp2]
	if target[0] != '/' {
		return false
	}
	qi := -1
	for i, c := range target {
		if c <= ' ' || c >= 0x7f || c == '#' || c == '\\' {
			return false
		}
		if c == '?' && qi < 0 {
			qi = i
		}
		if c == '%' && qi < 0 {
			return false // escapes in the path: net/http's decoding and %2F rules apply
		}
	}
	base := sp + 1
	if qi >= 0 {
		h.path = bstr[base : base+qi]
		h.query = bstr[base+qi+1 : base+sp2]
	} else {
		h.path = bstr[base : base+sp2]
	}
	if needsClean(h.path) || reservedPath(h.path) {
		return false
	}
	var ok bool
	h.hdrs, ok = parseHeaders(b, le+2, h.hdrs)
	if !ok {
		return false
	}
	nHost := 0
	for i := range h.hdrs {
		s := &h.hdrs[i]
		v := b[s.vs:s.ve]
		switch s.kind {
		case hHost:
			nHost++
			if !validHostBytes(v) {
				return false
			}
			h.host = bstr[s.vs:s.ve]
		case hContentLength:
			n, ok := parseDecimal(v)
			if !ok || h.contentLen >= 0 {
				return false
			}
			h.contentLen = n
		case hTransferEncoding, hUpgrade, hExpect:
			return false
		case hConnection:
			c, ok := connTokens(v)
			if !ok {
				return false
			}
			h.connClose = h.connClose || c
		case hHop:
			if eqFold(b[s.ns:s.ne], "te") {
				return false // "TE: trailers" is passed on by net/http's path
			}
		case hAuthorization:
			h.nAuth++
			h.auth = bstr[s.vs:s.ve]
		case hRequestID:
			h.nRequestID++
			h.requestID = bstr[s.vs:s.ve]
		case hTraceparent:
			h.nTraceparent++
			h.traceparent = bstr[s.vs:s.ve]
		case hXFF:
			h.xffPrior++
		case hOrigin:
			h.origin = true
		}
	}
	return nHost == 1
}

// reservedPath reports paths the gateway serves itself (issuer, metrics, health).
func reservedPath(p string) bool {
	return len(p) > 2 && (p[1] == '_' && len(p) >= 11 && p[:11] == "/__devstack" ||
		p[1] == 'o' && len(p) >= 7 && p[:7] == "/oauth/" ||
		p[1] == '.' && len(p) >= 13 && p[:13] == "/.well-known/")
}

// respHead is a parsed upstream response head.
type respHead struct {
	status     int
	contentLen int64 // -1 when absent
	chunked    bool
	close      bool // Connection: close (or HTTP/1.0)
	eventStr   bool // text/event-stream
	hasDate    bool
	headEnd    int
	hdrs       []span
	connNames  [][]byte // header names listed in Connection
}

// parseResponse parses an upstream response head (b ends with the blank line); ok false means
// the response is malformed or unusual (the caller finishes it through net/http's reader).
func parseResponse(b []byte, h *respHead) bool {
	*h = respHead{hdrs: h.hdrs[:0], connNames: h.connNames[:0], contentLen: -1, headEnd: len(b)}
	if len(b) < 16 || string(b[:5]) != "HTTP/" || b[8] != ' ' || b[12] != ' ' && b[12] != '\r' {
		return false
	}
	switch string(b[5:8]) {
	case "1.1":
	case "1.0":
		h.close = true
	default:
		return false
	}
	st, ok := parseDecimal(b[9:12])
	if !ok || st < 100 || st > 999 {
		return false
	}
	h.status = int(st)
	le := bytes.IndexByte(b, '\n')
	if le < 1 || b[le-1] != '\r' {
		return false
	}
	h.hdrs, ok = parseHeaders(b, le+1, h.hdrs)
	if !ok {
		return false
	}
	for i := range h.hdrs {
		s := &h.hdrs[i]
		v := b[s.vs:s.ve]
		switch s.kind {
		case hContentLength:
			n, ok := parseDecimal(v)
			if !ok || h.contentLen >= 0 && h.contentLen != n {
				return false
			}
			h.contentLen = n
		case hTransferEncoding:
			if !eqFold(v, "chunked") || h.chunked {
				return false
			}
			h.chunked = true
		case hConnection:
			for _, t := range bytes.Split(v, []byte{','}) {
				t = bytes.TrimSpace(t)
				if eqFold(t, "close") {
					h.close = true
				} else if len(t) > 0 {
					h.connNames = append(h.connNames, t)
				}
			}
		case hDate:
			h.hasDate = true
		case hOther:
			if eqFold(b[s.ns:s.ne], "content-type") && len(v) >= 17 && eqFold(v[:17], "text/event-stream") {
				h.eventStr = true
			}
		}
	}
	if h.chunked && h.contentLen >= 0 {
		return false
	}
	return true
}

// dropResponseHeader reports whether an upstream response header is not passed to the client.
func (h *respHead) drop(b []byte, s *span) bool {
	switch s.kind {
	case hConnection, hHop, hTransferEncoding, hUpgrade, hRequestID:
		return true
	}
	for _, n := range h.connNames {
		if bytes.EqualFold(b[s.ns:s.ne], n) {
			return true
		}
	}
	return false
}

// statusLine appends net/http's status line for code.
func statusLine(b []byte, code int) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	if t := http.StatusText(code); t != "" {
		b = append(b, t...)
	} else {
		b = append(b, "status code "...)
		b = strconv.AppendInt(b, int64(code), 10)
	}
	return append(b, "\r\n"...)
}
