package proxy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// fastCounts is a snapshot of the fast path's counters.
type fastCounts struct{ served, handoffs, detaches int64 }

// wantCounts waits until the counters (which the loop updates right after it wrote the answer) reach want.
func (gw *testGW) wantCounts(t *testing.T, what string, want func(fastCounts) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := gw.fastCounts(t)
		if want(c) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("fast path counters %+v: want %s", c, what)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (gw *testGW) fastCounts(t *testing.T) fastCounts {
	t.Helper()
	f := gw.fast.Load()
	if f == nil {
		if os.Getenv("DEVSTACK_GATEWAY_NETHTTP") == "1" {
			t.Skip("DEVSTACK_GATEWAY_NETHTTP=1: the gateway runs without its fast path")
		}
		t.Fatal("the gateway runs without its fast path")
	}
	return fastCounts{f.served.Load(), f.handoffs.Load(), f.detaches.Load()}
}

// dialGateway opens a connection to addr that the test closes and that gives up after d.
func dialGateway(t *testing.T, addr string, d time.Duration) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(d))
	return c
}

// exchange sends raw requests on one connection and reads one response per request.
func exchange(t *testing.T, addr string, reqs ...string) []*http.Response {
	t.Helper()
	c := dialGateway(t, addr, 15*time.Second)
	br := bufio.NewReader(c)
	var out []*http.Response
	for _, r := range reqs {
		if _, err := io.WriteString(c, r); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("reading the answer to %q: %v", r, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		res.Body = io.NopCloser(strings.NewReader(string(b)))
		out = append(out, res)
	}
	return out
}

func bodyOf(res *http.Response) string {
	b, _ := io.ReadAll(res.Body)
	res.Body = io.NopCloser(strings.NewReader(string(b)))
	return string(b)
}

func TestFastPathServesPlainRequestsOnTheLoop(t *testing.T) {
	up := upstream(t, "a")
	gw := startGateway(t, Config{Routes: []Route{{Path: "/api", Service: "a", StripPrefix: true}}}, nil)
	gw.SetUpstreams("a", []Upstream{{ID: "a", Addr: hostOf(up), Ready: true}})
	addr := gw.Addr()
	reqs := []string{
		"GET /api/users?x=1 HTTP/1.1\r\nHost: example.test\r\nX-Auth-Subject: forged\r\nX-Forwarded-For: 10.0.0.1\r\nX-Request-Id: abc-123\r\nKeep-Alive: 5\r\n\r\n",
		"POST /api/orders HTTP/1.1\r\nHost: example.test\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\":\"bc\"}\n",
		"HEAD /api/users HTTP/1.1\r\nHost: example.test\r\n\r\n",
	}
	res := exchange(t, addr, reqs...)
	var e echo
	if err := json.Unmarshal([]byte(bodyOf(res[0])), &e); err != nil {
		t.Fatalf("echo: %v (%s)", err, bodyOf(res[0]))
	}
	if e.Path != "/users" || e.Query != "x=1" || e.Host != "example.test" {
		t.Errorf("upstream saw %s %s?%s host %s", e.Method, e.Path, e.Query, e.Host)
	}
	if got := e.Header.Get("X-Forwarded-For"); got != "10.0.0.1, 127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q", got)
	}
	if e.Header.Get("X-Auth-Subject") != "" || e.Header.Get("Keep-Alive") != "" {
		t.Errorf("a forged X-Auth-Subject or a hop-by-hop header reached the upstream: %v", e.Header)
	}
	if e.Header.Get("X-Request-Id") != "abc-123" || res[0].Header.Get("X-Request-Id") != "abc-123" {
		t.Errorf("request id: upstream %q, client %q", e.Header.Get("X-Request-Id"), res[0].Header.Get("X-Request-Id"))
	}
	if res[0].Header.Get("X-Hop") != "" || res[0].Header.Get("Keep-Alive") != "" || res[0].Header.Get("Date") == "" {
		t.Errorf("response headers: %v", res[0].Header)
	}
	if err := json.Unmarshal([]byte(bodyOf(res[1])), &e); err != nil || e.Method != "POST" || e.BodyLen != 11 {
		t.Errorf("POST: %v %+v", err, e)
	}
	if res[2].StatusCode != 200 || bodyOf(res[2]) != "" {
		t.Errorf("HEAD: %d %q", res[2].StatusCode, bodyOf(res[2]))
	}
	gw.wantCounts(t, "3 served and no hand-off", func(c fastCounts) bool { return c.served == 3 && c.handoffs == 0 })
	// the counters are on the Prometheus endpoint (that request itself is handed to net/http)
	m := do(t, "GET", gw.base+"/__devstack/metrics", nil, nil)
	if !strings.Contains(string(m.body), `devstack_gateway_fastpath_total{result="served"} 3`) ||
		!strings.Contains(string(m.body), `devstack_gateway_fastpath_total{result="handoff"} 1`) {
		t.Errorf("metrics lack the fast path counters:\n%s", m.body)
	}
	eventually(t, 5*time.Second, "three access log lines", func() bool {
		return len(gw.logs.Tail(100, func(l event.LogLine) bool { return l.Stream == "access" })) == 3
	})
	for _, l := range gw.logs.Tail(100, func(l event.LogLine) bool { return l.Stream == "access" }) {
		if !strings.Contains(l.Text, "service=a") || !strings.Contains(l.Text, "client=127.0.0.1") {
			t.Errorf("access line %q", l.Text)
		}
	}
}

// Requests the fast path does not serve itself go to net/http with every byte intact, and the
// answer is net/http's.
func TestFastPathHandsOffWhatItDoesNotServe(t *testing.T) {
	up := upstream(t, "a")
	gw := startGateway(t, Config{Routes: []Route{
		{Path: "/api", Service: "a"},
		{Path: "/private", Service: "a", Auth: "required"},
		{Path: "/small", Service: "a", MaxBody: 4},
	}}, nil)
	gw.SetUpstreams("a", []Upstream{{ID: "a", Addr: hostOf(up), Ready: true}})
	cases := []struct {
		name, req string
		status    int
	}{
		{"encoded slash", "GET /api/a%2Fb HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"dot segments", "GET /api/../api/x HTTP/1.1\r\nHost: x\r\n\r\n", 200},
		{"no route", "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n", 404},
		{"no token", "GET /private/x HTTP/1.1\r\nHost: x\r\n\r\n", 401},
		{"bad token", "GET /private/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc.def.ghi\r\n\r\n", 401},
		{"body too large", "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 413},
		{"chunked body", "POST /api/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 200},
		{"HTTP/1.0", "GET /api/x HTTP/1.0\r\nHost: x\r\n\r\n", 200},
		{"no Host", "GET /api/x HTTP/1.1\r\n\r\n", 400},
		{"two Hosts", "GET /api/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"two lengths", "POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
		{"length and chunked", "POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 200}, // net/http drops the length
		{"space before colon", "GET /api/x HTTP/1.1\r\nHost: x\r\nX-A : 1\r\n\r\n", 400},
		{"folded header", "GET /api/x HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n", 200}, // net/http unfolds it
		{"issuer", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := gw.fastCounts(t)
			out := rawRequest(t, gw.Addr(), strings.Replace(tc.req, "\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1))
			res, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out)), nil)
			if err != nil {
				t.Fatalf("no HTTP answer: %q", out)
			}
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d (%q)", res.StatusCode, tc.status, out)
			}
			gw.wantCounts(t, fmt.Sprintf("one hand-off more than %+v, nothing served on the loop", before), func(c fastCounts) bool {
				return c.handoffs == before.handoffs+1 && c.served == before.served
			})
		})
	}
}

// The fast path and net/http forward the same request the same way: the upstream sees the same
// method, path, query, host and headers (apart from the request id's value).
func TestFastPathForwardsLikeNetHTTP(t *testing.T) {
	up := upstream(t, "a")
	cfg := Config{Routes: []Route{
		{Path: "/api", Service: "a", StripPrefix: true},
		{Path: "/rw", Service: "a", Rewrite: "/v2"},
		{Path: "/limited", Service: "a", RateLimit: &RateLimit{Requests: 1000}},
	}}
	fast := startGateway(t, cfg, nil)
	slow := startGatewayWith(t, cfg, Options{NetHTTPOnly: true})
	for _, gw := range []*testGW{fast, slow} {
		gw.SetUpstreams("a", []Upstream{{ID: "a", Addr: hostOf(up), Ready: true}})
	}
	reqs := []string{
		"GET /api/x?q=%20a&b=c HTTP/1.1\r\nHost: h.test:8080\r\nUser-Agent: t/1\r\nAccept: */*\r\n\r\n",
		"GET /api HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-For: 5.6.7.8\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil\r\n\r\n",
		"GET /rw/a/b HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: Basic eA==\r\nTrailer: X\r\n\r\n",
		"DELETE /api/1 HTTP/1.1\r\nHost: h\r\nX-Request-Id: bad id with spaces\r\n\r\n",
		"PUT /api/1 HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
		"POST /api/1 HTTP/1.1\r\nHost: h\r\n\r\n",
		"PATCH /api/1 HTTP/1.1\r\nHost: h\r\ncontent-length: 3\r\nx-lower: v\r\n\r\nabc",
		"OPTIONS /api/1 HTTP/1.1\r\nHost: h\r\nX-Auth-Scopes: admin\r\nx-auth-subject: root\r\n\r\n",
		"GET /limited HTTP/1.1\r\nHost: h\r\n\r\n",
	}
	norm := func(res *http.Response) string {
		var e echo
		_ = json.Unmarshal([]byte(bodyOf(res)), &e)
		var hs []string
		for k, v := range e.Header {
			if k == "X-Request-Id" {
				if len(v) != 1 || !validRequestID(v[0]) {
					hs = append(hs, "bad request id")
				}
				continue
			}
			hs = append(hs, k+"="+strings.Join(v, "|"))
		}
		sort.Strings(hs)
		var rh []string
		for k, v := range res.Header {
			switch k {
			case "Date", "X-Request-Id", "Content-Length":
				continue
			}
			rh = append(rh, k+"="+strings.Join(v, "|"))
		}
		sort.Strings(rh)
		return fmt.Sprintf("%d %s %s ?%s host=%s body=%d\n  up: %s\n  down: %s", res.StatusCode, e.Method, e.Path, e.Query, e.Host, e.BodyLen,
			strings.Join(hs, "; "), strings.Join(rh, "; "))
	}
	before := fast.fastCounts(t)
	for _, r := range reqs {
		a := exchange(t, fast.Addr(), r)[0]
		b := exchange(t, slow.Addr(), r)[0]
		if na, nb := norm(a), norm(b); na != nb {
			t.Errorf("%q\nfast path: %s\nnet/http:  %s", r, na, nb)
		}
	}
	fast.wantCounts(t, "every request served on the loop", func(c fastCounts) bool {
		return c.served-before.served == int64(len(reqs)) && c.handoffs == before.handoffs
	})
}

// startGatewayWith is startGateway (no HTTPS, a temp StateDir) with the given Options.
func startGatewayWith(t *testing.T, cfg Config, o Options) *testGW {
	t.Helper()
	cfg.HTTPSPort, cfg.StateDir = -1, ""
	return runGateway(t, withTestValues(cfg), o)
}

// A fresh token is verified off the loop and the request continues there; a refused rate limit is
// answered on the loop with the same headers as net/http's.
func TestFastPathTokenAndRateLimit(t *testing.T) {
	up := upstream(t, "a")
	clk := newClock()
	gw := startGateway(t, Config{Routes: []Route{{Path: "/", Service: "a", Auth: "required", Scopes: []string{"orders:read"},
		RateLimit: &RateLimit{Requests: 2, Per: time.Minute, Key: "sub"}}}}, clk.Now)
	gw.SetUpstreams("a", []Upstream{{ID: "a", Addr: hostOf(up), Ready: true}})
	tok, err := gw.Gateway.dev.sign(clk.Now(), gw.cfg.Auth.Issuer, gw.cfg.Auth.Audience, "alice", []string{"orders:read"}, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := "GET /x HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer " + tok + "\r\n\r\n"
	res := exchange(t, gw.Addr(), req, req, req)
	if res[0].StatusCode != 200 || res[1].StatusCode != 200 || res[2].StatusCode != 429 {
		t.Fatalf("statuses %d %d %d, want 200 200 429", res[0].StatusCode, res[1].StatusCode, res[2].StatusCode)
	}
	var e echo
	_ = json.Unmarshal([]byte(bodyOf(res[0])), &e)
	if e.Header.Get("X-Auth-Subject") != "alice" || e.Header.Get("X-Auth-Scopes") != "orders:read" {
		t.Errorf("claims forwarded: %v", e.Header)
	}
	if got := res[1].Header.Get("Ratelimit"); !strings.Contains(got, ";r=0;") {
		t.Errorf("RateLimit on the second answer = %q", got)
	}
	r := res[2]
	if r.Header.Get("Retry-After") == "" || r.Header.Get("Ratelimit-Policy") == "" || !strings.Contains(bodyOf(r), `"rate_limited"`) ||
		r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-Request-Id") == "" {
		t.Errorf("429: %v %s", r.Header, bodyOf(r))
	}
	gw.wantCounts(t, "all three answered on the loop", func(c fastCounts) bool { return c.served == 3 && c.handoffs == 0 })
}

// Streamed and large responses are finished by a goroutine, and the connection then goes back to
// the loop for the next request.
func TestFastPathDetachesStreamsAndLargeBodies(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", (3<<20)/16)
	up := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/events":
			w.Header().Set("Content-Type", "text/event-stream")
			for i := 0; i < 3; i++ {
				fmt.Fprintf(w, "data: %d\n\n", i)
				w.(http.Flusher).Flush()
				time.Sleep(50 * time.Millisecond)
			}
		case "/big":
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			io.WriteString(w, big)
		case "/chunked":
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, strings.Repeat("x", 5000))
			w.(http.Flusher).Flush()
			io.WriteString(w, "end")
			w.Header().Set("X-Sum", "5003")
		default:
			io.WriteString(w, "ok")
		}
	}))
	gw := startGateway(t, Config{Routes: []Route{{Path: "/", Service: "a"}}}, nil)
	gw.SetUpstreams("a", []Upstream{{ID: "a", Addr: hostOf(up), Ready: true}})

	c := dialGateway(t, gw.Addr(), 20*time.Second)
	br := bufio.NewReader(c)
	// the first event arrives before the stream ends
	io.WriteString(c, "GET /events HTTP/1.1\r\nHost: h\r\n\r\n")
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	// the first event is there while the upstream still sleeps before the last one
	line, _ := bufio.NewReader(res.Body).ReadString('\n')
	if line != "data: 0\n" {
		t.Fatalf("first event: %q", line)
	}
	rest, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(rest), "data: 2") {
		t.Fatalf("stream: %q", rest)
	}
	for _, p := range []string{"/big", "/chunked", "/small"} {
		io.WriteString(c, "GET "+p+" HTTP/1.1\r\nHost: h\r\n\r\n")
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatalf("%s body: %v", p, err)
		}
		switch p {
		case "/big":
			if string(b) != big {
				t.Errorf("big body: %d bytes, want %d", len(b), len(big))
			}
		case "/chunked":
			if len(b) != 5003 || res.Trailer.Get("X-Sum") != "5003" {
				t.Errorf("chunked: %d bytes, trailer %v", len(b), res.Trailer)
			}
		case "/small":
			if string(b) != "ok" {
				t.Errorf("small: %q", b)
			}
		}
	}
	gw.wantCounts(t, "3 detached responses, the last on the loop again, no hand-off", func(c fastCounts) bool {
		return c.detaches == 3 && c.served == 1 && c.handoffs == 0
	})
}

// Pipelined requests are answered in order.
func TestFastPathPipelining(t *testing.T) {
	up := upstream(t, "a")
	gw := startGateway(t, Config{Routes: []Route{{Path: "/", Service: "a"}}}, nil)
	gw.SetUpstreams("a", []Upstream{{ID: "a", Addr: hostOf(up), Ready: true}})
	c := dialGateway(t, gw.Addr(), 10*time.Second)
	var all strings.Builder
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&all, "GET /p%d HTTP/1.1\r\nHost: h\r\n\r\n", i)
	}
	io.WriteString(c, all.String())
	br := bufio.NewReader(c)
	for i := 0; i < 20; i++ {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		var e echo
		_ = json.NewDecoder(res.Body).Decode(&e)
		res.Body.Close()
		if e.Path != fmt.Sprintf("/p%d", i) {
			t.Fatalf("response %d is for %s", i, e.Path)
		}
	}
}

// A POST whose upstream dies after reading it gets 502, not a second delivery.
func TestFastPathDoesNotResendPOST(t *testing.T) {
	got := make(chan string, 10)
	addr := serveRaw(t, func(c net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err == nil {
			got <- req.Method
		}
	})
	gw := startGateway(t, Config{Routes: []Route{{Path: "/", Service: "a"}}}, nil)
	gw.SetUpstreams("a", []Upstream{{ID: "a", Addr: addr, Ready: true}})
	res := exchange(t, gw.Addr(), "POST /pay HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}")
	if res[0].StatusCode != 502 || !strings.Contains(bodyOf(res[0]), "bad_gateway") {
		t.Errorf("status %d %s, want 502", res[0].StatusCode, bodyOf(res[0]))
	}
	time.Sleep(100 * time.Millisecond)
	if len(got) != 1 {
		t.Errorf("the upstream saw the POST %d times, want once", len(got))
	}
	// a GET is retried on a fresh connection (and fails again here: 502 too, after two tries)
	res = exchange(t, gw.Addr(), "GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
	if res[0].StatusCode != 502 {
		t.Errorf("GET: %d", res[0].StatusCode)
	}
}

// A connection that never sends a request, or stops halfway through a body, is cut after the
// header timeout, as net/http does.
func TestFastPathCutsSilentConnections(t *testing.T) {
	gw := startGateway(t, Config{HeaderTimeout: 300 * time.Millisecond, Routes: []Route{{Path: "/", Service: "svc"}}}, nil)
	gw.fastCounts(t) // skips without the fast path (net/http first waits for a ready instance here; TestStalledRequestBodyIsCut covers it)
	for _, send := range []string{"", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"} {
		c, err := net.Dial("tcp", gw.Addr())
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, send)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		_, err = io.ReadAll(c)
		c.Close()
		if err != nil {
			t.Errorf("after %q: the connection was not cut: %v", send, err)
		} else if time.Since(start) < 250*time.Millisecond {
			t.Errorf("after %q: cut after %v, before the header timeout", send, time.Since(start))
		}
	}
}

func TestFastPathListensOnLocalhostAndIPv6(t *testing.T) {
	up := upstream(t, "a")
	for _, host := range []string{"localhost", "::1"} {
		gw := startGateway(t, Config{Host: host, Routes: []Route{{Path: "/", Service: "a"}}}, nil)
		gw.SetUpstreams("a", []Upstream{{ID: "a", Addr: hostOf(up), Ready: true}})
		if r := do(t, "GET", gw.base+"/x", nil, nil); r.status != 200 || r.echo.Path != "/x" {
			t.Errorf("%s (%s): %d %+v", host, gw.base, r.status, r.echo)
		}
		gw.wantCounts(t, "served on the loop", func(c fastCounts) bool { return c.served == 1 })
	}
}

// A client that pipelines requests and reads none of the answers gets no more served than fit in
// the buffers (backpressure, not memory); once it reads, every answer arrives, in order. One that
// never reads is cut after the send timeout.
func TestFastPathPipelinedClientThatDoesNotRead(t *testing.T) {
	const n = 128 // 64 MiB of answers: more than the socket buffers hold
	var seen atomic.Int64
	body := strings.Repeat("x", 512<<10)
	up := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		w.Header().Set("X-Path", r.URL.Path)
		w.Header().Set("Content-Length", strconv.Itoa(len(body))) // under 1 MiB: answered on the loop
		_, _ = io.WriteString(w, body)
	}))
	gw := startGateway(t, Config{SendTimeout: time.Second, Routes: []Route{{Path: "/", Service: "a"}}}, nil)
	gw.fastCounts(t) // skips without the fast path
	gw.SetUpstreams("a", []Upstream{{ID: "a", Addr: hostOf(up), Ready: true}})
	pipeline := func() net.Conn {
		c, err := net.Dial("tcp", gw.Addr())
		if err != nil {
			t.Fatal(err)
		}
		var reqs strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&reqs, "GET /r%d HTTP/1.1\r\nHost: h\r\n\r\n", i)
		}
		if _, err := io.WriteString(c, reqs.String()); err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := pipeline()
	defer c.Close()
	time.Sleep(500 * time.Millisecond)
	if got := seen.Load(); got >= n/2 {
		t.Errorf("served %d of %d pipelined requests to a client that reads nothing", got, n)
	}
	br := bufio.NewReader(c)
	for i := 0; i < n; i++ {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, err := io.ReadAll(res.Body)
		if err != nil || len(b) != len(body) || res.Header.Get("X-Path") != fmt.Sprintf("/r%d", i) {
			t.Fatalf("response %d: %s %d bytes %v", i, res.Header.Get("X-Path"), len(b), err)
		}
	}

	c2 := pipeline()
	defer c2.Close()
	time.Sleep(2500 * time.Millisecond) // the send timeout, plus sweeps
	_ = c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	br = bufio.NewReader(c2)
	got := 0
	for ; got < n; got++ {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		if _, err := io.Copy(io.Discard, res.Body); err != nil {
			break
		}
	}
	if got == n {
		t.Errorf("a client that read nothing for longer than the send timeout still got all %d answers", n)
	}
}

// A kept-alive client that got a streamed (detached) answer may stay idle between requests as long
// as any other kept-alive client, not just the header timeout of a fresh connection.
func TestFastPathIdleAfterDetachedAnswerKeepsConnection(t *testing.T) {
	up := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "chunk one ")
		w.(http.Flusher).Flush() // chunked: the answer is finished by a goroutine
		_, _ = io.WriteString(w, "chunk two")
	}))
	gw := startGateway(t, Config{HeaderTimeout: 300 * time.Millisecond, Routes: []Route{{Path: "/", Service: "a"}}}, nil)
	gw.fastCounts(t) // skips without the fast path
	gw.SetUpstreams("a", []Upstream{{ID: "a", Addr: hostOf(up), Ready: true}})
	c, err := net.Dial("tcp", gw.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := 0; i < 3; i++ {
		if _, err := io.WriteString(c, "GET /s HTTP/1.1\r\nHost: h\r\n\r\n"); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d after %v idle: %v", i+1, time.Duration(i)*time.Second, err)
		}
		b, _ := io.ReadAll(res.Body)
		if string(b) != "chunk one chunk two" {
			t.Fatalf("request %d: %q", i+1, b)
		}
		time.Sleep(time.Second) // idle for longer than the header timeout
	}
	gw.wantCounts(t, "three detached answers on one connection", func(c fastCounts) bool { return c.detaches == 3 })
}
