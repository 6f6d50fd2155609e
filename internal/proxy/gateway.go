package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// ErrRestartRequired is returned (wrapped) by Reload when listen addresses changed: everything else
// was applied, the new host/ports take effect on the next start.
var ErrRestartRequired = errors.New("gateway: host and port changes take effect after a restart")

// Gateway is the API gateway. Create it with New, start it with Run.
type Gateway struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time
	dev  *issuerKey

	cur   atomic.Pointer[chain]
	cfgMu sync.Mutex
	cfg   Config

	poolsMu    sync.Mutex
	pools      map[string]*pool
	transports map[transportKey]*lifetimeTransport
	stats      statsSet
	metrics    http.Handler

	access *accessQueue         // nil without a bus and a log ring
	spans  *batchQueue[spanRec] // nil when tracing is off (Options.Spans nil)

	tokenFails *failThrottle // failed POST /oauth/token authentications (kept across reloads)

	cert      atomic.Pointer[tls.Certificate]
	certHosts []string

	running   atomic.Bool
	started   chan struct{}
	addr      atomic.Pointer[string]
	httpsAddr atomic.Pointer[string]

	fast atomic.Pointer[fastServer] // nil when net/http serves the plain port alone

	connsMu sync.Mutex
	conns   map[net.Conn]struct{}
}

// New validates cfg and builds the handler chain; it loads or creates the dev issuer key (and, when
// HTTPS is on, the CA and certificate) in cfg.StateDir/gateway. It does not listen: Run does.
func New(cfg Config, o Options) (*Gateway, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	g := &Gateway{
		opts: o, log: o.Logger.With("component", "gateway"), now: o.Now,
		pools: map[string]*pool{}, transports: map[transportKey]*lifetimeTransport{},
		started: make(chan struct{}), conns: map[net.Conn]struct{}{},
		tokenFails: newFailThrottle(o.Now),
	}
	if o.Bus != nil || o.Logs != nil {
		g.access = newAccessQueue()
	}
	if o.Spans != nil {
		g.spans = newBatchQueue[spanRec]()
	}
	var err error
	if cfg.StateDir != "" {
		g.dev, err = loadOrCreateIssuerKey(cfg.StateDir)
		if err != nil {
			return nil, err
		}
	} else {
		// no state dir (tests, embedding): an in-memory key that lives as long as the gateway
		g.dev, err = ephemeralIssuerKey()
		if err != nil {
			return nil, err
		}
	}
	if cfg.HTTPSPort != -1 {
		if err := g.loadCert(cfg.StateDir, cfg.TLSHosts); err != nil {
			return nil, err
		}
	}
	if g.metrics, err = newMetricsHandler(g, o.Collectors); err != nil {
		return nil, err
	}
	c, err := g.buildChain(cfg)
	if err != nil {
		return nil, err
	}
	g.cfg = cfg
	g.cur.Store(c)
	return g, nil
}

func (g *Gateway) loadCert(stateDir string, hosts []string) error {
	if g.cert.Load() != nil && slices.Equal(certHosts(hosts), g.certHosts) {
		return nil
	}
	c, err := ensureLeaf(stateDir, hosts, time.Now())
	if err != nil {
		return err
	}
	g.cert.Store(c)
	g.certHosts = certHosts(hosts)
	return nil
}

// Reload builds a new chain from cfg and swaps it in atomically; requests in flight finish on the
// old one. On a validation error nothing changes.
func (g *Gateway) Reload(cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	g.cfgMu.Lock()
	defer g.cfgMu.Unlock()
	old := g.cfg
	if cfg.StateDir != old.StateDir {
		return errors.New("gateway: the state directory cannot change while running")
	}
	if cfg.HTTPSPort != -1 && old.HTTPSPort != -1 {
		if err := g.loadCert(cfg.StateDir, cfg.TLSHosts); err != nil {
			return err
		}
	}
	c, err := g.buildChain(cfg)
	if err != nil {
		return err
	}
	g.cfg = cfg
	g.cur.Store(c)
	g.log.Info("gateway routes reloaded", "routes", len(cfg.Routes))
	if cfg.Host != old.Host || cfg.HTTPPort != old.HTTPPort || cfg.HTTPSPort != old.HTTPSPort {
		return ErrRestartRequired
	}
	return nil
}

// SetUpstreams replaces the instances of a service (from supervisor events). Requests waiting for a
// ready instance are woken.
func (g *Gateway) SetUpstreams(service string, ups []Upstream) {
	g.pool(service).set(ups)
}

func (g *Gateway) pool(service string) *pool {
	g.poolsMu.Lock()
	defer g.poolsMu.Unlock()
	p := g.pools[service]
	if p == nil {
		p = newPool(service)
		g.pools[service] = p
	}
	return p
}

type transportKey struct{ timeout, lifetime time.Duration }

func (g *Gateway) transport(timeout, lifetime time.Duration) *lifetimeTransport {
	g.poolsMu.Lock()
	defer g.poolsMu.Unlock()
	k := transportKey{timeout, lifetime}
	t := g.transports[k]
	if t == nil {
		t = &lifetimeTransport{t: newTransport(timeout), lifetime: int64(lifetime)}
		g.transports[k] = t
	}
	return t
}

// ServeHTTP serves one request with the current chain.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.cur.Load().ServeHTTP(w, r) }

// Started is closed once Run is listening (Addr and HTTPSAddr are then set).
func (g *Gateway) Started() <-chan struct{} { return g.started }

// Addr is the HTTP listen address (host:port) once Run is listening, else "".
func (g *Gateway) Addr() string {
	if p := g.addr.Load(); p != nil {
		return *p
	}
	return ""
}

// HTTPSAddr is the HTTPS listen address once Run is listening; "" when HTTPS is off.
func (g *Gateway) HTTPSAddr() string {
	if p := g.httpsAddr.Load(); p != nil {
		return *p
	}
	return ""
}

// URL is the gateway's base HTTP URL, e.g. http://127.0.0.1:8080.
func (g *Gateway) URL() string {
	if a := g.Addr(); a != "" {
		return "http://" + a
	}
	g.cfgMu.Lock()
	defer g.cfgMu.Unlock()
	return "http://" + net.JoinHostPort(g.cfg.Host, strconv.Itoa(g.cfg.HTTPPort))
}

// Metrics is the Prometheus exposition of the gateway's metrics.
func (g *Gateway) Metrics() http.Handler { return g.metrics }

// Routes returns live stats of the current routes in match order.
func (g *Gateway) Routes() []event.RouteStats {
	c := g.cur.Load()
	now := time.Now()
	out := make([]event.RouteStats, 0, len(c.routes))
	seen := map[string]bool{}
	for _, rt := range c.cfg.Routes {
		name := routeName(rt)
		if seen[name] {
			continue
		}
		seen[name] = true
		s := g.stats.get(name, rt.Service).snapshot(now)
		s.Upstreams = g.pool(rt.Service).info()
		out = append(out, s)
	}
	return out
}

func listenErr(which string, addr string, port int, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		key := "gateway.http_port"
		if which == "https" {
			key = "gateway.https_port"
		}
		return fmt.Errorf("gateway: port %d is in use (another program or another devstack is listening on %s); change %s in devstack.yaml or stop that program", port, addr, key)
	}
	return fmt.Errorf("gateway: listen on %s: %w", addr, err)
}

// Run listens on the HTTP (and HTTPS) ports and serves until ctx ends, then shuts down gracefully.
func (g *Gateway) Run(ctx context.Context) error {
	if !g.running.CompareAndSwap(false, true) {
		return errors.New("gateway: Run called twice")
	}
	g.cfgMu.Lock()
	cfg := g.cfg
	g.cfgMu.Unlock()
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.HTTPPort))
	// the plain HTTP port is served by the event loops (fastpath.go), which hand the connections
	// they do not serve to net/http; DEVSTACK_GATEWAY_NETHTTP=1 (or Options.NetHTTPOnly) serves
	// everything with net/http alone
	var ln net.Listener
	var fast *fastServer
	var fastDone <-chan error
	fastCtx, stopFast := context.WithCancel(context.WithoutCancel(ctx))
	defer stopFast()
	if g.opts.NetHTTPOnly || os.Getenv("DEVSTACK_GATEWAY_NETHTTP") == "1" {
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return listenErr("http", addr, cfg.HTTPPort, err)
		}
	} else {
		fast = newFastServer(g, fastCtx, cfg.HeaderTimeout, cfg.SendTimeout)
		g.fast.Store(fast)
		var err error
		if fastDone, err = fast.start(addr); err != nil {
			return listenErr("http", addr, cfg.HTTPPort, err)
		}
		ta, err := net.ResolveTCPAddr("tcp", fast.addr)
		if err != nil {
			return fmt.Errorf("gateway: event loops listen on %q: %w", fast.addr, err)
		}
		ln = &chanListener{ch: fast.handoffCh, addr: ta, done: make(chan struct{})}
	}
	a := ln.Addr().String()
	g.addr.Store(&a)
	newServer := func() *http.Server {
		return &http.Server{
			Handler:           g,
			ReadHeaderTimeout: cfg.HeaderTimeout,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
			BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		}
	}
	plain := newServer()
	servers := []*http.Server{plain}
	serveErr := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); serveErr <- plain.Serve(ln) }()

	if cfg.HTTPSPort != -1 {
		saddr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.HTTPSPort))
		sln, err := net.Listen("tcp", saddr)
		if err != nil {
			_ = plain.Close()
			wg.Wait()
			return listenErr("https", saddr, cfg.HTTPSPort, err)
		}
		sa := sln.Addr().String()
		g.httpsAddr.Store(&sa)
		s := newServer()
		s.TLSConfig = &tls.Config{
			MinVersion: tls.VersionTLS12,
			NextProtos: []string{"h2", "http/1.1"},
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				return g.cert.Load(), nil
			},
		}
		servers = append(servers, s)
		wg.Add(1)
		go func() { defer wg.Done(); serveErr <- s.ServeTLS(sln, "", "") }()
	}
	logCtx, stopLog := context.WithCancel(context.Background())
	logDone := make(chan struct{})
	spanDone := make(chan struct{})
	go func() { defer close(logDone); g.publishAccess(logCtx) }()
	go func() { defer close(spanDone); g.publishSpans(logCtx) }()
	close(g.started)
	g.log.Info("gateway listening", "http", g.Addr(), "https", g.HTTPSAddr())

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			runErr = fmt.Errorf("gateway: serve: %w", err)
		}
	}
	shCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if fast != nil {
		fast.stop(shCtx, fastDone)
	}
	for _, s := range servers {
		if err := s.Shutdown(shCtx); err != nil {
			_ = s.Close()
		}
	}
	g.closeConns()
	stopFast()
	if fast != nil {
		fast.wg.Wait()
	}
	wg.Wait()
	stopLog()
	<-logDone
	<-spanDone
	g.poolsMu.Lock()
	for _, t := range g.transports {
		t.t.CloseIdleConnections()
	}
	for _, p := range g.pools {
		for _, in := range *p.list.Load() {
			in.conns.closeAll()
		}
	}
	g.poolsMu.Unlock()
	return runErr
}

func (g *Gateway) trackConn(c net.Conn) func() {
	g.connsMu.Lock()
	g.conns[c] = struct{}{}
	g.connsMu.Unlock()
	return func() {
		g.connsMu.Lock()
		delete(g.conns, c)
		g.connsMu.Unlock()
	}
}

// closeConns ends hijacked (WebSocket) connections, which http.Server.Shutdown does not track.
func (g *Gateway) closeConns() {
	g.connsMu.Lock()
	defer g.connsMu.Unlock()
	for c := range g.conns {
		_ = c.Close()
	}
}

// publishAccess moves access records from the request path to the bus and the log ring, in batches.
func (g *Gateway) publishAccess(ctx context.Context) {
	if g.access == nil {
		<-ctx.Done()
		return
	}
	g.access.run(ctx, func(batch []event.Access) {
		for i := range batch {
			a := &batch[i]
			if g.opts.Bus != nil {
				g.opts.Bus.PublishAccess(*a)
			}
			if g.opts.Logs != nil {
				g.opts.Logs.AppendAccess(a)
			}
		}
	})
}
