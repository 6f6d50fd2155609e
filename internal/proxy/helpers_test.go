package proxy

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// echo is what the test upstream saw.
type echo struct {
	Name    string      `json:"name"`
	Method  string      `json:"method"`
	Path    string      `json:"path"`
	RawPath string      `json:"raw_path"`
	Query   string      `json:"query"`
	Host    string      `json:"host"`
	Header  http.Header `json:"header"`
	BodyLen int         `json:"body_len"`
}

// upstream starts a real HTTP server that echoes the request as JSON.
func upstream(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "must-not-pass")
		w.Header().Set("Keep-Alive", "timeout=5")
		_ = json.NewEncoder(w).Encode(echo{Name: name, Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath,
			Query: r.URL.RawQuery, Host: r.Host, Header: r.Header, BodyLen: len(b)})
	}))
	t.Cleanup(s.Close)
	return s
}

func hostOf(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

// fakeClock is an injectable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type testGW struct {
	*Gateway
	base string
	bus  *event.Bus
	logs *event.Logs
}

// startGateway runs a gateway on free ports until the test ends.
func startGateway(t *testing.T, cfg Config, now func() time.Time) *testGW {
	t.Helper()
	if cfg.HTTPSPort == 0 {
		cfg.HTTPSPort = -1
	}
	return startGatewayTLS(t, cfg, now)
}

// startGatewayTLS is startGateway with HTTPSPort as given (0: a free port).
func startGatewayTLS(t *testing.T, cfg Config, now func() time.Time) *testGW {
	t.Helper()
	return startGatewayExact(t, withTestValues(cfg), now)
}

// withTestValues fills the gateway-wide settings a test leaves zero with devstack's defaults (as
// internal/config would), so a test names only what it is about. New itself defaults nothing: a test
// of what a zero means uses startGatewayExact. Routes' timeout and max_body are left as given (0: none).
func withTestValues(cfg Config) Config {
	set := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	set(&cfg.WaitReady, 30*time.Second)
	set(&cfg.HeaderTimeout, 10*time.Second)
	set(&cfg.SendTimeout, 60*time.Second)
	set(&cfg.Auth.Leeway, 30*time.Second)
	set(&cfg.Auth.DevIssuer.TokenTTL, time.Hour)
	if cfg.Auth.Issuer == "" {
		cfg.Auth.Issuer = "devstack"
	}
	if cfg.Auth.Audience == "" {
		cfg.Auth.Audience = "devstack"
	}
	limit := func(rl *RateLimit) *RateLimit {
		if rl == nil {
			return nil
		}
		c := *rl
		set(&c.Per, time.Second)
		if c.Burst == 0 {
			c.Burst = int(math.Ceil(c.Requests))
		}
		return &c
	}
	cfg.GlobalLimit = limit(cfg.GlobalLimit)
	cfg.Routes = slices.Clone(cfg.Routes)
	for i := range cfg.Routes {
		cfg.Routes[i].RateLimit = limit(cfg.Routes[i].RateLimit)
	}
	return cfg
}

// startGatewayExact runs a gateway with cfg as given (but a temp StateDir) until the test ends.
func startGatewayExact(t *testing.T, cfg Config, now func() time.Time) *testGW {
	t.Helper()
	return runGateway(t, cfg, Options{Now: now})
}

// runGateway runs a gateway with cfg and o as given (but a temp StateDir when cfg has none, and the
// test's own event bus and log ring) until the test ends.
func runGateway(t *testing.T, cfg Config, o Options) *testGW {
	t.Helper()
	if cfg.StateDir == "" {
		cfg.StateDir = t.TempDir()
	}
	bus, logs := event.NewBus("test"), event.NewLogs(1000)
	o.Bus, o.Logs = bus, logs
	g, err := New(cfg, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("gateway did not stop")
		}
	})
	select {
	case <-g.Started():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not start")
	}
	return &testGW{Gateway: g, base: g.URL(), bus: bus, logs: logs}
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}

type resp struct {
	status int
	header http.Header
	body   []byte
	echo   echo
}

func do(t *testing.T, method, url string, hdr map[string]string, body io.Reader) resp {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, body: b}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(b, &out.echo)
	}
	return out
}

// rawRequest sends bytes on a fresh TCP connection and returns the status line.
func rawRequest(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, io.EOF) {
		var ne net.Error
		if !errors.As(err, &ne) {
			t.Fatal(err)
		}
	}
	return string(b)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type eventLine = event.LogLine

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// devCAPool trusts the development CA the gateway keeps in state.
func devCAPool(t *testing.T, state string) *x509.CertPool {
	t.Helper()
	caPEM, err := os.ReadFile(CAPath(state))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("bad CA PEM")
	}
	return pool
}

// serveRaw accepts TCP connections on a loopback port until the test ends and runs handle for each
// on its own goroutine (the connection is closed after it); it returns the address.
func serveRaw(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}
