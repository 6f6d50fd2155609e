package proxy

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// spanSink collects the spans a gateway hands to its sink.
type spanSink struct {
	mu    sync.Mutex
	spans []event.Span
	calls int
}

func (s *spanSink) sink(b []event.Span) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.spans = append(s.spans, b...)
}

// wait returns the first n spans once they arrived.
func (s *spanSink) wait(t *testing.T, n int) []event.Span {
	t.Helper()
	eventually(t, 5*time.Second, fmt.Sprintf("%d spans", n), func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.spans) >= n
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]event.Span(nil), s.spans...)
}

// the two ways the gateway serves the plain port: the event loops (with their handoff to net/http)
// and net/http alone
var gatewayPaths = []struct {
	name    string
	netHTTP bool
}{{"event loops", false}, {"net/http", true}}

// tracedGateway starts a gateway with a span sink on the given path.
func tracedGateway(t *testing.T, cfg Config, netHTTP bool) (*testGW, *spanSink) {
	t.Helper()
	sk := &spanSink{}
	return startGatewayWith(t, cfg, Options{NetHTTPOnly: netHTTP, Spans: sk.sink}), sk
}

// accessTraceID waits for the access line of the request rid and returns its trace id.
func accessTraceID(t *testing.T, gw *testGW, rid string) string {
	t.Helper()
	var line string
	eventually(t, 5*time.Second, "the access line of "+rid, func() bool {
		for _, l := range gw.logs.Tail(0, event.SourceFilter(event.AccessSource)) {
			if strings.Contains(l.Text, "rid="+rid) {
				line = l.Text
				return true
			}
		}
		return false
	})
	_, tid, _ := strings.Cut(line, " trace=")
	return tid
}

func mustTraceparent(t *testing.T, what, h string) (traceID, parentID string, flags byte) {
	t.Helper()
	tid, pid, fl, ok := event.ParseTraceparent(h)
	if !ok {
		t.Fatalf("%s: %q is not a valid traceparent", what, h)
	}
	return tid, pid, fl
}

// A request through the gateway gets one server span; the trace is continued from a valid client
// traceparent or started; the upstream's parent is the gateway's span; the client sees the span in
// traceresponse and the access line carries the trace id. On both request paths.
func TestGatewayTraceContext(t *testing.T) {
	const clientTrace, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	cases := []struct {
		name        string
		traceparent []string
		tracestate  string
		continued   bool
		wantFlags   byte
		wantState   string
	}{
		{name: "no traceparent starts a sampled trace", wantFlags: 1},
		{name: "a valid traceparent is continued", traceparent: []string{"00-" + clientTrace + "-" + clientSpan + "-01"},
			tracestate: "vendor=abc", continued: true, wantFlags: 1, wantState: "vendor=abc"},
		{name: "the client's sampling flag is kept", traceparent: []string{"00-" + clientTrace + "-" + clientSpan + "-00"},
			continued: true, wantFlags: 0},
		{name: "flags not defined yet are not passed on", traceparent: []string{"00-" + clientTrace + "-" + clientSpan + "-ff"},
			continued: true, wantFlags: 0x03},
		{name: "an invalid traceparent starts a new trace", traceparent: []string{"00-" + strings.ToUpper(clientTrace) + "-" + clientSpan + "-01"},
			tracestate: "vendor=abc", wantFlags: 1},
		{name: "two traceparents start a new trace", traceparent: []string{"00-" + clientTrace + "-" + clientSpan + "-01",
			"00-" + clientTrace + "-" + clientSpan + "-01"}, wantFlags: 1},
	}
	for _, p := range gatewayPaths {
		t.Run(p.name, func(t *testing.T) {
			up := upstream(t, "orders")
			gw, sk := tracedGateway(t, Config{Routes: []Route{{Path: "/api/orders", Service: "orders"}}}, p.netHTTP)
			gw.SetUpstreams("orders", []Upstream{{ID: "orders-1", Addr: hostOf(up), Ready: true}})
			for i, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					var b strings.Builder
					fmt.Fprintf(&b, "POST /api/orders/7?x=1 HTTP/1.1\r\nHost: shop.test:8080\r\nContent-Length: 2\r\n")
					for _, v := range tc.traceparent {
						fmt.Fprintf(&b, "traceparent: %s\r\n", v)
					}
					if tc.tracestate != "" {
						fmt.Fprintf(&b, "tracestate: %s\r\n", tc.tracestate)
					}
					b.WriteString("\r\n{}")
					res := exchange(t, gw.Addr(), b.String())[0]
					if res.StatusCode != 200 {
						t.Fatalf("status %d", res.StatusCode)
					}
					var e echo
					if err := json.Unmarshal([]byte(bodyOf(res)), &e); err != nil {
						t.Fatal(err)
					}
					if got := e.Header.Values("Traceparent"); len(got) != 1 {
						t.Fatalf("the upstream got traceparent %q, want one", got)
					}
					upTrace, upParent, upFlags := mustTraceparent(t, "upstream's traceparent", e.Header.Get("Traceparent"))
					if got := e.Header.Get("Tracestate"); got != tc.wantState {
						t.Errorf("upstream's tracestate %q, want %q", got, tc.wantState)
					}
					if upFlags != tc.wantFlags {
						t.Errorf("upstream's flags %02x, want %02x", upFlags, tc.wantFlags)
					}
					if tc.continued && upTrace != clientTrace || !tc.continued && upTrace == clientTrace {
						t.Errorf("upstream's trace id %s (client's %s, continued: %v)", upTrace, clientTrace, tc.continued)
					}
					spans := sk.wait(t, i+1)
					if len(spans) != i+1 {
						t.Fatalf("%d spans after %d requests", len(spans), i+1)
					}
					sp := spans[i]
					if sp.TraceID != upTrace || sp.SpanID != upParent {
						t.Errorf("span %s/%s, the upstream's parent is %s/%s", sp.TraceID, sp.SpanID, upTrace, upParent)
					}
					wantParent := ""
					if tc.continued {
						wantParent = clientSpan
					}
					if sp.ParentID != wantParent {
						t.Errorf("span parent %q, want %q", sp.ParentID, wantParent)
					}
					rtTrace, rtSpan, _ := mustTraceparent(t, "traceresponse", res.Header.Get("Traceresponse"))
					if rtTrace != sp.TraceID || rtSpan != sp.SpanID {
						t.Errorf("traceresponse %s, span %s/%s", res.Header.Get("Traceresponse"), sp.TraceID, sp.SpanID)
					}
					if sp.Service != "gateway" || sp.Kind != "server" || sp.Name != "POST /api/orders" || sp.Status != "" {
						t.Errorf("span %q %q %q status %q", sp.Service, sp.Kind, sp.Name, sp.Status)
					}
					if d := sp.Duration(); d <= 0 || d > 10*time.Second {
						t.Errorf("span duration %v", d)
					}
					want := map[string]string{"http.request.method": "POST", "url.path": "/api/orders/7", "http.route": "/api/orders",
						"http.response.status_code": "200", "server.address": "shop.test", "server.port": "8080",
						"client.address": "127.0.0.1", "devstack.upstream.service": "orders", "devstack.upstream.instance": hostOf(up),
						"devstack.request_id": res.Header.Get("X-Request-Id")}
					for k, v := range want {
						if sp.Attrs[k] != v {
							t.Errorf("attribute %s = %q, want %q", k, sp.Attrs[k], v)
						}
					}
					if got := accessTraceID(t, gw, res.Header.Get("X-Request-Id")); got != sp.TraceID {
						t.Errorf("access line trace %q, span's %q", got, sp.TraceID)
					}
				})
			}
			// (DEVSTACK_GATEWAY_NETHTTP=1 runs both variants on net/http)
			if f := gw.fast.Load(); !p.netHTTP && os.Getenv("DEVSTACK_GATEWAY_NETHTTP") != "1" && (f == nil || f.served.Load() != int64(len(cases))) {
				t.Errorf("the event loops did not serve all %d requests", len(cases))
			}
		})
	}
}

// The gateway's own answers get a span too: 401 from auth, 404 without a route, its own endpoints,
// and its failures (no instance, upstream timeout) and the upstream's 5xx with status error.
func TestGatewaySpansOfGatewayAnswers(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	slow := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	broken := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "db down", http.StatusInternalServerError)
	}))
	cases := []struct {
		name, path                string
		status                    int
		spanName, spanStatus, msg string
		attrs                     map[string]string
	}{
		{name: "401 from auth", path: "/secure/x", status: 401, spanName: "GET /secure",
			attrs: map[string]string{"http.response.status_code": "401", "devstack.auth": "missing", "http.route": "/secure"}},
		{name: "404 without a route", path: "/nowhere", status: 404, spanName: "GET",
			attrs: map[string]string{"http.response.status_code": "404", "url.path": "/nowhere"}},
		{name: "the gateway's health endpoint", path: "/__devstack/health", status: 200, spanName: "GET /__devstack/health"},
		{name: "upstream 500", path: "/broken", status: 500, spanName: "GET /broken", spanStatus: "error", msg: "the upstream answered 500"},
		{name: "upstream timeout", path: "/slow", status: 504, spanName: "GET /slow", spanStatus: "error", msg: "did not answer in time",
			attrs: map[string]string{"devstack.upstream.instance": hostOf(slow)}},
		{name: "no ready instance", path: "/down", status: 503, spanName: "GET /down", spanStatus: "error", msg: "no ready instance"},
	}
	for _, p := range gatewayPaths {
		t.Run(p.name, func(t *testing.T) {
			gw, sk := tracedGateway(t, Config{WaitReady: time.Millisecond, Routes: []Route{
				{Path: "/secure", Service: "s", Auth: "required"},
				{Path: "/broken", Service: "b"},
				{Path: "/slow", Service: "slow", Timeout: 200 * time.Millisecond},
				{Path: "/down", Service: "down"},
			}}, p.netHTTP)
			gw.SetUpstreams("b", []Upstream{{ID: "b", Addr: hostOf(broken), Ready: true}})
			gw.SetUpstreams("slow", []Upstream{{ID: "slow", Addr: hostOf(slow), Ready: true}})
			for i, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					r := do(t, "GET", gw.base+tc.path, nil, nil)
					if r.status != tc.status {
						t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
					}
					spans := sk.wait(t, i+1)
					if len(spans) != i+1 {
						t.Fatalf("%d spans after %d requests", len(spans), i+1)
					}
					sp := spans[i]
					if sp.Name != tc.spanName || sp.Status != tc.spanStatus || !strings.Contains(sp.StatusMessage, tc.msg) {
						t.Errorf("span %q status %q %q, want %q %q %q", sp.Name, sp.Status, sp.StatusMessage, tc.spanName, tc.spanStatus, tc.msg)
					}
					if tc.spanStatus == "" && sp.StatusMessage != "" {
						t.Errorf("status message %q on a span that is not an error", sp.StatusMessage)
					}
					for k, v := range tc.attrs {
						if sp.Attrs[k] != v {
							t.Errorf("attribute %s = %q, want %q", k, sp.Attrs[k], v)
						}
					}
					rtTrace, rtSpan, _ := mustTraceparent(t, "traceresponse", r.header.Get("Traceresponse"))
					if rtTrace != sp.TraceID || rtSpan != sp.SpanID {
						t.Errorf("traceresponse %s, span %s/%s", r.header.Get("Traceresponse"), sp.TraceID, sp.SpanID)
					}
				})
			}
		})
	}
}

// Without a span sink the gateway leaves trace headers alone: the client's traceparent and
// tracestate reach the upstream unchanged, and no traceresponse is added.
func TestGatewayTracingOffLeavesHeaders(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, p := range gatewayPaths {
		t.Run(p.name, func(t *testing.T) {
			up := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Traceresponse", "00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-01")
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(echo{Header: r.Header})
			}))
			gw := startGatewayWith(t, Config{Routes: []Route{{Path: "/", Service: "a"}}}, Options{NetHTTPOnly: p.netHTTP})
			gw.SetUpstreams("a", []Upstream{{ID: "a", Addr: hostOf(up), Ready: true}})
			for _, hdr := range []map[string]string{{"traceparent": tp, "tracestate": "v=1"}, {"traceparent": "garbage"}} {
				r := do(t, "GET", gw.base+"/x", hdr, nil)
				if got := r.echo.Header.Values("Traceparent"); len(got) != 1 || got[0] != hdr["traceparent"] {
					t.Errorf("upstream got traceparent %q, want %q", got, hdr["traceparent"])
				}
				if got := r.echo.Header.Get("Tracestate"); got != hdr["tracestate"] {
					t.Errorf("upstream got tracestate %q, want %q", got, hdr["tracestate"])
				}
				if got := r.header.Get("Traceresponse"); got != "00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-01" {
					t.Errorf("client got traceresponse %q, want the upstream's", got)
				}
				if tid := accessTraceID(t, gw, r.header.Get("X-Request-Id")); tid != "" {
					t.Errorf("access line has trace %q with tracing off", tid)
				}
			}
		})
	}
}

// With tracing on, the upstream's own traceresponse is replaced by the gateway's (its span is what
// the client called).
func TestGatewayTraceresponseReplacesUpstreams(t *testing.T) {
	for _, p := range gatewayPaths {
		t.Run(p.name, func(t *testing.T) {
			up := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Traceresponse", "00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-01")
				_, _ = w.Write([]byte("ok"))
			}))
			gw, sk := tracedGateway(t, Config{Routes: []Route{{Path: "/", Service: "a"}}}, p.netHTTP)
			gw.SetUpstreams("a", []Upstream{{ID: "a", Addr: hostOf(up), Ready: true}})
			r := do(t, "GET", gw.base+"/x", nil, nil)
			sp := sk.wait(t, 1)[0]
			if got := r.header.Values("Traceresponse"); len(got) != 1 || got[0] != "00-"+sp.TraceID+"-"+sp.SpanID+"-01" {
				t.Errorf("traceresponse %q, gateway span %s/%s", got, sp.TraceID, sp.SpanID)
			}
		})
	}
}

// A WebSocket upgrade gets one span for the handshake, ended when the 101 went out (not when the
// tunnel closes), and the upstream's handshake request carries the gateway's traceparent.
func TestGatewayWebSocketSpan(t *testing.T) {
	gotTP := make(chan string, 1)
	ws := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotTP <- r.Header.Get("Traceparent")
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprint(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		fmt.Fprintf(c, "echo:%s", line)
	}))
	gw, sk := tracedGateway(t, Config{Routes: []Route{{Path: "/ws", Service: "chat"}}}, false)
	gw.SetUpstreams("chat", []Upstream{{ID: "c", Addr: hostOf(ws), Ready: true}})
	c, err := net.Dial("tcp", gw.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprint(c, "GET /ws/chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	upTrace, upParent, _ := mustTraceparent(t, "upstream's traceparent", <-gotTP)
	time.Sleep(300 * time.Millisecond) // the tunnel stays open longer than the handshake took
	fmt.Fprint(c, "hello\n")
	if line, err := br.ReadString('\n'); err != nil || line != "echo:hello\n" {
		t.Fatalf("tunnel: %q %v", line, err)
	}
	c.Close()
	sp := sk.wait(t, 1)[0]
	if sp.TraceID != upTrace || sp.SpanID != upParent || sp.Attrs["http.response.status_code"] != "101" || sp.Name != "GET /ws" {
		t.Errorf("span %s/%s %q status %s; upstream's parent %s/%s", sp.TraceID, sp.SpanID, sp.Name, sp.Attrs["http.response.status_code"], upTrace, upParent)
	}
	if d := sp.Duration(); d <= 0 || d >= 300*time.Millisecond {
		t.Errorf("span lasts %v: it should end with the handshake", d)
	}
	if got := res.Header.Get("Traceresponse"); got != "00-"+sp.TraceID+"-"+sp.SpanID+"-01" {
		t.Errorf("101 traceresponse %q", got)
	}
}

// HTTPS (HTTP/2 here) requests get their span too, with url.scheme https, and the upstream gets the
// gateway's traceparent in place of the client's.
func TestGatewayHTTPSSpan(t *testing.T) {
	const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	state := t.TempDir()
	u := upstream(t, "s")
	sk := &spanSink{}
	g := runGateway(t, withTestValues(Config{Host: "127.0.0.1", StateDir: state, Routes: []Route{{Path: "/api", Service: "s"}}}), Options{Spans: sk.sink})
	g.SetUpstreams("s", []Upstream{{ID: "s", Addr: hostOf(u), Ready: true}})
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: devCAPool(t, state)}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", "https://"+g.HTTPSAddr()+"/api/x", nil)
	req.Header.Set("Traceparent", "00-"+clientTrace+"-00f067aa0ba902b7-01")
	res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var e echo
	err = json.NewDecoder(res.Body).Decode(&e)
	res.Body.Close()
	if err != nil || res.ProtoMajor != 2 {
		t.Fatalf("%s: %v", res.Proto, err)
	}
	sp := sk.wait(t, 1)[0]
	if want := "00-" + clientTrace + "-" + sp.SpanID + "-01"; e.Header.Get("Traceparent") != want {
		t.Errorf("upstream's traceparent %q, want %q", e.Header.Get("Traceparent"), want)
	}
	if sp.Attrs["url.scheme"] != "https" || sp.ParentID != "00f067aa0ba902b7" || sp.Name != "GET /api" {
		t.Errorf("span %q scheme %q parent %q", sp.Name, sp.Attrs["url.scheme"], sp.ParentID)
	}
	if got := res.Header.Get("Traceresponse"); got != "00-"+clientTrace+"-"+sp.SpanID+"-01" {
		t.Errorf("traceresponse %q", got)
	}
}
