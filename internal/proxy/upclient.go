package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// upConn is one kept-alive HTTP/1.1 connection to an upstream instance.
//
// The gateway talks HTTP/1.1 to loopback upstreams itself instead of through http.Transport: the
// request is written and the response read on the handler's goroutine, without the Transport's two
// goroutines and channel hand-offs per request (about +30% req/s in an A/B benchmark). Requests it
// does not handle (protocol upgrades, bodies of unknown length) still go through http.Transport.
type upConn struct {
	conn     net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	lastUsed time.Time
	expires  time.Time   // not reused from then on (upstream_conn_lifetime); zero: never
	stop     func() bool // unregisters the cancel hook of the current request
	// deadline is set while a read deadline from a response timeout may still be armed: when a
	// response arrived whole in the read buffer, exchange leaves the deadline in place (saving a
	// timer update per request) and the next use of the connection replaces or clears it.
	deadline bool
}

const (
	maxIdlePerInstance = 256
	idleMax            = 90 * time.Second
	idleCheckAfter     = 500 * time.Millisecond // reused connections idle longer than this are probed first
)

var aLongTimeAgo = time.Unix(1, 0)

var errStaleConn = errors.New("upstream closed an idle connection")

type connPool struct {
	mu   sync.Mutex
	idle []*upConn
}

// get returns an idle connection; careful (a request that cannot be retried once sent) makes it
// probe every reused connection for a close from the upstream, not only long-idle ones.
func (p *connPool) get(careful bool) *upConn {
	now := time.Now()
	p.mu.Lock()
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if now.Sub(c.lastUsed) > idleMax || c.expired(now) {
			p.mu.Unlock()
			c.conn.Close()
			p.mu.Lock()
			continue
		}
		p.mu.Unlock()
		if careful || now.Sub(c.lastUsed) > idleCheckAfter {
			if c.deadline { // an expired deadline would make alive skip its probe
				_ = c.conn.SetReadDeadline(time.Time{})
				c.deadline = false
			}
			if !alive(c.conn) {
				c.conn.Close()
				p.mu.Lock()
				continue
			}
		}
		return c
	}
	p.mu.Unlock()
	return nil
}

func (p *connPool) put(c *upConn) {
	c.lastUsed = time.Now()
	if c.expired(c.lastUsed) {
		c.conn.Close()
		return
	}
	p.mu.Lock()
	if len(p.idle) < maxIdlePerInstance {
		p.idle = append(p.idle, c)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	c.conn.Close()
}

// expired reports whether the connection outlived upstream_conn_lifetime: a service restarted in
// place (the old process stopped listening but still answers on its open connections) is reached
// on a fresh connection, at the new process, within a lifetime even under steady traffic.
func (c *upConn) expired(now time.Time) bool {
	return !c.expires.IsZero() && !now.Before(c.expires)
}

func (p *connPool) closeAll() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.conn.Close()
	}
}

// alive peeks at an idle connection without blocking: EOF or an error means the upstream closed it.
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	_ = raw.Read(func(fd uintptr) bool {
		ok = fdAlive(int(fd))
		return true
	})
	return ok
}

var dialer = &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}

// dial opens a connection to in that is reused for lifetime at most (0: no limit).
func (in *instance) dial(ctx context.Context, lifetime time.Duration) (*upConn, error) {
	c, err := dialer.DialContext(ctx, "tcp", in.addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	uc := &upConn{conn: c, br: bufio.NewReaderSize(c, 16<<10), bw: bufio.NewWriterSize(c, 8<<10)}
	if lifetime > 0 {
		uc.expires = time.Now().Add(lifetime)
	}
	return uc, nil
}

// directOK reports whether the in-goroutine client can carry the request.
func directOK(r *http.Request, upgrade string) bool {
	return upgrade == "" && r.ContentLength >= 0
}

// directReq is a request for the in-goroutine client.
type directReq struct {
	method, path, query, host string // path is already escaped for the wire
	header                    http.Header
	extra                     extraHeaders
	contentLength             int64
	body                      *body
	ctx                       context.Context
}

// respFor are stand-in requests for http.ReadResponse, which only looks at the method.
var (
	headReq  = &http.Request{Method: http.MethodHead}
	otherReq = &http.Request{Method: http.MethodGet}
)

func writeHeader(w *bufio.Writer, k, v string) {
	w.WriteString(k)
	w.WriteString(": ")
	w.WriteString(v)
	w.WriteString("\r\n")
}

// writeRequest writes the request line, headers and body.
func (uc *upConn) writeRequest(d *directReq) error {
	w := uc.bw
	w.WriteString(d.method)
	w.WriteByte(' ')
	w.WriteString(d.path)
	if d.query != "" {
		w.WriteByte('?')
		w.WriteString(d.query)
	}
	w.WriteString(" HTTP/1.1\r\n")
	writeHeader(w, "Host", d.host)
	for k, vv := range d.header {
		for _, v := range vv {
			writeHeader(w, k, v)
		}
	}
	x := &d.extra
	writeHeader(w, "X-Request-Id", x.requestID)
	writeHeader(w, "X-Forwarded-For", x.xff)
	writeHeader(w, "X-Forwarded-Proto", x.proto)
	writeHeader(w, "X-Forwarded-Host", x.host)
	if x.prin != nil {
		writeHeader(w, "X-Auth-Subject", x.prin.sub)
		writeHeader(w, "X-Auth-Scopes", x.prin.scopesHeader)
	}
	if x.trace != nil {
		var a [traceparentLn]byte
		w.WriteString("Traceparent: ")
		w.Write(x.trace.appendHeader(a[:0]))
		w.WriteString("\r\n")
	}
	if d.contentLength > 0 {
		w.WriteString("Content-Length: ")
		var nb [20]byte
		w.Write(strconv.AppendInt(nb[:0], d.contentLength, 10))
		w.WriteString("\r\n")
	} else if d.method == http.MethodPost || d.method == http.MethodPut || d.method == http.MethodPatch {
		w.WriteString("Content-Length: 0\r\n")
	}
	w.WriteString("\r\n")
	if d.contentLength > 0 && d.body != nil {
		n, err := io.Copy(w, io.LimitReader(d.body, d.contentLength))
		if err != nil {
			return err
		}
		if n != d.contentLength {
			return fmt.Errorf("request body: got %d of %d bytes: %w", n, d.contentLength, io.ErrUnexpectedEOF)
		}
	}
	return w.Flush()
}

// pathNeedsEscape reports whether p has bytes that must be percent-encoded on the wire.
func pathNeedsEscape(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c <= ' ' || c >= 0x7f || c == '%' || c == '?' || c == '#' {
			return true
		}
	}
	return false
}

// roundTrip sends d on a pooled (or new) connection and reads the response head. The response
// body reads from the connection; the caller hands the connection back with release.
// A new connection is reused for lifetime at most (0: no limit).
func (in *instance) roundTrip(d *directReq, timeout, lifetime time.Duration) (*http.Response, *upConn, error) {
	ctx := d.ctx
	for attempt := 0; ; attempt++ {
		uc := in.conns.get(d.body != nil || !idempotent(d.method))
		reused := uc != nil
		if uc == nil {
			var err error
			if uc, err = in.dial(ctx, lifetime); err != nil {
				return nil, nil, err
			}
		}
		uc.stop = context.AfterFunc(ctx, func() { _ = uc.conn.SetDeadline(aLongTimeAgo) })
		res, err := uc.exchange(ctx, d, timeout)
		if err == nil {
			return res, uc, nil
		}
		uc.stop()
		uc.conn.Close()
		// a kept-alive connection the upstream closed meanwhile: retry on a fresh one if nothing
		// of the body was sent
		if reused && attempt == 0 && (d.body == nil || !d.body.read) && ctx.Err() == nil && isStale(err) {
			continue
		}
		return nil, nil, err
	}
}

// release returns uc to the pool after a response body read to its end (ok), else closes it.
func (in *instance) release(uc *upConn, ok bool) {
	// stop() false: the request was cancelled and the deadline poisoned the connection
	if uc.stop() && ok {
		in.conns.put(uc)
		return
	}
	uc.conn.Close()
}

func isStale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, errStaleConn)
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "upstream response timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func (uc *upConn) exchange(ctx context.Context, d *directReq, timeout time.Duration) (*http.Response, error) {
	if err := uc.writeRequest(d); err != nil {
		return nil, err
	}
	if timeout > 0 {
		_ = uc.conn.SetReadDeadline(time.Now().Add(timeout))
		uc.deadline = true
	} else if uc.deadline {
		_ = uc.conn.SetReadDeadline(time.Time{})
		uc.deadline = false
	}
	req := otherReq
	if d.method == http.MethodHead {
		req = headReq
	}
	var res *http.Response
	var err error
	for {
		res, err = http.ReadResponse(uc.br, req)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
				return nil, timeoutError{}
			}
			if errors.Is(err, io.EOF) {
				return nil, errStaleConn
			}
			return nil, err
		}
		// 1xx informational responses (other than 101) precede the real one
		if res.StatusCode >= 100 && res.StatusCode < 200 && res.StatusCode != http.StatusSwitchingProtocols {
			continue
		}
		break
	}
	// the timeout covers the response head only: a body still to come (streams, long downloads) is
	// read without a deadline
	if uc.deadline && !bodyBuffered(res, uc.br) {
		_ = uc.conn.SetReadDeadline(time.Time{})
		uc.deadline = false
	}
	return res, nil
}

// bodyBuffered reports whether res's whole body (Content-Length framed) is already in br, so
// reading it touches the connection no more.
func bodyBuffered(res *http.Response, br *bufio.Reader) bool {
	if res.Body == http.NoBody {
		return true
	}
	return res.ContentLength >= 0 && len(res.TransferEncoding) == 0 && int64(br.Buffered()) >= res.ContentLength
}
