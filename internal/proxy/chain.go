package proxy

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/devstack-dev/devstack/internal/event"
)

const (
	authNone = iota
	authOptional
	authRequired
)

// chain is one immutable build of the config: route table, verifier, limiters. Reload swaps it.
type chain struct {
	g      *Gateway
	cfg    Config
	routes []*route
	ver    *verifier
	global *limiter
	dev    *issuerKey // nil when the dev issuer is disabled
	cors   *corsPolicy
	realm  string // WWW-Authenticate challenge without parameters
}

type route struct {
	Route
	name      string
	host      string
	auth      int
	limiter   *limiter
	stats     *routeStats
	pool      *pool
	transport http.RoundTripper
	timeout   time.Duration
	// connLifetime bounds the reuse of a kept-alive upstream connection (0: no limit)
	connLifetime time.Duration
	maxBody      int64
	cors         *corsPolicy
	leastConn    bool
	sem          chan struct{}
	queued       atomic.Int32
	queueWait    time.Duration
	scopesStr    string
}

func routeName(r Route) string {
	var b strings.Builder
	if len(r.Methods) > 0 {
		b.WriteString(strings.Join(r.Methods, ","))
		b.WriteByte(' ')
	}
	b.WriteString(r.Host)
	b.WriteString(r.Path)
	b.WriteString(" -> ")
	b.WriteString(r.Service)
	return b.String()
}

func (g *Gateway) buildChain(cfg Config) (*chain, error) {
	c := &chain{g: g, cfg: cfg, realm: `Bearer realm="` + cfg.Auth.Issuer + `"`}
	if !cfg.Auth.DevIssuer.Disabled {
		c.dev = g.dev
	}
	ver, err := newVerifier(cfg.Auth, g.dev, g.now)
	if err != nil {
		return nil, err
	}
	c.ver = ver
	if cfg.GlobalLimit != nil {
		c.global = newLimiter("global", cfg.GlobalLimit, g.now)
	}
	c.cors = newCORS(cfg.CORS)
	for i, r := range cfg.Routes {
		rt := &route{Route: r, name: routeName(r), host: strings.ToLower(r.Host)}
		rt.Methods = nil
		for _, m := range r.Methods {
			rt.Methods = append(rt.Methods, strings.ToUpper(m))
		}
		switch r.Auth {
		case "optional":
			rt.auth = authOptional
		case "required":
			rt.auth = authRequired
		}
		if r.RateLimit != nil {
			rt.limiter = newLimiter("route-"+strconv.Itoa(i), r.RateLimit, g.now)
		}
		rt.stats = g.stats.get(rt.name, r.Service)
		rt.pool = g.pool(r.Service)
		rt.transport = g.transport(r.Timeout, cfg.UpstreamConnLifetime) // timeout 0: no response header timeout
		rt.connLifetime = cfg.UpstreamConnLifetime
		rt.timeout = r.Timeout
		rt.maxBody = r.MaxBody
		if rt.maxBody == 0 { // none
			rt.maxBody = math.MaxInt64
		}
		rt.cors = c.cors
		if r.CORS != nil {
			rt.cors = newCORS(r.CORS)
		}
		rt.leastConn = r.Balance == "least_conn"
		if r.MaxConcurrent > 0 {
			rt.sem = make(chan struct{}, r.MaxConcurrent)
			rt.queueWait = queueWait
		}
		rt.scopesStr = strings.Join(r.Scopes, " ")
		c.routes = append(c.routes, rt)
	}
	// most specific first: host routes, then longer prefixes, then routes with a method list
	slices.SortStableFunc(c.routes, func(a, b *route) int {
		if (a.host != "") != (b.host != "") {
			if a.host != "" {
				return -1
			}
			return 1
		}
		if len(a.Path) != len(b.Path) {
			return len(b.Path) - len(a.Path)
		}
		return len(b.Methods) - len(a.Methods)
	})
	return c, nil
}

// match finds the route for a clean path; methodMismatch reports a path match whose methods differ.
func (c *chain) match(host, p, method string) (rt *route, methodMismatch bool) {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	for _, r := range c.routes {
		if r.host != "" && !strings.EqualFold(r.host, host) {
			continue
		}
		if !prefixMatch(p, r.Path) {
			continue
		}
		if len(r.Methods) > 0 && !slices.Contains(r.Methods, method) {
			methodMismatch = true
			continue
		}
		return r, false
	}
	return nil, methodMismatch
}

func prefixMatch(p, prefix string) bool {
	if prefix == "/" {
		return true
	}
	if !strings.HasPrefix(p, prefix) {
		return false
	}
	return len(p) == len(prefix) || p[len(prefix)] == '/' || prefix[len(prefix)-1] == '/'
}

// upstreamPath applies strip_prefix / rewrite.
func (r *route) upstreamPath(p string) string {
	if !r.StripPrefix && r.Rewrite == "" {
		return p
	}
	rest := p
	if r.Path != "/" {
		rest = strings.TrimPrefix(p, strings.TrimSuffix(r.Path, "/"))
	}
	base := r.Rewrite
	if r.StripPrefix {
		base = "/"
	}
	if rest == "" || rest == "/" {
		if rest == "/" && !strings.HasSuffix(base, "/") {
			return base + "/"
		}
		return base
	}
	return strings.TrimSuffix(base, "/") + rest
}

// needsClean reports whether p has empty, . or .. segments.
func needsClean(p string) bool {
	return strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
		strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
}

// cleanPath resolves . and .. and collapses slashes, keeping a trailing slash.
func cleanPath(p string) string {
	c := path.Clean(p)
	if c != "/" && strings.HasSuffix(p, "/") {
		c += "/"
	}
	return c
}

// requestID returns the client's X-Request-Id when it is sane, or a new random one.
func requestID(h http.Header) string {
	if v := h["X-Request-Id"]; len(v) == 1 && validRequestID(v[0]) {
		return v[0]
	}
	return newRequestID()
}

// newRequestID is 128 random bits in hex.
func newRequestID() string {
	var out [requestIDLen]byte
	fillRequestID(out[:])
	return string(out[:])
}

const requestIDLen = 32

// fillRequestID writes a new request id, 128 random bits in hex, into b[:requestIDLen].
func fillRequestID(b []byte) {
	var r [requestIDLen / 2]byte
	u1, u2 := rand.Uint64(), rand.Uint64()
	for i := 0; i < 8; i++ {
		r[i], r[8+i] = byte(u1>>(8*i)), byte(u2>>(8*i))
	}
	hex.Encode(b, r[:])
}

// idBlock hands out request ids cut from a shared block: one allocation per idBlockIDs ids
// instead of one per request. A block stays alive while any id cut from it does (the access
// log keeps recent ones), which bounds the cost to the block size per batch of kept ids.
type idBlock struct{ free []byte }

const idBlockIDs = 128

func (b *idBlock) next() string {
	if len(b.free) < requestIDLen {
		b.free = make([]byte, requestIDLen*idBlockIDs)
	}
	id := b.free[:requestIDLen:requestIDLen]
	b.free = b.free[requestIDLen:]
	fillRequestID(id)
	return unsafe.String(&id[0], requestIDLen)
}

func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// reqLog is what the access log and metrics need about one request.
type reqLog struct {
	status   int
	bytes    int64
	upstream string
	subject  string
	auth     string
	// errMsg is the gateway's own failure (no ready instance, upstream timeout or error) for the span
	errMsg string
	// switched is when a protocol upgrade's 101 went out: the span covers the handshake only
	switched time.Time
	trace    traceCtx // on: tracing is on
}

// gatewayError answers with one of the gateway's own failures (a 5xx: the span's status is error).
func (lg *reqLog) gatewayError(w http.ResponseWriter, status int, code, msg string) {
	lg.status = writeError(w, status, code, msg)
	lg.errMsg = msg
}

// ServeHTTP is the whole gateway pipeline for one request.
func (c *chain) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.ContentLength != 0 && r.ProtoMajor == 1 {
		// Bound the wait for body bytes the gateway may never read itself: when it answers early
		// (400, 401, 404, 413, 503, ...), net/http first reads and drops up to 256 KiB of the body to
		// keep the connection, and would wait forever for a client that stalled. The upstream path
		// moves this deadline on with every read (body.Read). (net/http itself clears the write
		// deadline that copyResponse leaves after each response.)
		_ = http.NewResponseController(w).SetReadDeadline(start.Add(c.cfg.HeaderTimeout))
	}
	rid := requestID(r.Header)
	w.Header()["X-Request-Id"] = []string{rid}
	if mustClose(r) {
		w.Header()["Connection"] = closeValue
	}
	ip := clientIP(r)
	var lg reqLog
	if c.g.spans != nil {
		tp := r.Header["Traceparent"]
		v := ""
		if len(tp) == 1 {
			v = tp[0]
		}
		lg.trace = newTrace(v, len(tp), nil)
		w.Header()["Traceresponse"] = []string{lg.trace.header()}
	}
	var rt *route
	p := r.URL.Path
	reserved := false
	defer func() {
		end := time.Now()
		d := end.Sub(start)
		if rt != nil {
			rt.stats.record(lg.status, d, start)
		}
		c.g.logAccess(r, rt, rid, ip, start, d, &lg, p)
		if lg.trace.on {
			if !lg.switched.IsZero() {
				end = lg.switched
			}
			s := spanRec{trace: lg.trace, start: start, end: end, method: r.Method, scheme: "http", host: r.Host, path: p,
				reserved: reserved, upstream: lg.upstream, subject: lg.subject, auth: lg.auth, ip: ip, requestID: rid,
				status: lg.status, errMsg: lg.errMsg}
			if r.TLS != nil {
				s.scheme = "https"
			}
			if rt != nil {
				s.route, s.service = rt.Path, rt.Service
			}
			c.g.pushSpan(s)
		}
	}()

	if raw := r.URL.RawPath; raw != "" {
		if strings.Contains(raw, "%2F") || strings.Contains(raw, "%2f") || strings.Contains(raw, "%5C") || strings.Contains(raw, "%5c") {
			lg.status = writeError(w, http.StatusBadRequest, "bad_request", "encoded slashes (%2F, %5C) are not allowed in the path")
			return
		}
	}
	if p == "" || p[0] != '/' || strings.IndexByte(p, 0) >= 0 || strings.IndexByte(p, '\\') >= 0 {
		lg.status = writeError(w, http.StatusBadRequest, "bad_request", "invalid request path")
		return
	}
	cleaned := false
	if needsClean(p) {
		p, cleaned = cleanPath(p), true
	}
	// reserved paths are served by the gateway itself, before any route
	if len(p) > 2 && (p[1] == '.' || p[1] == 'o' || p[1] == '_') {
		if c.serveReserved(w, r, p, &lg) {
			reserved = true
			return
		}
	}
	var mm bool
	rt, mm = c.match(r.Host, p, r.Method)
	if rt == nil {
		if mm {
			lg.status = writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", fmt.Sprintf("%s is not allowed on %s", r.Method, p))
		} else {
			lg.status = writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no gateway route matches %s (routes are in devstack.yaml under gateway.routes)", p))
		}
		return
	}
	if rt.cors != nil {
		if origin := r.Header.Get("Origin"); origin != "" {
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				lg.status = rt.cors.preflight(w, r, origin)
				return
			}
			rt.cors.actual(w.Header(), origin)
		}
	}
	if r.ContentLength > rt.maxBody {
		lg.status = writeError(w, http.StatusRequestEntityTooLarge, "payload_too_large", fmt.Sprintf("request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, rt.maxBody))
		return
	}

	// authentication: client-sent X-Auth-* never reach the upstream, in any spelling
	for k := range r.Header {
		if isIdentityHeader(k) {
			delete(r.Header, k)
		}
	}
	var prin *principal
	if rt.auth != authNone {
		var ok bool
		prin, ok = c.authenticate(w, r, rt, &lg)
		if !ok {
			return
		}
		if prin != nil {
			lg.subject = prin.sub
		}
	} else {
		lg.auth = "none"
	}

	// rate limits: stack-wide, then per route
	if c.global != nil && !c.global.allow(w.Header(), c.global.key(r, ip, prin)) {
		lg.status = writeError(w, http.StatusTooManyRequests, "rate_limited", "stack-wide rate limit exceeded; retry after the number of seconds in Retry-After")
		return
	}
	if rt.limiter != nil && !rt.limiter.allow(w.Header(), rt.limiter.key(r, ip, prin)) {
		lg.status = writeError(w, http.StatusTooManyRequests, "rate_limited", fmt.Sprintf("rate limit of route %s exceeded; retry after the number of seconds in Retry-After", rt.Path))
		return
	}
	if rt.sem != nil {
		release, ok := rt.acquireSlot(r)
		if !ok {
			w.Header()["Retry-After"] = []string{"1"}
			lg.gatewayError(w, http.StatusServiceUnavailable, "overloaded", fmt.Sprintf("service %s has %d requests in flight (max_concurrent) and the queue is full", rt.Service, rt.MaxConcurrent))
			return
		}
		defer release()
	}
	fwd := rt.upstreamPath(p)
	c.forward(w, r, rt, fwd, cleaned || fwd != r.URL.Path, ip, rid, prin, &lg)
}

// mustClose reports a request after which the connection is closed: one with a Transfer-Encoding.
// RFC 9112 section 6.1 demands that after a request with both Content-Length and Transfer-Encoding
// (where a proxy in front may have framed it by the length, leaving a smuggled request behind);
// net/http drops the Content-Length before the handler sees it, so every request with a
// Transfer-Encoding is treated so. Such requests are rare; their clients reconnect.
func mustClose(r *http.Request) bool { return r.ProtoMajor == 1 && len(r.TransferEncoding) > 0 }

var closeValue = []string{"close"}

// isIdentityHeader reports whether a header name is, once case and '_' versus '-' are ignored,
// X-Auth-something: the names the gateway sets from a verified token. Upstreams read them in any
// of these spellings (WSGI and other CGI-style servers map X_Auth_Subject and X-Auth-Subject to
// the same HTTP_X_AUTH_SUBJECT), so a client must not send any of them. Both request paths use it.
func isIdentityHeader(name string) bool {
	const prefix = "x-auth-"
	if len(name) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := lower(name[i])
		if c == '_' {
			c = '-'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// queueWait bounds how long a request queues for a MaxConcurrent slot.
var queueWait = time.Second

// acquireSlot takes one of MaxConcurrent slots, queueing at most MaxConcurrent requests for up to queueWait.
func (rt *route) acquireSlot(r *http.Request) (func(), bool) {
	release := func() { <-rt.sem }
	select {
	case rt.sem <- struct{}{}:
		return release, true
	default:
	}
	if int(rt.queued.Add(1)) > cap(rt.sem) {
		rt.queued.Add(-1)
		return nil, false
	}
	defer rt.queued.Add(-1)
	t := time.NewTimer(rt.queueWait)
	defer t.Stop()
	select {
	case rt.sem <- struct{}{}:
		return release, true
	case <-t.C:
	case <-r.Context().Done():
	}
	return nil, false
}

// authenticate applies the route's auth mode. ok=false means a response was written.
func (c *chain) authenticate(w http.ResponseWriter, r *http.Request, rt *route, lg *reqLog) (*principal, bool) {
	realm := c.realm
	authz := r.Header["Authorization"]
	inQuery := strings.Contains(r.URL.RawQuery, "access_token")
	if inQuery && r.URL.Query().Has("access_token") {
		lg.auth = "invalid: token in query"
		w.Header()["Www-Authenticate"] = []string{realm + `, error="invalid_request", error_description="send the token in the Authorization header only, not in the query"`}
		lg.status = writeError(w, http.StatusBadRequest, "invalid_request", "tokens are accepted only in the Authorization header")
		return nil, false
	}
	if len(authz) > 1 {
		lg.auth = "invalid: several Authorization headers"
		w.Header()["Www-Authenticate"] = []string{realm + `, error="invalid_request", error_description="more than one Authorization header"`}
		lg.status = writeError(w, http.StatusBadRequest, "invalid_request", "more than one Authorization header")
		return nil, false
	}
	if len(authz) == 0 || authz[0] == "" {
		if rt.auth == authOptional {
			lg.auth = "none"
			return nil, true
		}
		lg.auth = "missing"
		w.Header()["Www-Authenticate"] = []string{realm}
		lg.status = writeError(w, http.StatusUnauthorized, "unauthorized", "this route needs a bearer token: Authorization: Bearer <token> (get one with `devstack token` or POST /oauth/token)")
		return nil, false
	}
	raw, ok := bearer(authz[0])
	if !ok {
		lg.auth = "invalid: not a bearer token"
		w.Header()["Www-Authenticate"] = []string{realm + `, error="invalid_request", error_description="use the Bearer scheme"`}
		lg.status = writeError(w, http.StatusUnauthorized, "invalid_request", "the Authorization header must be 'Bearer <token>'")
		return nil, false
	}
	prin, err := c.ver.verify(r.Context(), raw)
	if err != nil {
		lg.auth = "invalid: " + err.Error()
		w.Header()["Www-Authenticate"] = []string{realm + `, error="invalid_token", error_description="` + quotable(err.Error()) + `"`}
		lg.status = writeError(w, http.StatusUnauthorized, "invalid_token", err.Error())
		return nil, false
	}
	lg.subject = prin.sub
	if scope, claim, refused := rt.refusal(prin); refused {
		var challenge, msg string
		if scope != "" {
			lg.auth = "forbidden: missing scope " + scope
			challenge = `, error="insufficient_scope", scope="` + rt.scopesStr + `"`
			msg = fmt.Sprintf("the token lacks scope %q (route needs: %s)", scope, rt.scopesStr)
		} else {
			lg.auth = "forbidden: claim " + claim
			challenge = `, error="insufficient_scope", error_description="claim ` + claim + ` does not match"`
			msg = fmt.Sprintf("the token's claim %q must be %q", claim, rt.Claims[claim])
		}
		w.Header()["Www-Authenticate"] = []string{realm + challenge}
		lg.status = writeError(w, http.StatusForbidden, "insufficient_scope", msg)
		return nil, false
	}
	lg.auth = "ok"
	return prin, true
}

// quotable makes s safe inside a quoted-string (RFC 9110): no quotes, backslashes or controls.
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"' || r == '\\':
			return '\''
		case r < 0x20 || r == 0x7f || r > 0x7e:
			return -1
		}
		return r
	}, s)
}

func bearer(h string) (string, bool) {
	if len(h) < 8 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	t := strings.TrimSpace(h[7:])
	return t, t != ""
}

// writeError writes a JSON error body and returns the status.
func writeError(w http.ResponseWriter, status int, code, msg string) int {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Cache-Control"] = []string{"no-store"}
	w.WriteHeader(status)
	_, _ = w.Write(errorBody(code, msg, h.Get("X-Request-Id")))
	return status
}

// errorBody is the gateway's JSON error document (request_id left out when rid is empty).
func errorBody(code, msg, rid string) []byte {
	b := make([]byte, 0, 64+len(msg))
	b = append(b, `{"error":`...)
	b = strconv.AppendQuote(b, code)
	b = append(b, `,"message":`...)
	b = strconv.AppendQuote(b, msg)
	if rid != "" {
		b = append(b, `,"request_id":`...)
		b = strconv.AppendQuote(b, rid)
	}
	return append(b, "}\n"...)
}

func (g *Gateway) logAccess(r *http.Request, rt *route, rid, ip string, start time.Time, d time.Duration, lg *reqLog, p string) {
	if g.access == nil {
		return
	}
	a := event.Access{Time: start, RequestID: rid, Method: r.Method, Host: r.Host, Path: p, Status: lg.status,
		Latency: d, Bytes: lg.bytes, Subject: lg.subject, Auth: lg.auth, ClientIP: ip, Upstream: lg.upstream,
		TraceID: lg.trace.traceID}
	if rt != nil {
		a.Route, a.Service = rt.name, rt.Service
	}
	g.access.push(a)
}
