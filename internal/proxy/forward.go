package proxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// hopHeaders are removed in both directions (RFC 9110 7.6.1), plus whatever Connection lists.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func removeHopHeaders(h http.Header) {
	if c := h["Connection"]; len(c) > 0 {
		for _, v := range c {
			for _, f := range strings.Split(v, ",") {
				if f = strings.TrimSpace(f); f != "" {
					delete(h, http.CanonicalHeaderKey(f))
				}
			}
		}
	}
	for _, k := range hopHeaders {
		if _, ok := h[k]; ok {
			delete(h, k)
		}
	}
}

// upgradeType returns the requested protocol upgrade (e.g. "websocket"), or "".
func upgradeType(h http.Header) string {
	c := h["Connection"]
	if len(c) == 0 {
		return ""
	}
	for _, v := range c {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "upgrade") {
				return h.Get("Upgrade")
			}
		}
	}
	return ""
}

// shared read-only header values
var (
	protoHTTP  = []string{"http"}
	protoHTTPS = []string{"https"}
	emptyValue = []string{""}
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// body wraps the request body: it enforces the size limit, records whether it was read (so a
// failed attempt can be retried) and ignores Close from the transport so a retry can still read it.
type body struct {
	rc       io.ReadCloser
	n, limit int64
	read     bool
	tooBig   bool
	// stall bounds the wait for the client's next body bytes (as the event loops do, and nginx's
	// client_body_timeout): a client that stops mid-body cannot hold its connection and the upstream
	// request open. ctl sets the read deadline of the client connection; nil when not supported.
	// Reads run on the transport's goroutine, done on the handler's: mu orders them.
	stall   time.Duration
	mu      sync.Mutex
	ctl     *http.ResponseController
	stalled bool
	bad     error // reading the client's body failed (malformed chunked coding, cut short)
}

var errTooBig = errors.New("request body too large")

func (b *body) Read(p []byte) (int, error) {
	b.read = true
	if b.n > b.limit {
		b.tooBig = true
		return 0, errTooBig
	}
	if left := b.limit - b.n; left < int64(len(p)) { // (no overflow when limit is MaxInt64: no limit)
		p = p[:left+1]
	}
	b.mu.Lock()
	if b.ctl != nil && b.ctl.SetReadDeadline(time.Now().Add(b.stall)) != nil {
		b.ctl = nil // the connection has no deadlines: no stall limit
	}
	b.mu.Unlock()
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if b.n > b.limit {
		b.tooBig = true
		return 0, errTooBig
	}
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// keep the expired deadline: net/http reads on to discard the rest of the body once the
			// handler returns, and must fail at once instead of waiting for a client that stalled
			b.mu.Lock()
			b.stalled, b.ctl = true, nil
			b.mu.Unlock()
		} else {
			if err != io.EOF {
				b.mu.Lock()
				b.bad = err
				b.mu.Unlock()
			}
			b.done()
		}
	}
	return n, err
}

// badBody returns the error reading the client's body ended with (not EOF), or nil.
func (b *body) badBody() error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bad
}

func (b *body) isStalled() bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stalled
}

// done lifts the stall deadline once the body is over: net/http then watches the connection for the
// client going away, and must not take an old deadline for that.
func (b *body) done() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctl != nil {
		_ = b.ctl.SetReadDeadline(time.Time{})
		b.ctl = nil
	}
}

func (b *body) Close() error { return nil }

func newTransport(timeout time.Duration) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 nil, // never use HTTP_PROXY for loopback upstreams
		DialContext:           d.DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        16 << 10,
	}
}

// lifetimeTransport is the http.Transport of the requests the in-goroutine client does not carry
// (protocol upgrades, bodies of unknown length), with upstream_conn_lifetime applied. A Transport has
// no per-connection lifetime, so once per lifetime the first request through it closes its idle
// connections: a connection that stays in use under steady traffic is idle between two requests and
// goes at the next sweep. Cost: at most one redial per connection per lifetime, and an atomic load
// per request.
type lifetimeTransport struct {
	t        *http.Transport
	lifetime int64 // nanoseconds; 0: connections live until idle or closed
	swept    atomic.Int64
}

func (lt *lifetimeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if lt.lifetime > 0 {
		now := time.Now().UnixNano()
		last := lt.swept.Load()
		if last == 0 {
			lt.swept.CompareAndSwap(0, now)
		} else if now-last >= lt.lifetime && lt.swept.CompareAndSwap(last, now) {
			lt.t.CloseIdleConnections()
		}
	}
	return lt.t.RoundTrip(r)
}

func isDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// extraHeaders are what the gateway adds to a forwarded request. The in-goroutine client writes them
// straight to the wire (no header-map growth per request); the Transport path puts them in the map.
type extraHeaders struct {
	requestID, xff, proto, host string
	prin                        *principal
	trace                       *traceCtx // nil when tracing is off
}

func (x *extraHeaders) addTo(h http.Header) {
	h["X-Request-Id"] = []string{x.requestID}
	h["X-Forwarded-For"] = []string{x.xff}
	h["X-Forwarded-Proto"] = []string{x.proto}
	h["X-Forwarded-Host"] = []string{x.host}
	if x.prin != nil {
		h["X-Auth-Subject"] = x.prin.subHdr
		h["X-Auth-Scopes"] = x.prin.scopesHdr
	}
	if x.trace != nil {
		h["Traceparent"] = []string{x.trace.header()}
	}
}

// forward sends the request to an instance of rt's service and copies the response back.
func (c *chain) forward(w http.ResponseWriter, r *http.Request, rt *route, fwdPath string, rewritten bool, ip, rid string, prin *principal, lg *reqLog) {
	h := r.Header
	upgrade := upgradeType(h)
	te := h.Get("Te")
	removeHopHeaders(h)
	if upgrade != "" {
		h["Connection"] = []string{"Upgrade"}
		h["Upgrade"] = []string{upgrade}
	}
	if strings.EqualFold(te, "trailers") {
		h["Te"] = []string{"trailers"}
	}
	x := extraHeaders{requestID: rid, xff: ip, proto: "http", host: r.Host, prin: prin}
	if prior, ok := h["X-Forwarded-For"]; ok {
		x.xff = strings.Join(prior, ", ") + ", " + ip
		delete(h, "X-Forwarded-For")
	}
	if r.TLS != nil {
		x.proto = "https"
	}
	for _, k := range [...]string{"X-Request-Id", "X-Forwarded-Proto", "X-Forwarded-Host"} {
		if _, ok := h[k]; ok {
			delete(h, k)
		}
	}
	if lg.trace.on {
		// the upstream's parent is the gateway's span; a tracestate goes on only with the trace it
		// belongs to
		x.trace = &lg.trace
		delete(h, "Traceparent")
		if !lg.trace.keepState {
			delete(h, "Tracestate")
		}
	}
	var b *body
	if r.ContentLength != 0 {
		b = &body{rc: r.Body, limit: rt.maxBody, stall: c.cfg.HeaderTimeout, ctl: http.NewResponseController(w)}
		defer b.done()
	}

	direct := directOK(r, upgrade)
	var out *http.Request
	var dr directReq
	if direct {
		if _, ok := h["Expect"]; ok {
			delete(h, "Expect") // the server already answered the client's 100-continue
		}
		// writeRequest frames the body itself: a client's Content-Length left in the header would be sent
		// twice, which strict upstreams (Node's llhttp) reject with a bare 400.
		delete(h, "Content-Length")
		delete(h, "Transfer-Encoding")
		delete(h, "Host") // writeRequest sends r.Host; net/http never leaves Host in the map, other servers might
		dr = directReq{method: r.Method, path: fwdPath, query: r.URL.RawQuery, host: r.Host, header: h,
			extra: x, contentLength: r.ContentLength, body: b, ctx: r.Context()}
		if !rewritten && r.URL.RawPath != "" {
			dr.path = r.URL.RawPath
		} else if pathNeedsEscape(fwdPath) {
			dr.path = (&url.URL{Path: fwdPath}).EscapedPath()
		}
	} else {
		x.addTo(h)
		if _, ok := h["User-Agent"]; !ok {
			h["User-Agent"] = emptyValue // do not let the transport add Go's default
		}
		out = new(http.Request)
		*out = *r // keeps the request's context: a client that goes away cancels the upstream call
		u := &url.URL{Scheme: "http", Path: fwdPath, RawQuery: r.URL.RawQuery}
		if !rewritten {
			u.RawPath = r.URL.RawPath
		}
		out.URL = u
		out.RequestURI = ""
		out.Close = false
		out.Header = h
		out.Body, out.GetBody = nil, nil
		if b != nil {
			out.Body = b
		}
	}

	deadline := time.Now().Add(c.cfg.WaitReady)
	var skip *instance
	var res *http.Response
	var in *instance
	var uc *upConn
	for attempt := 0; ; attempt++ {
		in = rt.pool.acquire(r.Context(), rt.leastConn, skip, time.Until(deadline))
		if in == nil {
			if r.Context().Err() != nil {
				lg.status = 499
				return
			}
			w.Header()["Retry-After"] = []string{"1"}
			lg.gatewayError(w, http.StatusServiceUnavailable, "service_unavailable", rt.pool.unavailable(c.cfg.WaitReady))
			return
		}
		lg.upstream = in.addr
		in.inFlight.Add(1)
		var err error
		if direct {
			res, uc, err = in.roundTrip(&dr, rt.timeout, rt.connLifetime)
		} else {
			out.URL.Host = in.addr
			res, err = rt.transport.RoundTrip(out)
		}
		if err == nil {
			in.markUp()
			b.done() // the upstream answered: from here on the body is its business
			break
		}
		in.inFlight.Add(-1)
		switch {
		case b != nil && b.tooBig:
			lg.status = writeError(w, http.StatusRequestEntityTooLarge, "payload_too_large", fmt.Sprintf("request body exceeds the limit of %d bytes", rt.maxBody))
			return
		case b.isStalled():
			w.Header()["Connection"] = []string{"close"}
			lg.status = writeError(w, http.StatusRequestTimeout, "request_timeout",
				fmt.Sprintf("the request body stopped arriving: no bytes for %s (the gateway's header_timeout)", c.cfg.HeaderTimeout))
			return
		case r.Context().Err() != nil:
			lg.status = 499 // client closed the request
			return
		case b.badBody() != nil:
			// the client's body broke (malformed chunked coding, cut short): its mistake, not the
			// upstream's; the connection cannot be trusted for another request
			w.Header()["Connection"] = []string{"close"}
			lg.status = writeError(w, http.StatusBadRequest, "bad_request", "cannot read the request body: "+b.badBody().Error())
			return
		}
		consumed := b != nil && b.read
		if isDialError(err) {
			in.markDown()
			if !consumed && attempt < 20 && time.Now().Before(deadline) {
				skip = in
				continue
			}
		} else if !consumed && idempotent(r.Method) && attempt < 2 {
			skip = in
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			lg.gatewayError(w, http.StatusGatewayTimeout, "upstream_timeout", fmt.Sprintf("service %q (%s) did not answer in time", rt.Service, in.addr))
			return
		}
		c.g.log.Debug("upstream error", "service", rt.Service, "addr", in.addr, "err", err)
		lg.gatewayError(w, http.StatusBadGateway, "bad_gateway", fmt.Sprintf("service %q (%s): %v", rt.Service, in.addr, err))
		return
	}
	defer in.inFlight.Add(-1)
	bodyOK := false
	defer func() {
		if uc != nil {
			in.release(uc, bodyOK && !res.Close)
		}
		res.Body.Close()
	}()

	if res.StatusCode == http.StatusSwitchingProtocols {
		lg.status = c.switchProtocols(w, res, upgrade, lg)
		return
	}
	wh := w.Header()
	for k, vv := range res.Header {
		if k == "X-Request-Id" || k == "Traceresponse" && lg.trace.on {
			continue
		}
		if prev, ok := wh[k]; ok && (k == "Vary" || k == "Ratelimit" || k == "Ratelimit-Policy") {
			wh[k] = append(prev, vv...)
			continue
		}
		wh[k] = vv
	}
	removeHopHeaders(wh)
	if mustClose(r) {
		wh["Connection"] = closeValue
	}
	if len(res.Trailer) > 0 {
		names := make([]string, 0, len(res.Trailer))
		for k := range res.Trailer {
			names = append(names, k)
		}
		wh["Trailer"] = []string{strings.Join(names, ", ")}
	}
	w.WriteHeader(res.StatusCode)
	lg.status = res.StatusCode
	bp := bufPool.Get().(*[]byte)
	var n int64
	var err error
	stream := res.ContentLength == -1 || strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream")
	n, err = copyResponse(w, res.Body, *bp, stream, c.cfg.SendTimeout)
	bufPool.Put(bp)
	lg.bytes = n
	bodyOK = err == nil
	if err != nil && r.Context().Err() == nil {
		// the upstream broke off mid-body, or the client stopped reading: abort, so that the client
		// sees a truncated response and not a clean end, and the upstream connection is dropped
		c.g.log.Debug("copy response", "service", rt.Service, "err", err)
		panic(http.ErrAbortHandler)
	}
	for k, vv := range res.Trailer {
		wh[http.TrailerPrefix+k] = vv
	}
}

func idempotent(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	return false
}

// copyResponse copies a response body to the client. Every write may block for sendTO at most: a
// client that stops reading is cut (as nginx's send_timeout does) instead of holding the handler and
// the upstream connection. With flush, what is read is sent on at once (streams, events).
func copyResponse(w http.ResponseWriter, src io.Reader, buf []byte, flush bool, sendTO time.Duration) (int64, error) {
	rc := http.NewResponseController(w)
	deadlines := sendTO > 0
	var n int64
	for {
		nr, rerr := src.Read(buf)
		if nr > 0 {
			if deadlines && rc.SetWriteDeadline(time.Now().Add(sendTO)) != nil {
				deadlines = false // not supported by this connection
			}
			nw, werr := w.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n, werr
			}
			if flush {
				if err := rc.Flush(); err != nil {
					return n, err
				}
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// switchProtocols completes a WebSocket (or other) upgrade by splicing the two connections.
func (c *chain) switchProtocols(w http.ResponseWriter, res *http.Response, want string, lg *reqLog) int {
	up, ok := res.Body.(io.ReadWriteCloser)
	if !ok || want == "" || !strings.EqualFold(want, res.Header.Get("Upgrade")) {
		return writeError(w, http.StatusBadGateway, "bad_gateway", "upstream switched to a protocol the client did not ask for")
	}
	defer up.Close()
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return writeError(w, http.StatusInternalServerError, "upgrade_failed", "cannot upgrade this connection: "+err.Error())
	}
	defer conn.Close()
	untrack := c.g.trackConn(conn)
	defer untrack()
	_ = conn.SetDeadline(time.Time{})
	h := res.Header.Clone()
	h["X-Request-Id"] = w.Header()["X-Request-Id"]
	if lg.trace.on {
		h["Traceresponse"] = w.Header()["Traceresponse"]
	}
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\n")
	_ = h.Write(brw)
	_, _ = brw.WriteString("\r\n")
	err = brw.Flush()
	lg.switched = time.Now() // the span is the handshake's, not the tunnel's
	if err != nil {
		return http.StatusSwitchingProtocols
	}
	errc := make(chan error, 2)
	go func() { errc <- copyConn(up, brw.Reader) }()
	go func() { errc <- copyConn(conn, up) }()
	<-errc
	conn.Close()
	up.Close()
	<-errc
	return http.StatusSwitchingProtocols
}

func copyConn(dst io.Writer, src io.Reader) error {
	_, err := io.Copy(dst, src)
	return err
}
