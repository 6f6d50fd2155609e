package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/devstack-dev/devstack/internal/event"
)

// detachedClient is the client connection handed to a detached response, or zero when the client
// went away first.
type detachedClient struct {
	conn net.Conn
	pre  []byte // bytes the client sent ahead (pipelined requests)
}

// detachInfo is what a detached response needs of its request.
type detachInfo struct {
	r                      fastReq
	method, host, path, ip string
	el                     gnet.EventLoop
}

// detach hands the rest of the exchange to a goroutine: the upstream connection now, the client
// connection once its outbound buffer is empty.
func (u *fup) detach() {
	l, fc := u.loop, u.cl
	r := &fc.req
	pre := bytes.Clone(peekAll(u.c))
	upc, err := dupConn(u.c)
	u.st = uGone
	r.up = nil
	l.closeConn(u.c)
	if err != nil {
		fc.nativeError(502, "bad_gateway", fmt.Sprintf("service %q (%s): %v", r.rt.Service, r.in.addr, err))
		return
	}
	info := &detachInfo{r: *r, method: fc.h.method, host: strings.Clone(fc.h.host), path: strings.Clone(fc.h.path), ip: fc.ip, el: l.el}
	info.r.rl = bytes.Clone(r.rl)
	r.active = false // the goroutine accounts for the request now
	r.in = nil
	fc.detachTo = make(chan detachedClient, 1)
	s := l.s
	s.detaches.Add(1)
	s.wg.Add(1)
	go s.finishDetached(&prefixConn{Conn: upc, pre: pre}, fc.detachTo, info)
	if fc.c.OutboundBuffered() > 0 {
		fc.drainThen(drainDetach)
		return
	}
	fc.giveToDetached()
}

func (fc *fconn) giveToDetached() {
	pre := bytes.Clone(peekAll(fc.c))
	nc, err := dupConn(fc.c)
	ch := fc.detachTo
	fc.detachTo = nil
	fc.st = cGone
	fc.loop.closeConn(fc.c)
	if err != nil {
		ch <- detachedClient{}
		return
	}
	ch <- detachedClient{conn: nc, pre: pre}
}

// errorResponse is the gateway's JSON error answer as bytes.
func errorResponse(out []byte, status int, code, msg, rid string, rl []byte, close, head bool, date []byte) []byte {
	body := errorBody(code, msg, rid)
	out = statusLine(out, status)
	out = append(out, "Cache-Control: no-store\r\nContent-Type: application/json\r\nX-Request-Id: "...)
	out = append(out, rid...)
	out = append(out, "\r\n"...)
	out = append(out, rl...)
	out = append(out, "Date: "...)
	out = append(out, date...)
	out = append(out, "\r\nContent-Length: "...)
	out = strconv.AppendInt(out, int64(len(body)), 10)
	out = append(out, "\r\n"...)
	if close {
		out = append(out, "Connection: close\r\n"...)
	}
	out = append(out, "\r\n"...)
	if !head {
		out = append(out, body...)
	}
	return out
}

// finishDetached copies a streamed or large response with blocking I/O (so a slow client slows the
// upstream down instead of filling memory), then returns the client connection to an event loop.
func (s *fastServer) finishDetached(up *prefixConn, clCh <-chan detachedClient, d *detachInfo) {
	defer s.wg.Done()
	untrackUp := s.g.trackConn(up.Conn)
	defer untrackUp()
	defer up.Close()
	r := &d.r
	defer func() {
		s.active.Add(-1)
		r.in.inFlight.Add(-1)
		s.record(r, d.method, d.host, d.path, d.ip, time.Now())
	}()
	req := otherReq
	if d.method == http.MethodHead {
		req = headReq
	}
	res, rerr := http.ReadResponse(bufio.NewReaderSize(up, 32<<10), req)
	if res != nil {
		// close the upstream connection before the body: closing a client-side body reads the rest
		// of it, which for a client that left an endless stream would never end
		defer func() { _ = up.Close(); res.Body.Close() }()
	}
	var dc detachedClient
	select {
	case dc = <-clCh:
	case <-s.ctx.Done():
	}
	if dc.conn == nil {
		r.status = 499
		return
	}
	cl := dc.conn
	untrack := s.g.trackConn(cl)
	keep := false
	defer func() {
		untrack()
		if !keep {
			cl.Close()
		}
	}()
	date := time.Now().UTC().AppendFormat(nil, http.TimeFormat)
	out := sendWriter{c: cl, timeout: s.sendTO}
	if rerr != nil {
		r.status = 502
		r.errMsg = fmt.Sprintf("service %q (%s): %v", r.rt.Service, r.upstream, rerr)
		_, _ = out.Write(errorResponse(nil, 502, "bad_gateway", r.errMsg, r.rid, r.rl, true, d.method == http.MethodHead, date))
		return
	}
	h := res.Header
	removeHopHeaders(h)
	delete(h, "X-Request-Id")
	if r.trace.on {
		delete(h, "Traceresponse") // the gateway's (in r.rl) names the client's server span
	}
	bw := bufio.NewWriterSize(out, 16<<10)
	bw.Write(statusLine(nil, res.StatusCode))
	_ = h.Write(bw)
	bw.WriteString("X-Request-Id: ")
	bw.WriteString(r.rid)
	bw.WriteString("\r\n")
	bw.Write(r.rl)
	if _, ok := h["Date"]; !ok {
		bw.WriteString("Date: ")
		bw.Write(date)
		bw.WriteString("\r\n")
	}
	closeAfter := r.close
	chunked := false
	switch {
	case res.ContentLength >= 0:
		if _, ok := h["Content-Length"]; !ok {
			bw.WriteString("Content-Length: ")
			bw.WriteString(strconv.FormatInt(res.ContentLength, 10))
			bw.WriteString("\r\n")
		}
	case len(res.TransferEncoding) > 0:
		chunked = true
		bw.WriteString("Transfer-Encoding: chunked\r\n")
		if len(res.Trailer) > 0 {
			names := make([]string, 0, len(res.Trailer))
			for k := range res.Trailer {
				names = append(names, k)
			}
			bw.WriteString("Trailer: " + strings.Join(names, ", ") + "\r\n")
		}
	default:
		closeAfter = true // the body ends when the connection does
	}
	if closeAfter {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
	r.status, r.started = res.StatusCode, true
	stream := res.ContentLength < 0 || strings.HasPrefix(h.Get("Content-Type"), "text/event-stream")
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, err := res.Body.Read(buf)
		if n > 0 {
			r.bytes += int64(n)
			if chunked {
				bw.WriteString(strconv.FormatInt(int64(n), 16))
				bw.WriteString("\r\n")
				bw.Write(buf[:n])
				bw.WriteString("\r\n")
			} else {
				bw.Write(buf[:n])
			}
			if stream {
				_ = bw.Flush()
			}
			if _, err := bw.Write(nil); err != nil { // bufio keeps the first write error
				return // the client went away or stopped reading (send timeout): drop the upstream too
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// the upstream broke off mid-body: the client sees a truncated response
			s.g.log.Debug("copy response", "service", r.rt.Service, "err", err)
			_ = bw.Flush()
			return
		}
	}
	if chunked {
		bw.WriteString("0\r\n")
		for k, vv := range res.Trailer {
			for _, v := range vv {
				bw.WriteString(k + ": " + v + "\r\n")
			}
		}
		bw.WriteString("\r\n")
	}
	if bw.Flush() != nil || closeAfter {
		return
	}
	_ = cl.SetWriteDeadline(time.Time{})
	// back to the fast path: net/http when the client already sent more, else an event loop
	if len(dc.pre) > 0 {
		keep = true
		s.handoffs.Add(1)
		s.toNetHTTP(&prefixConn{Conn: cl, pre: dc.pre})
		return
	}
	ch, err := d.el.Enroll(gnet.NewContext(s.ctx, returning{}), cl)
	if err != nil {
		return
	}
	keep = true // Enroll took it (it closes cl itself)
	if res := <-ch; res.Err != nil {
		s.g.log.Debug("fast path: re-register client", "err", res.Err)
	}
}

// record writes the access log entry and metrics of a request that ended at now.
func (s *fastServer) record(r *fastReq, method, host, path, ip string, now time.Time) {
	if r.status == 0 {
		return
	}
	d := now.Sub(r.start)
	r.rt.stats.record(r.status, d, r.start)
	var sub string
	if r.prin != nil {
		sub = r.prin.sub
	}
	if r.trace.on {
		s.g.pushSpan(spanRec{trace: r.trace, start: r.start, end: now, method: method, scheme: "http", host: host,
			path: path, route: r.rt.Path, service: r.rt.Service, upstream: r.upstream, subject: sub, auth: r.auth,
			ip: ip, requestID: r.rid, status: r.status, errMsg: r.errMsg})
	}
	if s.g.access == nil {
		return
	}
	s.g.access.push(event.Access{Time: r.start, RequestID: r.rid, Method: method, Host: host, Path: path,
		Status: r.status, Latency: d, Bytes: r.bytes, Auth: r.auth, ClientIP: ip, Upstream: r.upstream,
		Route: r.rt.name, Service: r.rt.Service, Subject: sub, TraceID: r.trace.traceID})
}

// sendWriter bounds every write to a client connection by timeout (nginx's send_timeout): a client
// that stops reading a response is cut instead of holding the upstream connection.
type sendWriter struct {
	c       net.Conn
	timeout time.Duration
}

func (s sendWriter) Write(p []byte) (int, error) {
	if err := s.c.SetWriteDeadline(time.Now().Add(s.timeout)); err != nil {
		return 0, err
	}
	return s.c.Write(p)
}

// chanListener is the net/http server's listener for connections the fast path hands over.
type chanListener struct {
	ch   <-chan net.Conn
	addr net.Addr
	done chan struct{}
	once sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// gnetLogger sends gnet's own log lines to slog at debug level (errors at warn).
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Warn(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...)) }

// start starts the event loops on addr. It returns once they listen (or failed to).
func (s *fastServer) start(addr string) (<-chan error, error) {
	done := make(chan error, 1)
	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithTicker(true),
		gnet.WithReuseAddr(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{s.g.log}),
	}
	go func() { done <- gnet.Run(s, "tcp://"+addr, opts...) }()
	select {
	case <-s.booted:
		return done, nil
	case err := <-done:
		if err == nil {
			err = errors.New("event loops stopped at once")
		}
		return nil, err
	}
}

// stop waits (bounded) for requests in progress, then stops the event loops.
func (s *fastServer) stop(ctx context.Context, done <-chan error) {
	for s.active.Load() > 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	_ = s.eng.Stop(ctx)
	select {
	case <-done:
	case <-ctx.Done():
	}
}
