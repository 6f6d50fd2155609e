package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// The fast path serves the plain HTTP listener on event loops (github.com/panjf2000/gnet): one
// loop per CPU, each owning its client connections and its own kept-alive upstream connections,
// like nginx's workers. A request that is plain HTTP/1.1 with a small body, routed to a service,
// is parsed, checked (route, token, scopes, rate limits) and forwarded without a goroutine switch,
// and the upstream's answer is copied back as it arrives.
//
// Everything else leaves the fast path, so net/http keeps serving it exactly as before:
//   - handoff: at a request boundary the client connection (with the bytes already read) is given
//     to the net/http server for good. That happens for anything unusual in the request (protocol
//     upgrades, chunked or large bodies, Expect, other HTTP versions, escapes or dot segments in
//     the path, odd header bytes), for routes with CORS requests or a concurrency limit, for the
//     gateway's own endpoints, and whenever the gateway itself would answer with an error
//     (404, 405, 401, 403, 413, no ready instance), so those answers come from one place.
//   - detach: an upstream response that is streamed (chunked, without length, event streams) or
//     large is finished by a goroutine with blocking I/O (so a slow client holds back the
//     upstream instead of filling memory); the client connection then returns to the loop.
// Only three answers are written by the fast path itself: 429 from a rate limit, 502 when an
// upstream fails after the request was sent, 504 on an upstream timeout.

const (
	maxFastResp    = 1 << 20 // larger responses are finished by a goroutine (backpressure)
	maxPipelined   = 1 << 20 // bytes a client may send ahead while a request is in flight
	fastSweepEvery = 25 * time.Millisecond
	fastIdle       = 2 * time.Minute // idle keep-alive client connections (as http.Server.IdleTimeout)
)

// fastServer is the gnet event handler of the plain HTTP listener.
type fastServer struct {
	gnet.BuiltinEventEngine
	g         *Gateway
	ctx       context.Context // ends when the gateway stops
	headerTO  time.Duration   // Config.HeaderTimeout: request heads and bodies, first request
	sendTO    time.Duration   // Config.SendTimeout: a client that reads nothing of its answers
	eng       gnet.Engine
	booted    chan struct{}
	addr      string
	loops     sync.Map // gnet.EventLoop -> *floop
	handoffCh chan net.Conn
	active    atomic.Int64 // requests in progress on the fast path (shutdown waits for them)
	// counters (tests and metrics): requests answered on the loops, connections handed to
	// net/http, responses finished by a goroutine
	served, handoffs, detaches atomic.Int64
	wg                         sync.WaitGroup
}

// floop is the state of one event loop; only that loop's goroutine touches it.
type floop struct {
	s     *fastServer
	el    gnet.EventLoop
	conns map[*fconn]struct{}
	ups   map[*fup]struct{}
	idle  map[*instance][]*fup
	out   []byte // scratch for response heads
	cur   gnet.Conn
	close bool // the connection in cur is to be closed when its callback returns
	date  []byte
	dateS int64
	ids   idBlock
}

// client connection states
const (
	cIdle     = iota // between requests (or reading one)
	cAuth            // waiting for a token verification goroutine
	cUpstream        // the request is at an upstream
	cDetached        // a goroutine finishes the response
	cDrain           // waiting for the outbound buffer to drain before leaving the loop
	cGone
)

// pending actions for cDrain
const (
	drainClose = iota + 1
	drainHandoff
	drainDetach
	drainNext // a pipelining client has too much unread output: serve its next request once it reads
)

type fconn struct {
	loop       *floop
	c          gnet.Conn
	ip         string
	st         uint8
	drain      uint8
	drainSince int64 // when cDrain began or the client last read (unix nanos): one that reads nothing for the send timeout is cut
	drainLeft  int   // output still queued at drainSince
	gen        uint32
	buf        []byte // the current request as read (head + body)
	h          reqHead
	headStart  int64 // when the first byte of the current request arrived (0: none yet)
	lastActive int64
	lastHost   string
	lastPath   string
	// the last verified token on this connection (clients reuse theirs): saves the cache lookup
	lastTok    string
	lastPrin   *principal
	lastVer    *verifier
	req        fastReq
	detachTo   chan detachedClient
	handoffPre []byte
}

type fastReq struct {
	active   bool
	start    time.Time
	ch       *chain
	rt       *route
	rid      string
	prin     *principal
	auth     string
	rl       []byte // RateLimit header lines for the response
	fwd      []byte // what is sent upstream
	in       *instance
	skip     *instance
	attempt  int
	up       *fup
	careful  bool // not idempotent, or has a body: never resent once it may have arrived
	started  bool // response bytes went to the client
	status   int
	bytes    int64
	close    bool
	fwdPath  string // the path sent upstream (strip_prefix / rewrite applied)
	upstream string
	trace    traceCtx // on: tracing is on
	errMsg   string   // the gateway's own failure (502, 504) for the span
}

// upstream connection states
const (
	uConnecting = iota
	uIdle
	uBusy
	uGone
)

type fup struct {
	loop     *floop
	c        gnet.Conn
	in       *instance
	st       uint8
	cl       *fconn
	gen      uint32
	uses     int
	lastUsed int64
	expires  int64 // unix nanos: not reused from then on (upstream_conn_lifetime); 0: never
	deadline int64 // response head due (unix nanos), 0: none
	headDone bool
	remain   int64
	resp     respHead
}

func newFastServer(g *Gateway, ctx context.Context, headerTO, sendTO time.Duration) *fastServer {
	return &fastServer{g: g, ctx: ctx, headerTO: headerTO, sendTO: sendTO, booted: make(chan struct{}), handoffCh: make(chan net.Conn)}
}

func (s *fastServer) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	if fd, err := eng.Dup(); err == nil {
		if sa, err := unix.Getsockname(fd); err == nil {
			switch a := sa.(type) {
			case *unix.SockaddrInet4:
				s.addr = net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
			case *unix.SockaddrInet6:
				s.addr = net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
			}
		}
		_ = unix.Close(fd)
	}
	close(s.booted)
	return gnet.None
}

func (s *fastServer) loop(el gnet.EventLoop) *floop {
	if v, ok := s.loops.Load(el); ok {
		return v.(*floop)
	}
	v, _ := s.loops.LoadOrStore(el, &floop{s: s, el: el, conns: map[*fconn]struct{}{}, ups: map[*fup]struct{}{}, idle: map[*instance][]*fup{}})
	return v.(*floop)
}

func (s *fastServer) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if u, ok := c.Context().(*fup); ok {
		u.opened(c)
		return nil, gnet.None
	}
	l := s.loop(c.EventLoop())
	fc := &fconn{loop: l, c: c, lastActive: time.Now().UnixNano()}
	if _, ok := c.Context().(returning); ok {
		fc.gen = 1 // a kept-alive client back from a detached response: idle rules, not first-request ones
	}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		fc.ip = a.IP.String()
	} else if c.RemoteAddr() != nil {
		fc.ip = c.RemoteAddr().String()
	}
	c.SetContext(fc)
	l.conns[fc] = struct{}{}
	return nil, gnet.None
}

// returning marks a client connection enrolled again after a goroutine finished its response.
type returning struct{}

// loopConn is a connection's state on its loop: a client (fconn) or an upstream (fup).
type loopConn interface {
	floop() *floop
	traffic()
}

func (fc *fconn) floop() *floop { return fc.loop }
func (u *fup) floop() *floop    { return u.loop }

func (s *fastServer) OnTraffic(c gnet.Conn) gnet.Action {
	x, ok := c.Context().(loopConn)
	if !ok {
		return gnet.Close
	}
	l := x.floop()
	l.cur, l.close = c, false
	x.traffic()
	l.cur = nil
	if l.close {
		return gnet.Close
	}
	return gnet.None
}

func (s *fastServer) OnClose(c gnet.Conn, err error) gnet.Action {
	switch x := c.Context().(type) {
	case *fconn:
		x.closed()
	case *fup:
		x.closed(err)
	}
	return gnet.None
}

// OnTick runs on gnet's ticker goroutine: it schedules a sweep (timeouts, drains) on every loop.
func (s *fastServer) OnTick() (time.Duration, gnet.Action) {
	s.loops.Range(func(_, v any) bool {
		l := v.(*floop)
		_ = l.el.Execute(s.ctx, gnet.RunnableFunc(func(context.Context) error { l.sweep(); return nil }))
		return true
	})
	return fastSweepEvery, gnet.None
}

// closeConn closes c from inside a loop callback: the connection whose callback runs is closed
// by its return value, any other at once.
func (l *floop) closeConn(c gnet.Conn) {
	if c == l.cur {
		l.close = true
		return
	}
	_ = l.el.Close(c)
}

func (l *floop) httpDate(now time.Time) []byte {
	if sec := now.Unix(); sec != l.dateS || l.date == nil {
		l.dateS = sec
		l.date = now.UTC().AppendFormat(l.date[:0], "Mon, 02 Jan 2006 15:04:05 GMT")
	}
	return l.date
}

// sweep enforces timeouts and finishes drains; it runs on the loop every fastSweepEvery.
func (l *floop) sweep() {
	now := time.Now()
	nn := now.UnixNano()
	for fc := range l.conns {
		switch fc.st {
		case cIdle:
			if fc.headStart != 0 && nn-fc.headStart > int64(l.s.headerTO) {
				l.s.g.log.Debug("fast path: request head/body timeout", "client", fc.ip)
				fc.st = cGone
				_ = l.el.Close(fc.c)
			} else if fc.headStart == 0 && (nn-fc.lastActive > int64(fastIdle) || fc.gen == 0 && nn-fc.lastActive > int64(l.s.headerTO)) {
				// idle between requests too long, or connected and never sent a request (net/http
				// applies its header timeout to the first request too)
				fc.st = cGone
				_ = l.el.Close(fc.c)
			}
		case cDrain:
			if left := fc.c.OutboundBuffered(); left == 0 {
				fc.finishDrain()
			} else if left != fc.drainLeft {
				fc.drainLeft, fc.drainSince = left, nn // the client reads: the send timeout starts again
			} else if nn-fc.drainSince > int64(l.s.sendTO) {
				l.s.g.log.Debug("fast path: client stopped reading (send timeout)", "client", fc.ip)
				fc.st = cGone
				_ = l.el.Close(fc.c)
			}
		}
	}
	for u := range l.ups {
		switch u.st {
		case uBusy:
			if u.deadline != 0 && nn > u.deadline && !u.headDone {
				u.timeout()
			}
		case uIdle:
			if u.in.gone.Load() || nn-u.lastUsed > int64(idleMax) || u.expired(nn) {
				u.st = uGone
				_ = l.el.Close(u.c)
			}
		}
	}
}

// traffic handles bytes from a client.
func (fc *fconn) traffic() {
	if fc.st != cIdle {
		if len(peekAll(fc.c)) > maxPipelined {
			fc.st = cGone
			fc.loop.closeConn(fc.c)
		}
		return // read once the current request is done
	}
	fc.next()
}

func peekAll(c gnet.Conn) []byte {
	b, _ := c.Peek(-1)
	return b
}

// next starts the next request from the buffered bytes, if a whole one is there.
func (fc *fconn) next() {
	buf := peekAll(fc.c)
	if len(buf) == 0 {
		fc.headStart = 0
		return
	}
	if fc.c.OutboundBuffered() > maxFastResp {
		// pipelined requests while the client reads nothing of the answers: stop serving them
		// (backpressure) instead of piling answers up in memory
		fc.drainThen(drainNext)
		return
	}
	if fc.headStart == 0 {
		fc.headStart = time.Now().UnixNano()
	}
	headLen, handoff := requestHead(buf)
	if headLen < 0 {
		if handoff {
			fc.handoff(nil)
		}
		return
	}
	fc.buf = append(fc.buf[:0], buf[:headLen]...)
	bstr := unsafe.String(unsafe.SliceData(fc.buf), len(fc.buf))
	if !parseRequest(fc.buf, bstr, &fc.h) || fc.h.contentLen > maxFastBody {
		fc.handoff(nil)
		return
	}
	need := headLen + int(max(fc.h.contentLen, 0))
	if len(buf) < need {
		return // the body is still coming
	}
	if need > headLen {
		fc.buf = append(fc.buf, buf[headLen:need]...)
		if unsafe.SliceData(fc.buf) != unsafe.StringData(bstr) {
			// the buffer moved: parse again so the strings point into it
			bstr = unsafe.String(unsafe.SliceData(fc.buf), headLen)
			parseRequest(fc.buf[:headLen], bstr, &fc.h)
		}
	}
	_, _ = fc.c.Discard(need)
	fc.headStart = 0
	fc.gen++
	fc.serve()
}

// handoff gives the connection to the net/http server, with the current request's bytes (when it
// was taken out of gnet's buffer already) followed by whatever gnet still holds.
func (fc *fconn) handoff(cur []byte) {
	if fc.st == cGone {
		return
	}
	fc.endRequest()
	if fc.c.OutboundBuffered() > 0 {
		fc.drainThen(drainHandoff)
		fc.handoffPre = append(fc.handoffPre[:0], cur...)
		return
	}
	pre := make([]byte, 0, len(cur)+fc.c.InboundBuffered()+512)
	pre = append(pre, cur...)
	pre = append(pre, peekAll(fc.c)...)
	nc, err := dupConn(fc.c)
	fc.st = cGone
	fc.loop.closeConn(fc.c)
	if err != nil {
		fc.loop.s.g.log.Warn("fast path: cannot hand a connection to net/http", "err", err)
		return
	}
	s := fc.loop.s
	s.handoffs.Add(1)
	s.toNetHTTP(&prefixConn{Conn: nc, pre: pre})
}

// toNetHTTP gives a connection to the net/http server (without blocking the caller).
func (s *fastServer) toNetHTTP(pc *prefixConn) {
	go func() {
		select {
		case s.handoffCh <- pc:
		case <-s.ctx.Done():
			pc.Close()
		}
	}()
}

// dupConn returns a net.Conn on a duplicate of c's socket; closing c afterwards leaves it open.
func dupConn(c gnet.Conn) (net.Conn, error) {
	fd, err := c.Dup()
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "gateway-conn")
	defer f.Close()
	return net.FileConn(f)
}

// prefixConn replays bytes already read from the connection before reading it further.
type prefixConn struct {
	net.Conn
	pre []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.pre) > 0 {
		n := copy(b, p.pre)
		p.pre = p.pre[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// serve runs the gateway pipeline for the parsed request in fc.buf.
func (fc *fconn) serve() {
	h := &fc.h
	ch := fc.loop.s.g.cur.Load()
	rt, _ := ch.match(h.host, h.path, h.method)
	if rt == nil || rt.sem != nil || rt.cors != nil && h.origin || h.contentLen > rt.maxBody {
		fc.handoff(fc.buf)
		return
	}
	fwdPath := rt.upstreamPath(h.path)
	if pathNeedsEscape(fwdPath) {
		fc.handoff(fc.buf)
		return
	}
	fc.req = fastReq{active: true, start: time.Now(), ch: ch, rt: rt, rl: fc.req.rl[:0], fwd: fc.req.fwd[:0], close: h.connClose, fwdPath: fwdPath}
	fc.loop.s.active.Add(1)
	if rt.auth == authNone {
		fc.req.auth = "none"
		fc.authorized(nil)
		return
	}
	if h.nAuth > 1 || strings.Contains(h.query, "access_token") {
		fc.handoff(fc.buf)
		return
	}
	if h.nAuth == 0 || h.auth == "" {
		if rt.auth == authOptional {
			fc.req.auth = "none"
			fc.authorized(nil)
			return
		}
		fc.handoff(fc.buf)
		return
	}
	raw, ok := bearer(h.auth)
	if !ok {
		fc.handoff(fc.buf)
		return
	}
	if fc.lastPrin != nil && fc.lastVer == ch.ver && raw == fc.lastTok && ch.ver.valid(fc.lastPrin, ch.ver.now()) {
		fc.checked(fc.lastPrin)
		return
	}
	if p := ch.ver.cached(raw); p != nil {
		fc.lastTok, fc.lastPrin, fc.lastVer = strings.Clone(raw), p, ch.ver
		fc.checked(p)
		return
	}
	// verify off the loop (it may fetch a JWKS), then continue here
	fc.st = cAuth
	gen, l, ver, tok := fc.gen, fc.loop, ch.ver, strings.Clone(raw)
	go func() {
		p, err := ver.verify(l.s.ctx, tok)
		_ = l.el.Execute(l.s.ctx, gnet.RunnableFunc(func(context.Context) error {
			if fc.st != cAuth || fc.gen != gen {
				return nil
			}
			fc.st = cIdle
			if err != nil {
				fc.handoff(fc.buf) // net/http answers 401 with the reason
				return nil
			}
			fc.checked(p)
			return nil
		}))
	}()
}

func (fc *fconn) checked(p *principal) {
	if _, _, refused := fc.req.rt.refusal(p); refused {
		fc.handoff(fc.buf) // 403 from net/http
		return
	}
	fc.req.auth = "ok"
	fc.authorized(p)
}

// authorized applies rate limits, builds the upstream request and sends it.
func (fc *fconn) authorized(p *principal) {
	r := &fc.req
	r.prin = p
	ch, rt, h := r.ch, r.rt, &fc.h
	r.rid = fc.requestID()
	if fc.loop.s.g.spans != nil {
		r.trace = newTrace(h.traceparent, h.nTraceparent, &fc.loop.ids)
		r.rl = append(r.rl, "Traceresponse: "...)
		r.rl = r.trace.appendHeader(r.rl)
		r.rl = append(r.rl, "\r\n"...)
	}
	bstr := unsafe.String(unsafe.SliceData(fc.buf), h.headEnd)
	var ok bool
	if ch.global != nil {
		if r.rl, ok = ch.global.appendLines(r.rl, fc.limitKey(ch.global, bstr)); !ok {
			fc.nativeError(429, "rate_limited", "stack-wide rate limit exceeded; retry after the number of seconds in Retry-After")
			return
		}
	}
	if rt.limiter != nil {
		if r.rl, ok = rt.limiter.appendLines(r.rl, fc.limitKey(rt.limiter, bstr)); !ok {
			fc.nativeError(429, "rate_limited", fmt.Sprintf("rate limit of route %s exceeded; retry after the number of seconds in Retry-After", rt.Path))
			return
		}
	}
	fc.buildForward()
	r.careful = h.contentLen > 0 || !idempotent(h.method)
	fc.dispatch()
}

func (fc *fconn) limitKey(l *limiter, bstr string) string {
	switch l.keyKind {
	case "global":
		return ""
	case "sub":
		if p := fc.req.prin; p != nil && p.sub != "" {
			return "sub:" + p.sub
		}
	case "header":
		if v := findHeader(fc.buf, bstr, fc.h.hdrs, l.header); v != "" {
			return "h:" + v
		}
	}
	return fc.ip
}

// requestID is the client's X-Request-Id when it is sane, or a new random one (as on net/http).
func (fc *fconn) requestID() string {
	if h := &fc.h; h.nRequestID == 1 && validRequestID(h.requestID) {
		return strings.Clone(h.requestID)
	}
	return fc.loop.ids.next()
}

// buildForward writes the upstream request into fc.req.fwd: the same headers as the net/http path.
func (fc *fconn) buildForward() {
	r, h, b := &fc.req, &fc.h, fc.buf
	w := r.fwd[:0]
	w = append(w, h.method...)
	w = append(w, ' ')
	w = append(w, r.fwdPath...)
	if h.query != "" {
		w = append(w, '?')
		w = append(w, h.query...)
	}
	w = append(w, " HTTP/1.1\r\nHost: "...)
	w = append(w, h.host...)
	w = append(w, "\r\n"...)
	for i := range h.hdrs {
		s := &h.hdrs[i]
		switch s.kind {
		case hHost, hContentLength, hConnection, hHop, hRequestID, hXFF, hXFProto, hXFHost, hXAuth:
			continue
		case hTraceparent:
			if r.trace.on {
				continue // replaced: the upstream's parent is the gateway's span
			}
		case hTracestate:
			if r.trace.on && !r.trace.keepState {
				continue // belongs to a trace that is not continued
			}
		}
		w = appendHeaderLine(w, b, s)
	}
	w = append(w, "X-Request-Id: "...)
	w = append(w, r.rid...)
	w = append(w, "\r\nX-Forwarded-For: "...)
	if h.xffPrior > 0 {
		for i := range h.hdrs {
			if s := &h.hdrs[i]; s.kind == hXFF {
				w = append(w, b[s.vs:s.ve]...)
				w = append(w, ", "...)
			}
		}
	}
	w = append(w, fc.ip...)
	w = append(w, "\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: "...)
	w = append(w, h.host...)
	w = append(w, "\r\n"...)
	if p := r.prin; p != nil {
		w = append(w, "X-Auth-Subject: "...)
		w = append(w, p.sub...)
		w = append(w, "\r\nX-Auth-Scopes: "...)
		w = append(w, p.scopesHeader...)
		w = append(w, "\r\n"...)
	}
	if r.trace.on {
		w = append(w, "Traceparent: "...)
		w = r.trace.appendHeader(w)
		w = append(w, "\r\n"...)
	}
	if h.contentLen > 0 {
		w = append(w, "Content-Length: "...)
		w = strconv.AppendInt(w, h.contentLen, 10)
		w = append(w, "\r\n"...)
	} else if h.method == "POST" || h.method == "PUT" || h.method == "PATCH" {
		w = append(w, "Content-Length: 0\r\n"...)
	}
	w = append(w, "\r\n"...)
	w = append(w, b[h.headEnd:]...)
	r.fwd = w
}

// dropInstance ends the request's claim on its instance (in-flight count for least_conn).
func (r *fastReq) dropInstance() {
	if r.in != nil {
		r.in.inFlight.Add(-1)
		r.in = nil
	}
}

// appendHeaderLine appends header line s of buffer b as "Name: value\r\n".
func appendHeaderLine(w, b []byte, s *span) []byte {
	w = append(w, b[s.ns:s.ne]...)
	w = append(w, ": "...)
	w = append(w, b[s.vs:s.ve]...)
	return append(w, "\r\n"...)
}

// dispatch picks an instance and sends the request on a kept-alive or new connection.
func (fc *fconn) dispatch() {
	r := &fc.req
	in := r.rt.pool.pick(r.rt.leastConn, r.skip)
	if in == nil {
		fc.handoff(fc.buf) // net/http waits (bounded) for a ready instance
		return
	}
	r.in = in
	r.upstream = in.addr
	in.inFlight.Add(1)
	fc.st = cUpstream
	l := fc.loop
	if u := l.getIdle(in, r.careful, r.start.UnixNano()); u != nil {
		u.send(fc)
		return
	}
	l.dial(in, fc)
}

func (l *floop) getIdle(in *instance, careful bool, now int64) *fup {
	list := l.idle[in]
	for len(list) > 0 {
		u := list[len(list)-1]
		list = list[:len(list)-1]
		l.idle[in] = list
		age := now - u.lastUsed
		if age > int64(idleMax) || u.expired(now) || (careful || age > int64(idleCheckAfter)) && !fdAlive(u.c.Fd()) {
			u.st = uGone
			_ = l.el.Close(u.c)
			list = l.idle[in]
			continue
		}
		return u
	}
	return nil
}

// fdAlive peeks at an idle upstream socket without blocking: EOF, an error or unsolicited bytes
// (on an idle HTTP/1.1 connection: do not trust it) mean it is done.
func fdAlive(fd int) bool {
	var b [1]byte
	n, _, err := unix.Recvfrom(fd, b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	return err == unix.EAGAIN && n <= 0
}

func (l *floop) putIdle(u *fup, now int64) {
	u.st, u.cl = uIdle, nil
	u.lastUsed = now
	if len(l.idle[u.in]) >= maxIdlePerInstance || u.in.gone.Load() || u.expired(now) {
		u.st = uGone
		l.closeConn(u.c)
		return
	}
	l.idle[u.in] = append(l.idle[u.in], u)
}

// expired reports whether u outlived upstream_conn_lifetime (see upConn.expired).
func (u *fup) expired(now int64) bool { return u.expires != 0 && now >= u.expires }

func (l *floop) dropIdle(u *fup) {
	list := l.idle[u.in]
	for i, x := range list {
		if x == u {
			l.idle[u.in] = append(list[:i], list[i+1:]...)
			return
		}
	}
}

// dial connects to in off the loop and registers the connection here; fc's request goes on it.
func (l *floop) dial(in *instance, fc *fconn) {
	u := &fup{loop: l, in: in, st: uConnecting, cl: fc, gen: fc.gen}
	if lt := fc.req.rt.connLifetime; lt > 0 {
		u.expires = time.Now().Add(lt).UnixNano()
	}
	fc.req.up = u
	s := l.s
	go func() {
		c, err := dialer.DialContext(s.ctx, "tcp", in.addr)
		if err == nil {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetNoDelay(true)
			}
			var ch <-chan gnet.RegisteredResult
			ch, err = l.el.Enroll(gnet.NewContext(s.ctx, u), c)
			if err == nil {
				if res := <-ch; res.Err != nil {
					err = res.Err
				}
			} else {
				c.Close()
			}
		}
		if err != nil {
			_ = l.el.Execute(s.ctx, gnet.RunnableFunc(func(context.Context) error { u.dialFailed(err); return nil }))
		}
	}()
}

func (u *fup) opened(c gnet.Conn) {
	u.c = c
	l := u.loop
	l.ups[u] = struct{}{}
	if fc := u.owner(); fc != nil {
		u.send(fc)
		return
	}
	l.putIdle(u, time.Now().UnixNano())
}

func (u *fup) dialFailed(err error) {
	fc := u.owner()
	u.st = uGone
	if fc == nil {
		return
	}
	r := &fc.req
	r.up = nil
	if isDialError(err) {
		r.in.markDown()
	}
	r.skip = r.in
	r.dropInstance()
	r.attempt++
	fc.st = cIdle
	if r.attempt < 20 {
		fc.dispatch()
		return
	}
	fc.handoff(fc.buf)
}

// owner returns the client whose current request u carries, or nil when there is none any more
// (the client left, or its request moved on to another connection).
func (u *fup) owner() *fconn {
	if fc := u.cl; fc != nil && fc.st == cUpstream && fc.gen == u.gen && fc.req.up == u {
		return fc
	}
	return nil
}

// send writes fc's request on u.
func (u *fup) send(fc *fconn) {
	r := &fc.req
	u.st, u.cl, u.gen = uBusy, fc, fc.gen
	u.headDone, u.remain = false, 0
	u.uses++
	r.up = u
	if to := r.rt.timeout; to > 0 {
		base := r.start
		if r.attempt > 0 || u.uses == 1 {
			base = time.Now() // after a retry or a dial
		}
		u.deadline = base.Add(to).UnixNano()
	} else {
		u.deadline = 0
	}
	_, _ = u.c.Write(r.fwd) // a failed write closes u; closed() handles the request
}

// traffic handles bytes from an upstream.
func (u *fup) traffic() {
	l := u.loop
	fc := u.owner()
	if u.st != uBusy || fc == nil {
		// bytes nobody asked for (or for a request that is gone): this connection is done
		u.st = uGone
		l.closeConn(u.c)
		return
	}
	r := &fc.req
	buf := peekAll(u.c)
	if !u.headDone {
		for {
			headLen, over := findHead(buf, maxRespHead)
			if headLen < 0 {
				if over {
					u.fail(errors.New("response head too large"))
				}
				return
			}
			if !parseResponse(buf[:headLen], &u.resp) {
				u.fail(errors.New("malformed response"))
				return
			}
			if u.resp.status == 101 {
				u.fail(errors.New("upstream switched protocols without being asked"))
				return
			}
			if u.resp.status < 200 {
				_, _ = u.c.Discard(headLen) // 1xx informational: the real answer follows
				buf = buf[headLen:]
				continue
			}
			u.headDone = true
			r.in.markUp()
			rh := &u.resp
			if fc.h.method == "HEAD" || rh.status == 204 || rh.status == 304 {
				u.remain = 0
			} else if rh.chunked || rh.contentLen < 0 || rh.eventStr || rh.contentLen > maxFastResp {
				u.detach()
				return
			} else {
				u.remain = rh.contentLen
			}
			out := l.responseHead(fc, buf[:headLen], rh)
			n := min(int64(len(buf)-headLen), u.remain)
			out = append(out, buf[headLen:headLen+int(n)]...)
			l.out = out
			r.started, r.status = true, rh.status
			_, _ = u.c.Discard(headLen + int(n))
			u.remain -= n
			r.bytes += n
			buf = buf[headLen+int(n):]
			_, _ = fc.c.Write(out)
			break
		}
	} else if u.remain > 0 {
		n := min(int64(len(buf)), u.remain)
		_, _ = fc.c.Write(buf[:n])
		_, _ = u.c.Discard(int(n))
		u.remain -= n
		r.bytes += n
		buf = buf[n:]
	}
	if fc.st != cUpstream {
		// the client went away while we wrote
		u.st = uGone
		l.closeConn(u.c)
		return
	}
	if u.remain > 0 {
		return
	}
	// the response is complete
	now := time.Now()
	reuse := !u.resp.close && len(buf) == 0
	r.up = nil
	if reuse {
		l.putIdle(u, now.UnixNano())
	} else {
		u.st = uGone
		l.closeConn(u.c)
	}
	fc.finishAt(now)
}

// responseHead builds the client's response head from the upstream's.
func (l *floop) responseHead(fc *fconn, head []byte, rh *respHead) []byte {
	r := &fc.req
	out := statusLine(l.out[:0], rh.status)
	for i := range rh.hdrs {
		s := &rh.hdrs[i]
		if rh.drop(head, s) || s.kind == hTraceresponse && r.trace.on {
			continue
		}
		out = appendHeaderLine(out, head, s)
	}
	out = append(out, "X-Request-Id: "...)
	out = append(out, r.rid...)
	out = append(out, "\r\n"...)
	out = append(out, r.rl...)
	if !rh.hasDate {
		out = append(out, "Date: "...)
		out = append(out, l.httpDate(time.Now())...)
		out = append(out, "\r\n"...)
	}
	if r.close {
		out = append(out, "Connection: close\r\n"...)
	}
	return append(out, "\r\n"...)
}

// finish ends a request that was answered in full.
func (fc *fconn) finish() { fc.finishAt(time.Now()) }

func (fc *fconn) finishAt(now time.Time) {
	fc.endRequestAt(now)
	fc.lastActive = now.UnixNano()
	if fc.req.close {
		fc.closeAfterDrain()
		return
	}
	fc.st = cIdle
	fc.next()
}

func (fc *fconn) closeAfterDrain() {
	if fc.c.OutboundBuffered() > 0 {
		fc.drainThen(drainClose)
		return
	}
	fc.st = cGone
	fc.loop.closeConn(fc.c)
}

// endRequest records the access log line and metrics of the current request, once.
func (fc *fconn) endRequest() { fc.endRequestAt(time.Now()) }

func (fc *fconn) endRequestAt(now time.Time) {
	r := &fc.req
	if !r.active {
		return
	}
	r.active = false
	fc.loop.s.active.Add(-1)
	r.dropInstance()
	if r.status == 0 {
		return // handed off: net/http logs it
	}
	if fc.lastHost != fc.h.host {
		fc.lastHost = strings.Clone(fc.h.host)
	}
	if fc.lastPath != fc.h.path {
		fc.lastPath = strings.Clone(fc.h.path)
	}
	fc.loop.s.served.Add(1)
	fc.loop.s.record(r, fc.h.method, fc.lastHost, fc.lastPath, fc.ip, now)
}

// nativeError answers the current request with the gateway's JSON error format.
func (fc *fconn) nativeError(status int, code, msg string) {
	r := &fc.req
	l := fc.loop
	out := errorResponse(l.out[:0], status, code, msg, r.rid, r.rl, r.close, fc.h.method == "HEAD", l.httpDate(time.Now()))
	l.out = out
	r.status, r.started = status, true
	if status >= 500 {
		r.errMsg = msg
	}
	_, _ = fc.c.Write(out)
	if fc.st == cGone {
		fc.endRequest()
		return
	}
	fc.finish()
}

// fail closes u after it failed and settles the request it carried.
func (u *fup) fail(err error) {
	fc := u.owner()
	u.st = uGone
	u.loop.closeConn(u.c)
	if fc != nil {
		u.failed(fc, err)
	}
}

// failed settles fc's request after its upstream connection u failed: the client is cut when
// part of the answer went out, the request is tried again where that is safe, else 502.
func (u *fup) failed(fc *fconn, err error) {
	l := u.loop
	r := &fc.req
	r.up = nil
	if r.started {
		// the upstream broke off mid-body: cut the client so it sees a truncated response
		fc.st = cGone
		fc.endRequest()
		l.closeConn(fc.c)
		return
	}
	// a kept-alive connection the upstream closed meanwhile, or any failure of a request that can
	// be sent again: try once more
	if stale := u.uses > 1 && r.attempt == 0; (stale || !r.careful) && r.attempt < 2 {
		r.attempt++
		if stale {
			l.dial(r.in, fc) // same instance, fresh connection
			return
		}
		r.skip = r.in
		r.dropInstance()
		fc.st = cIdle
		fc.dispatch()
		return
	}
	l.s.g.log.Debug("upstream error", "service", r.rt.Service, "addr", r.in.addr, "err", err)
	fc.nativeError(502, "bad_gateway", fmt.Sprintf("service %q (%s): %v", r.rt.Service, r.in.addr, err))
}

func (u *fup) timeout() {
	fc := u.owner()
	u.st = uGone
	_ = u.loop.el.Close(u.c)
	if fc == nil {
		return
	}
	r := &fc.req
	r.up = nil
	fc.nativeError(504, "upstream_timeout", fmt.Sprintf("service %q (%s) did not answer in time", r.rt.Service, r.in.addr))
}

// closed runs when gnet closed the upstream connection (by us, the peer or an error).
func (u *fup) closed(err error) {
	l := u.loop
	delete(l.ups, u)
	prev := u.st
	u.st = uGone
	switch prev {
	case uIdle:
		l.dropIdle(u)
	case uBusy:
		if err == nil {
			err = errors.New("upstream closed the connection")
		}
		if fc := u.owner(); fc != nil {
			u.failed(fc, err)
		}
	}
}

// closed runs when gnet closed the client connection.
func (fc *fconn) closed() {
	l := fc.loop
	delete(l.conns, fc)
	prev := fc.st
	fc.st = cGone
	switch prev {
	case cUpstream:
		r := &fc.req
		if u := r.up; u != nil && u.st != uGone {
			u.st = uGone
			u.cl = nil
			if u.c != nil {
				l.closeConn(u.c)
			}
		}
		if r.status == 0 {
			r.status = 499 // client closed the request
		}
		fc.endRequest()
	case cAuth:
		fc.req.status = 499
		fc.endRequest()
	case cDrain:
		if fc.drain == drainDetach && fc.detachTo != nil {
			fc.detachTo <- detachedClient{}
		}
	}
}

// drainThen waits for the client to take the output queued for it, then does action.
func (fc *fconn) drainThen(action uint8) {
	fc.st, fc.drain, fc.drainSince, fc.drainLeft = cDrain, action, time.Now().UnixNano(), fc.c.OutboundBuffered()
}

// finishDrain completes what waited for the outbound buffer to drain.
func (fc *fconn) finishDrain() {
	switch fc.drain {
	case drainNext:
		fc.st = cIdle
		fc.next()
	case drainClose:
		fc.st = cGone
		_ = fc.loop.el.Close(fc.c)
	case drainHandoff:
		fc.st = cIdle
		fc.handoff(fc.handoffPre)
	case drainDetach:
		fc.giveToDetached()
	}
}
