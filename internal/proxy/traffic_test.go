package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loop runs n clients requesting url until stop is closed; it returns how many requests were made
// and the failures (any transport error or non-200).
func loop(t *testing.T, n int, url string, stop <-chan struct{}, seen func(name string)) (*atomic.Int64, *[]string, *sync.WaitGroup) {
	var count atomic.Int64
	var mu sync.Mutex
	var fails []string
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := client.Get(url)
				if err != nil {
					mu.Lock()
					fails = append(fails, err.Error())
					mu.Unlock()
					continue
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				count.Add(1)
				if res.StatusCode != 200 {
					mu.Lock()
					fails = append(fails, fmt.Sprintf("%d %s", res.StatusCode, b))
					mu.Unlock()
				} else if seen != nil {
					var e echo
					if i := strings.Index(string(b), `"name":"`); i >= 0 {
						rest := string(b)[i+8:]
						e.Name = rest[:strings.IndexByte(rest, '"')]
					}
					seen(e.Name)
				}
			}
		}()
	}
	return &count, &fails, &wg
}

func TestReloadUnderLoadFailsNothing(t *testing.T) {
	a := upstream(t, "a")
	cfgA := Config{Routes: []Route{{Path: "/", Service: "a"}}}
	gw := startGateway(t, cfgA, nil)
	gw.SetUpstreams("a", []Upstream{{ID: "a", Addr: hostOf(a), Ready: true}})
	stop := make(chan struct{})
	count, fails, wg := loop(t, 4, gw.base+"/x", stop, nil)
	eventually(t, 10*time.Second, "traffic", func() bool { return count.Load() > 20 })
	for i := 0; i < 30; i++ {
		cfg := gw.cfg
		cfg.Routes = []Route{{Path: "/", Service: "a", RateLimit: &RateLimit{Requests: 1e6}}, {Path: fmt.Sprintf("/r%d", i), Service: "a"}}
		if i%2 == 1 {
			cfg.Routes = cfgA.Routes
		}
		if err := gw.Reload(withTestValues(cfg)); err != nil {
			t.Fatal(err)
		}
		before := count.Load()
		eventually(t, 10*time.Second, "traffic after reload", func() bool { return count.Load() > before+5 })
	}
	close(stop)
	wg.Wait()
	if len(*fails) > 0 {
		t.Fatalf("%d of %d requests failed during reloads, first: %s", len(*fails), count.Load(), (*fails)[0])
	}
	// a bad config is refused and the old one keeps serving
	bad := gw.cfg
	bad.Routes = []Route{{Path: "nope", Service: "a"}}
	if err := gw.Reload(withTestValues(bad)); err == nil {
		t.Fatal("invalid reload accepted")
	}
	if r := do(t, "GET", gw.base+"/x", nil, nil); r.status != 200 {
		t.Fatalf("after refused reload: %d", r.status)
	}
}

func TestBlueGreenSwitch(t *testing.T) {
	blue, green := upstream(t, "blue"), upstream(t, "green")
	gw := startGateway(t, Config{Routes: []Route{{Path: "/", Service: "s"}}}, nil)
	gw.SetUpstreams("s", []Upstream{{ID: "s-1", Addr: hostOf(blue), Ready: true}})
	var greenSeen atomic.Int64
	stop := make(chan struct{})
	count, fails, wg := loop(t, 4, gw.base+"/", stop, func(n string) {
		if n == "green" {
			greenSeen.Add(1)
		}
	})
	eventually(t, 10*time.Second, "traffic to blue", func() bool { return count.Load() > 20 })
	gw.SetUpstreams("s", []Upstream{{ID: "s-1", Addr: hostOf(blue), Ready: true}, {ID: "s-2", Addr: hostOf(green), Ready: true}})
	eventually(t, 10*time.Second, "traffic to green", func() bool { return greenSeen.Load() > 5 })
	gw.SetUpstreams("s", []Upstream{{ID: "s-1", Addr: hostOf(blue), Ready: false}, {ID: "s-2", Addr: hostOf(green), Ready: true}})
	gw.SetUpstreams("s", []Upstream{{ID: "s-2", Addr: hostOf(green), Ready: true}})
	blue.Close() // waits for requests in flight on blue
	mark := count.Load()
	eventually(t, 10*time.Second, "traffic after blue stopped", func() bool { return count.Load() > mark+50 })
	close(stop)
	wg.Wait()
	if len(*fails) > 0 {
		t.Fatalf("%d failures in a blue-green switch, first: %s", len(*fails), (*fails)[0])
	}
}

// TestHotReloadWaitsForReadyInstance: the supervisor kills the only instance and starts a new one;
// requests that arrive in between wait instead of failing.
func TestHotReloadWaitsForReadyInstance(t *testing.T) {
	old := upstream(t, "old")
	gw := startGateway(t, Config{WaitReady: 30 * time.Second, Routes: []Route{{Path: "/", Service: "s"}}}, nil)
	gw.SetUpstreams("s", []Upstream{{ID: "s-0", Addr: hostOf(old), Ready: true}})
	stop := make(chan struct{})
	var newSeen atomic.Int64
	count, fails, wg := loop(t, 4, gw.base+"/", stop, func(n string) {
		if n == "new" {
			newSeen.Add(1)
		}
	})
	eventually(t, 10*time.Second, "traffic", func() bool { return count.Load() > 20 })
	// like a crash or a rebuild: the process dies before the supervisor reports it
	old.CloseClientConnections()
	old.Close()
	time.Sleep(100 * time.Millisecond) // requests now hit a refused port and must wait, not fail
	gw.SetUpstreams("s", []Upstream{{ID: "s-0", Addr: hostOf(old), Ready: false}})
	time.Sleep(100 * time.Millisecond)
	fresh := upstream(t, "new")
	gw.SetUpstreams("s", []Upstream{{ID: "s-0b", Addr: hostOf(fresh), Ready: true}})
	eventually(t, 10*time.Second, "traffic to the new instance", func() bool { return newSeen.Load() > 20 })
	close(stop)
	wg.Wait()
	if len(*fails) > 0 {
		t.Fatalf("%d of %d requests failed across a reload, first: %s", len(*fails), count.Load(), (*fails)[0])
	}
}

func TestNoReadyInstance503(t *testing.T) {
	gw := startGateway(t, Config{WaitReady: 200 * time.Millisecond, Routes: []Route{{Path: "/", Service: "orders"}}}, nil)
	r := do(t, "GET", gw.base+"/", nil, nil)
	if r.status != 503 || !strings.Contains(string(r.body), `"error":"service_unavailable"`) || !strings.Contains(string(r.body), `service \"orders\" has no ready instance`) {
		t.Fatalf("%d %s", r.status, r.body)
	}
	// a request waiting for an instance is served as soon as one is ready
	u := upstream(t, "orders")
	gw2 := startGateway(t, Config{WaitReady: 30 * time.Second, Routes: []Route{{Path: "/", Service: "orders"}}}, nil)
	done := make(chan resp, 1)
	go func() { done <- do(t, "GET", gw2.base+"/", nil, nil) }()
	time.Sleep(50 * time.Millisecond)
	gw2.SetUpstreams("orders", []Upstream{{ID: "o", Addr: hostOf(u), Ready: true}})
	if r := <-done; r.status != 200 {
		t.Fatalf("waiting request: %d %s", r.status, r.body)
	}
}

func refusedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestPassiveHealthAndRetry(t *testing.T) {
	good := upstream(t, "good")
	dead := refusedAddr(t)
	gw := startGateway(t, Config{Routes: []Route{{Path: "/", Service: "s"}}}, nil)
	gw.SetUpstreams("s", []Upstream{{ID: "dead", Addr: dead, Ready: true}, {ID: "good", Addr: hostOf(good), Ready: true}})
	for i := 0; i < 10; i++ {
		method := "GET"
		var body io.Reader
		if i%2 == 1 {
			method, body = "POST", strings.NewReader("payload") // never sent to the dead one: safe to retry
		}
		r := do(t, method, gw.base+"/", nil, body)
		if r.status != 200 || r.echo.Name != "good" {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
		if method == "POST" && r.echo.BodyLen != 7 {
			t.Fatalf("retried POST lost its body: %d", r.echo.BodyLen)
		}
	}
	ups := gw.Routes()[0].Upstreams
	var deadInfo string
	for _, u := range ups {
		if u.Addr == dead {
			deadInfo = fmt.Sprint(u.Healthy)
		}
	}
	if deadInfo != "false" {
		t.Fatalf("refusing instance not taken out: %+v", ups)
	}
}

func TestLeastConn(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	slow := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			entered <- struct{}{}
			<-release
		}
		fmt.Fprint(w, `{"name":"slow"}`)
	}))
	defer close(release)
	fast := upstream(t, "fast")
	gw := startGateway(t, Config{Routes: []Route{{Path: "/", Service: "s", Balance: "least_conn"}}}, nil)
	gw.SetUpstreams("s", []Upstream{{ID: "slow", Addr: hostOf(slow), Ready: true}})
	go func() {
		res, err := client.Get(gw.base + "/block")
		if err == nil {
			res.Body.Close()
		}
	}()
	<-entered
	gw.SetUpstreams("s", []Upstream{{ID: "slow", Addr: hostOf(slow), Ready: true}, {ID: "fast", Addr: hostOf(fast), Ready: true}})
	for i := 0; i < 10; i++ {
		if r := do(t, "GET", gw.base+"/x", nil, nil); r.echo.Name != "fast" {
			t.Fatalf("request %d went to the busy instance: %s", i, r.body)
		}
	}
}

func TestRoundRobin(t *testing.T) {
	a, b := upstream(t, "a"), upstream(t, "b")
	gw := startGateway(t, Config{Routes: []Route{{Path: "/", Service: "s"}}}, nil)
	gw.SetUpstreams("s", []Upstream{{ID: "a", Addr: hostOf(a), Ready: true}, {ID: "b", Addr: hostOf(b), Ready: true}})
	seen := map[string]int{}
	for i := 0; i < 10; i++ {
		seen[do(t, "GET", gw.base+"/", nil, nil).echo.Name]++
	}
	if seen["a"] != 5 || seen["b"] != 5 {
		t.Fatalf("round robin split: %v", seen)
	}
}

// TestWebSocketUpgrade tunnels an upgraded connection both ways.
func TestWebSocketUpgrade(t *testing.T) {
	ws := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || r.URL.Path != "/ws/chat" {
			http.Error(w, "want upgrade", 400)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Sub: %s\r\n\r\n", r.Header.Get("X-Auth-Subject"))
		brw.Flush()
		line, _ := brw.ReadString('\n')
		fmt.Fprintf(c, "echo:%s", line)
	}))
	state := t.TempDir()
	gw := startGateway(t, Config{StateDir: state, Routes: []Route{{Path: "/ws", Service: "chat", Auth: "required"}}}, nil)
	gw.SetUpstreams("chat", []Upstream{{ID: "c", Addr: hostOf(ws), Ready: true}})
	tok, _ := IssueToken(state, "devstack", "devstack", "alice", nil, time.Hour)
	c, err := net.Dial("tcp", gw.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /ws/chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer %s\r\n\r\n", tok)
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 101 || res.Header.Get("X-Sub") != "alice" || !strings.EqualFold(res.Header.Get("Upgrade"), "websocket") {
		t.Fatalf("upgrade response: %d %v", res.StatusCode, res.Header)
	}
	fmt.Fprint(c, "hello\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "echo:hello\n" {
		t.Fatalf("tunnel: %q %v", line, err)
	}
}

func TestTLSWithLocalCA(t *testing.T) {
	state := t.TempDir()
	u := upstream(t, "s")
	gw := startGatewayTLS(t, Config{StateDir: state, HTTPSPort: 0, Routes: []Route{{Path: "/", Service: "s"}}}, nil)
	gw.SetUpstreams("s", []Upstream{{ID: "s", Addr: hostOf(u), Ready: true}})
	pool := devCAPool(t, state)
	caPEM, err := os.ReadFile(CAPath(state))
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	_, port, _ := net.SplitHostPort(gw.HTTPSAddr())
	for _, host := range []string{"localhost", "127.0.0.1"} {
		res, err := c.Get("https://" + net.JoinHostPort(host, port) + "/x")
		if err != nil {
			t.Fatalf("https via %s: %v", host, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.ProtoMajor != 2 || !strings.Contains(string(b), `"X-Forwarded-Proto":["https"]`) {
			t.Fatalf("%s: %d %s %s", host, res.StatusCode, res.Proto, b)
		}
	}
	// new TLS host: the leaf is reissued by the same CA, which is kept
	caBefore := string(caPEM)
	cfg := gw.cfg
	cfg.TLSHosts = []string{"myapp.test"}
	if err := gw.Reload(withTestValues(cfg)); err != nil {
		t.Fatal(err)
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(dialer, "tcp", gw.HTTPSAddr(), &tls.Config{RootCAs: pool, ServerName: "myapp.test"})
	if err != nil {
		t.Fatalf("cert for the new host: %v", err)
	}
	conn.Close()
	caAfter, _ := os.ReadFile(CAPath(state))
	if string(caAfter) != caBefore {
		t.Fatal("CA was regenerated")
	}
	// a second gateway on the same state dir reuses the leaf as is
	leafBefore, _ := os.ReadFile(state + "/gateway/" + certFile)
	if _, err := New(withTestValues(Config{StateDir: state, HTTPPort: 0, TLSHosts: []string{"myapp.test"}}), Options{}); err != nil {
		t.Fatal(err)
	}
	leafAfter, _ := os.ReadFile(state + "/gateway/" + certFile)
	if string(leafBefore) != string(leafAfter) {
		t.Fatal("leaf reissued although hosts did not change")
	}
}

func TestCORS(t *testing.T) {
	u := upstream(t, "s")
	gw := startGateway(t, Config{Routes: []Route{{Path: "/", Service: "s", Auth: "required",
		CORS: &CORS{Origins: []string{"http://app.localhost:3000"}, Credentials: true, MaxAge: time.Hour}}}}, nil)
	gw.SetUpstreams("s", []Upstream{{ID: "s", Addr: hostOf(u), Ready: true}})
	tests := []struct {
		name, method, origin string
		status               int
		acao                 string
	}{
		{"preflight allowed", "OPTIONS", "http://app.localhost:3000", 204, "http://app.localhost:3000"},
		{"preflight refused", "OPTIONS", "http://evil.test", 403, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.method, gw.base+"/api", map[string]string{"Origin": tc.origin, "Access-Control-Request-Method": "POST",
				"Access-Control-Request-Headers": "authorization"}, nil)
			if r.status != tc.status || r.header.Get("Access-Control-Allow-Origin") != tc.acao {
				t.Fatalf("%d %v", r.status, r.header)
			}
			if tc.status == 204 && (r.header.Get("Access-Control-Allow-Credentials") != "true" || r.header.Get("Access-Control-Max-Age") != "3600") {
				t.Fatalf("preflight headers: %v", r.header)
			}
		})
	}
	// an actual (unauthenticated) request still gets CORS headers so the browser can read the 401
	r := do(t, "GET", gw.base+"/api", map[string]string{"Origin": "http://app.localhost:3000"}, nil)
	if r.status != 401 || r.header.Get("Access-Control-Allow-Origin") != "http://app.localhost:3000" {
		t.Fatalf("actual: %d %v", r.status, r.header)
	}
}

func TestShutdownClosesTunnels(t *testing.T) {
	// Run returns promptly even with an upgraded connection open.
	up := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, _ := http.NewResponseController(w).Hijack()
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		io.Copy(io.Discard, c)
	}))
	g, err := New(withTestValues(Config{HTTPSPort: -1, StateDir: t.TempDir(), Routes: []Route{{Path: "/", Service: "s"}}}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	g.SetUpstreams("s", []Upstream{{ID: "s", Addr: hostOf(up), Ready: true}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	<-g.Started()
	c, err := net.Dial("tcp", g.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || res.StatusCode != 101 {
		t.Fatalf("%v %v", res, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return with a tunnel open")
	}
}

var _ = httptest.NewServer

func TestStaleKeepAliveConnections(t *testing.T) {
	u := upstream(t, "s")
	gw := startGateway(t, Config{Routes: []Route{{Path: "/", Service: "s"}}}, nil)
	gw.SetUpstreams("s", []Upstream{{ID: "s", Addr: hostOf(u), Ready: true}})
	for i := 0; i < 6; i++ {
		method, body := "GET", io.Reader(nil)
		if i%2 == 1 {
			method, body = "POST", strings.NewReader("data")
		}
		if r := do(t, method, gw.base+"/", nil, body); r.status != 200 {
			t.Fatalf("request %d (%s): %d %s", i, method, r.status, r.body)
		}
		// the upstream drops its kept-alive connections (as Node does after 5s idle)
		u.CloseClientConnections()
		time.Sleep(20 * time.Millisecond)
	}
}

func TestUpstreamTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	slow := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	gw := startGateway(t, Config{Routes: []Route{{Path: "/", Service: "s", Timeout: 200 * time.Millisecond}}}, nil)
	gw.SetUpstreams("s", []Upstream{{ID: "s", Addr: hostOf(slow), Ready: true}})
	if r := do(t, "GET", gw.base+"/", nil, nil); r.status != 504 || !strings.Contains(string(r.body), "did not answer in time") {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

// A route's timeout 0 means none: an upstream slower than a small timeout on another route is answered.
func TestUpstreamTimeoutZeroIsNone(t *testing.T) {
	slow := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(600 * time.Millisecond)
		fmt.Fprint(w, "late answer")
	}))
	gw := startGatewayExact(t, withTestValues(Config{Routes: []Route{
		{Path: "/cut", Service: "s", Timeout: 200 * time.Millisecond},
		{Path: "/none", Service: "s", Timeout: 0},
	}}), nil)
	gw.SetUpstreams("s", []Upstream{{ID: "s", Addr: hostOf(slow), Ready: true}})
	if r := do(t, "GET", gw.base+"/cut", nil, nil); r.status != 504 {
		t.Errorf("timeout 200ms: %d %s, want 504", r.status, r.body)
	}
	if r := do(t, "GET", gw.base+"/none", nil, nil); r.status != 200 || string(r.body) != "late answer" {
		t.Errorf("timeout 0 (none): %d %s, want 200 late answer", r.status, r.body)
	}
}

// WaitReady 0 answers 503 at once when no instance is ready, rather than waiting.
func TestWaitReadyZeroAnswersAtOnce(t *testing.T) {
	cfg := withTestValues(Config{Routes: []Route{{Path: "/", Service: "s"}}})
	cfg.WaitReady = 0
	gw := startGatewayExact(t, cfg, nil)
	gw.SetUpstreams("s", []Upstream{{ID: "s", Addr: "127.0.0.1:1", Ready: false}})
	start := time.Now()
	r := do(t, "GET", gw.base+"/", nil, nil)
	if r.status != 503 || time.Since(start) > 2*time.Second {
		t.Errorf("wait_ready 0: %d after %s, want 503 at once: %s", r.status, time.Since(start), r.body)
	}
}

func TestStreamingIsFlushed(t *testing.T) {
	next := make(chan struct{})
	sse := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-next:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "data: two\n\n")
	}))
	gw := startGateway(t, Config{Routes: []Route{{Path: "/", Service: "s"}}}, nil)
	gw.SetUpstreams("s", []Upstream{{ID: "s", Addr: hostOf(sse), Ready: true}})
	res, err := client.Get(gw.base + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	line, err := br.ReadString('\n') // must arrive while the upstream still holds the response open
	if err != nil || line != "data: one\n" {
		t.Fatalf("first event: %q %v", line, err)
	}
	close(next)
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), "data: two") {
		t.Fatalf("rest: %q", rest)
	}
}

// A client that stops sending its request body halfway is cut after the header timeout, whichever
// server reads it: the event loops (Content-Length body on the plain port), net/http (a chunked body
// is handed to it; all of the plain port with DEVSTACK_GATEWAY_NETHTTP=1), HTTPS with HTTP/1.1 and
// HTTP/2. Where net/http reads the body the client gets 408; the upstream never sees the request
// finished, and the stall does not hang the gateway.
func TestStalledRequestBodyIsCut(t *testing.T) {
	state := t.TempDir()
	const timeout = 400 * time.Millisecond
	u := upstream(t, "s")
	gw := startGatewayTLS(t, Config{StateDir: state, HTTPSPort: 0, HeaderTimeout: timeout, Routes: []Route{{Path: "/", Service: "s"}}}, nil)
	gw.SetUpstreams("s", []Upstream{{ID: "s", Addr: hostOf(u), Ready: true}})
	pool := devCAPool(t, state)
	tlsConf := &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}}

	// checkCut reads what the gateway sends until it closes the connection
	checkCut := func(name string, c net.Conn, send string, want408 bool) {
		t.Helper()
		defer c.Close()
		if _, err := io.WriteString(c, send); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		start := time.Now()
		got, err := io.ReadAll(c)
		took := time.Since(start)
		if err != nil {
			t.Errorf("%s: the connection was not cut: %v (got %q)", name, err, got)
			return
		}
		if took < timeout*3/4 {
			t.Errorf("%s: cut after %v, before the timeout of %v", name, took, timeout)
		}
		switch {
		case strings.Contains(name, "early answer"):
			if len(got) > 0 && !strings.HasPrefix(string(got), "HTTP/1.1 400 ") {
				t.Errorf("%s: got %q, want the 400 or nothing", name, got)
			}
		case want408 || len(got) > 0:
			if !strings.HasPrefix(string(got), "HTTP/1.1 408 ") || !strings.Contains(string(got), `"request_timeout"`) {
				t.Errorf("%s: got %q, want a 408 request_timeout answer", name, got)
			}
		}
	}
	const head = "POST /upload HTTP/1.1\r\nHost: localhost\r\n"
	for _, tc := range []struct {
		name, send string
		want408    bool
	}{
		{"content-length body", head + "Content-Length: 10\r\n\r\nabc", false}, // the loops close without an answer
		{"chunked body", head + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", true},
		// answered early by the gateway (400 for an encoded slash) without reading the body
		{"early answer, content-length body", strings.Replace(head, "/upload", "/a%2Fb", 1) + "Content-Length: 10\r\n\r\nabc", false},
		{"early answer, chunked body", strings.Replace(head, "/upload", "/a%2Fb", 1) + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", false},
	} {
		c, err := net.Dial("tcp", gw.Addr())
		if err != nil {
			t.Fatal(err)
		}
		checkCut("http "+tc.name, c, tc.send, tc.want408 || os.Getenv("DEVSTACK_GATEWAY_NETHTTP") == "1")
		c2, err := tls.Dial("tcp", gw.HTTPSAddr(), tlsConf)
		if err != nil {
			t.Fatal(err)
		}
		checkCut("https/1.1 "+tc.name, c2, tc.send, true)
	}

	// HTTP/2: the stream gets 408 while the client still holds its body open
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte("abc")) }()
	req, _ := http.NewRequest("POST", "https://localhost:"+portOf(gw.HTTPSAddr())+"/upload", pr)
	req.ContentLength = 10
	start := time.Now()
	res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("h2: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.ProtoMajor != 2 || res.StatusCode != 408 || time.Since(start) < timeout*3/4 {
		t.Errorf("h2: %s %d after %v: %s", res.Proto, res.StatusCode, time.Since(start), b)
	}

	// the limit is on the pause between body bytes, not on the whole body: a slow but steady upload
	// that takes longer than the timeout goes through, on every path (chunked: net/http; HTTPS)
	for _, scheme := range []string{"http", "https"} {
		pr, pw := io.Pipe()
		go func() {
			defer pw.Close()
			for i := 0; i < 6; i++ {
				time.Sleep(timeout / 3)
				_, _ = pw.Write([]byte("0123456789"))
			}
		}()
		addr := gw.Addr()
		if scheme == "https" {
			addr = "localhost:" + portOf(gw.HTTPSAddr())
		}
		req, _ := http.NewRequest("POST", scheme+"://"+addr+"/slow", pr)
		res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("slow %s upload: %v", scheme, err)
		}
		var e echo
		_ = json.NewDecoder(res.Body).Decode(&e)
		res.Body.Close()
		if res.StatusCode != 200 || e.BodyLen != 60 {
			t.Errorf("slow %s upload: %d, upstream read %d bytes, want 200 and 60", scheme, res.StatusCode, e.BodyLen)
		}
	}
	// once the body is in, an upstream that takes longer than the timeout to answer is waited for
	slow := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(3 * timeout)
		_, _ = io.WriteString(w, "late but fine")
	}))
	gw.SetUpstreams("s", []Upstream{{ID: "slow", Addr: hostOf(slow), Ready: true}})
	for _, tc := range []struct{ name, body string }{{"content-length", "0123456789"}, {"chunked", ""}} {
		var body io.Reader = strings.NewReader(tc.body)
		if tc.name == "chunked" {
			body = io.MultiReader(strings.NewReader("01234"), strings.NewReader("56789")) // no length: chunked
		}
		req, _ := http.NewRequest("POST", gw.base+"/late", body)
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("slow answer (%s): %v", tc.name, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(b) != "late but fine" {
			t.Errorf("slow answer (%s): %d %q", tc.name, res.StatusCode, b)
		}
	}
	gw.SetUpstreams("s", []Upstream{{ID: "s", Addr: hostOf(u), Ready: true}})

	// the gateway still serves, and the access log has the 408s
	if r := do(t, "POST", gw.base+"/upload", nil, strings.NewReader("0123456789")); r.status != 200 || r.echo.BodyLen != 10 {
		t.Errorf("after the stalls: %d %+v", r.status, r.echo)
	}
	eventually(t, 5*time.Second, "408 lines in the access log", func() bool {
		return len(gw.logs.Tail(0, func(l eventLine) bool { return l.Stream == "access" && strings.Contains(l.Text, " 408 ") })) >= 3
	})
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// A client that stops reading a large response is cut after the send timeout, whichever server
// writes to it (the event loops' detached copy for a large response on the plain port, net/http for
// HTTPS and HTTP/2), and the upstream's writes then fail instead of blocking forever. A stream that
// a client keeps reading runs on for longer than the timeout.
func TestClientThatStopsReadingIsCut(t *testing.T) {
	const sendTO = 300 * time.Millisecond
	big := make([]byte, 64<<10)
	finished := make(chan error, 8)
	up := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/forever" { // an endless event stream: ends only when a write fails
			w.Header().Set("Content-Type", "text/event-stream")
			for {
				if _, err := io.WriteString(w, "data: tick\n\n"); err != nil {
					finished <- err
					return
				}
				w.(http.Flusher).Flush()
				time.Sleep(10 * time.Millisecond)
			}
		}
		if r.URL.Path == "/events" {
			w.Header().Set("Content-Type", "text/event-stream")
			for i := 0; i < 8; i++ {
				fmt.Fprintf(w, "data: %d\n\n", i)
				w.(http.Flusher).Flush()
				time.Sleep(sendTO / 3)
			}
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(1024*len(big))) // 64 MiB
		for i := 0; i < 1024; i++ {
			if _, err := w.Write(big); err != nil {
				finished <- err
				return
			}
		}
		finished <- nil
	}))
	state := t.TempDir()
	gw := startGatewayTLS(t, Config{StateDir: state, HTTPSPort: 0, SendTimeout: sendTO, Routes: []Route{{Path: "/", Service: "s"}}}, nil)
	gw.SetUpstreams("s", []Upstream{{ID: "s", Addr: hostOf(up), Ready: true}})
	pool := devCAPool(t, state)

	stall := func(name string, c net.Conn) {
		t.Helper()
		defer c.Close()
		if _, err := io.WriteString(c, "GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		select { // never read: the upstream must see its writes fail
		case err := <-finished:
			if err == nil {
				t.Errorf("%s: the upstream wrote all 64 MiB to a client that reads nothing", name)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: the upstream is still blocked writing to a client that stopped reading", name)
		}
	}
	c, err := net.Dial("tcp", gw.Addr())
	if err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).SetReadBuffer(4096)
	stall("http", c)
	c2, err := tls.Dial("tcp", gw.HTTPSAddr(), &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	stall("https/1.1", c2)

	// HTTP/2: the client takes the response head and then stops reading the body
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	h2 := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	res, err := h2.Get("https://localhost:" + portOf(gw.HTTPSAddr()) + "/big")
	if err != nil {
		t.Fatal(err)
	}
	if res.ProtoMajor != 2 {
		t.Fatalf("h2: got %s", res.Proto)
	}
	select {
	case err := <-finished:
		if err == nil {
			t.Errorf("h2: the upstream wrote all 64 MiB to a client that reads nothing")
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("h2: the upstream is still blocked writing to a client that stopped reading")
	}
	res.Body.Close()

	// a client that leaves an endless stream: the upstream's writes fail soon after (the gateway
	// neither keeps the stream open nor drains it)
	for _, scheme := range []string{"http", "https"} {
		var c net.Conn
		if scheme == "http" {
			c, err = net.Dial("tcp", gw.Addr())
		} else {
			c, err = tls.Dial("tcp", gw.HTTPSAddr(), &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
		}
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET /forever HTTP/1.1\r\nHost: localhost\r\n\r\n")
		buf := make([]byte, 4096)
		if _, err := io.ReadAtLeast(c, buf, 100); err != nil {
			t.Fatalf("%s /forever: %v", scheme, err)
		}
		c.Close()
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the endless stream still runs 10 s after its client left", scheme)
		}
	}

	// a stream that takes longer than the timeout, read as it comes, arrives whole, on every path
	for _, base := range []string{gw.base, "https://localhost:" + portOf(gw.HTTPSAddr())} {
		res, err := h2.Get(base + "/events")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || strings.Count(string(b), "data: ") != 8 {
			t.Errorf("%s/events: %v, got %q", base, err, b)
		}
	}
	// the send deadline of one response does not outlive it: the next request on the same kept-alive
	// connection, sent after longer than the timeout, is answered (HTTPS/1.1: net/http)
	h1tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}, MaxConnsPerHost: 1}
	defer h1tr.CloseIdleConnections()
	h1 := &http.Client{Transport: h1tr, Timeout: 10 * time.Second}
	conns := map[string]bool{}
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest("GET", "https://localhost:"+portOf(gw.HTTPSAddr())+"/events", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) { conns[ci.Conn.LocalAddr().String()] = true }}))
		res, err := h1.Do(req)
		if err != nil {
			t.Fatalf("request %d on a kept-alive connection: %v", i+1, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || strings.Count(string(b), "data: ") != 8 {
			t.Errorf("request %d on a kept-alive connection: %d %q", i+1, res.StatusCode, b)
		}
		time.Sleep(2 * sendTO)
	}
	if len(conns) != 1 {
		t.Errorf("the two requests used %d connections, want one kept alive", len(conns))
	}
}
