package proxy

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func routedGateway(t *testing.T) (*testGW, map[string]string) {
	users, admin, root, rw := upstream(t, "users"), upstream(t, "admin"), upstream(t, "root"), upstream(t, "rw")
	gw := startGateway(t, Config{Routes: []Route{
		{Path: "/api/users", Service: "users", StripPrefix: true},
		{Path: "/admin", Service: "admin"},
		{Path: "/v2/orders", Service: "rw", Rewrite: "/internal/orders"},
		{Path: "/only-get", Service: "rw", Methods: []string{"GET"}},
		{Path: "/", Host: "special.localhost", Service: "admin"},
		{Path: "/", Service: "root"},
	}}, nil)
	for name, s := range map[string]string{"users": hostOf(users), "admin": hostOf(admin), "root": hostOf(root), "rw": hostOf(rw)} {
		gw.SetUpstreams(name, []Upstream{{ID: name + "-0", Addr: s, Ready: true}})
	}
	return gw, nil
}

func TestRouting(t *testing.T) {
	gw, _ := routedGateway(t)
	tests := []struct {
		name, method, path, host string
		status                   int
		service, upstreamPath    string
	}{
		{"strip prefix", "GET", "/api/users/42?x=1", "", 200, "users", "/42"},
		{"strip prefix exact", "GET", "/api/users", "", 200, "users", "/"},
		{"prefix needs a segment boundary", "GET", "/api/usersX", "", 200, "root", "/api/usersX"},
		{"rewrite", "GET", "/v2/orders/7", "", 200, "rw", "/internal/orders/7"},
		{"longest prefix wins", "GET", "/admin/x", "", 200, "admin", "/admin/x"},
		{"host route", "GET", "/anything", "special.localhost:8080", 200, "admin", "/anything"},
		{"method allowed", "GET", "/only-get", "", 200, "rw", "/only-get"},
		{"method not allowed falls through to /", "POST", "/only-get", "", 200, "root", "/only-get"},
		{"dot-dot leaves the users route", "GET", "/api/users/../admin", "", 200, "root", "/api/admin"},
		{"dot-dot twice reaches admin", "GET", "/api/users/../../admin", "", 200, "admin", "/admin"},
		{"encoded dots are resolved too", "GET", "/api/users/%2e%2e/%2E%2E/admin", "", 200, "admin", "/admin"},
		{"dot-dot into users is routed there", "GET", "/admin/../api/users/9", "", 200, "users", "/9"},
		{"double slashes collapse", "GET", "//api//users//5", "", 200, "users", "/5"},
		{"cannot climb above root", "GET", "/../../api/users/1", "", 200, "users", "/1"},
		{"reserved path cannot be reached through a route by dot-dot", "GET", "/api/../.well-known/jwks.json", "", 200, "", ""},
		{"encoded slash is rejected", "GET", "/api/users%2F..%2Fadmin", "", 400, "", ""},
		{"encoded backslash is rejected", "GET", "/api/users/..%5Cadmin", "", 400, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// raw HTTP so no client library cleans the path first
			host := tc.host
			if host == "" {
				host = gw.Addr()
			}
			out := rawRequest(t, gw.Addr(), tc.method+" "+tc.path+" HTTP/1.1\r\nHost: "+host+"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			if !strings.HasPrefix(out, "HTTP/1.1 "+strconv.Itoa(tc.status)) {
				t.Fatalf("status line: %q", firstLine(out))
			}
			if tc.service == "" {
				if tc.status == 200 && (strings.Contains(out, `"name":`) || !strings.Contains(out, `"keys"`)) {
					t.Fatalf("want the gateway's own JWKS: %s", out)
				}
				return
			}
			if !strings.Contains(out, `"name":"`+tc.service+`"`) {
				t.Fatalf("reached the wrong service, want %s: %s", tc.service, out)
			}
			if !strings.Contains(out, `"path":"`+tc.upstreamPath+`"`) {
				t.Fatalf("upstream path, want %s: %s", tc.upstreamPath, out)
			}
		})
	}
}

func firstLine(s string) string {
	if i := strings.Index(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

func TestNoRouteAndMethodNotAllowed(t *testing.T) {
	u := upstream(t, "x")
	gw := startGateway(t, Config{Routes: []Route{{Path: "/x", Service: "x", Methods: []string{"GET"}}}}, nil)
	gw.SetUpstreams("x", []Upstream{{ID: "x", Addr: hostOf(u), Ready: true}})
	if r := do(t, "GET", gw.base+"/nope", nil, nil); r.status != 404 || !strings.Contains(string(r.body), "no gateway route") {
		t.Fatalf("404: %d %s", r.status, r.body)
	}
	if r := do(t, "DELETE", gw.base+"/x", nil, nil); r.status != 405 {
		t.Fatalf("405: %d %s", r.status, r.body)
	}
}

func TestForwardedHeaders(t *testing.T) {
	u := upstream(t, "svc")
	gw := startGateway(t, Config{Routes: []Route{{Path: "/", Service: "svc"}}}, nil)
	gw.SetUpstreams("svc", []Upstream{{ID: "a", Addr: hostOf(u), Ready: true}})

	r := do(t, "GET", gw.base+"/p?q=1", map[string]string{
		"Authorization":   "Bearer opaque-token-passed-on",
		"X-Auth-Subject":  "forged",
		"X-Auth-Scopes":   "admin",
		"X-Auth-Whatever": "x",
		"Connection":      "X-Secret-Hop",
		"X-Secret-Hop":    "1",
		"X-Forwarded-For": "10.1.2.3",
		"Host":            "app.localhost:8080",
	}, nil)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	h := r.echo.Header
	checks := []struct{ name, got, want string }{
		{"Authorization forwarded unchanged", h.Get("Authorization"), "Bearer opaque-token-passed-on"},
		{"X-Auth-Subject stripped", h.Get("X-Auth-Subject"), ""},
		{"X-Auth-Scopes stripped", h.Get("X-Auth-Scopes"), ""},
		{"X-Auth-* stripped", h.Get("X-Auth-Whatever"), ""},
		{"Connection-listed header stripped", h.Get("X-Secret-Hop"), ""},
		{"X-Forwarded-For appended", h.Get("X-Forwarded-For"), "10.1.2.3, 127.0.0.1"},
		{"X-Forwarded-Proto", h.Get("X-Forwarded-Proto"), "http"},
		{"X-Forwarded-Host", h.Get("X-Forwarded-Host"), "app.localhost:8080"},
		{"Host passed through", r.echo.Host, "app.localhost:8080"},
		{"query", r.echo.Query, "q=1"},
		{"response hop header stripped", r.header.Get("X-Hop"), ""},
		{"response Keep-Alive stripped", r.header.Get("Keep-Alive"), ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q want %q", c.name, c.got, c.want)
		}
	}
	rid := h.Get("X-Request-Id")
	if len(rid) != 32 || r.header.Get("X-Request-Id") != rid {
		t.Errorf("generated X-Request-Id: upstream %q, response %q", rid, r.header.Get("X-Request-Id"))
	}
	r = do(t, "GET", gw.base+"/p", map[string]string{"X-Request-Id": "abc-123"}, nil)
	if r.echo.Header.Get("X-Request-Id") != "abc-123" || r.header.Get("X-Request-Id") != "abc-123" {
		t.Errorf("X-Request-Id not passed through: %v", r.echo.Header)
	}
	// HEAD gets the headers without a body, and the kept-alive upstream connection stays in sync
	for i := 0; i < 3; i++ {
		if h := do(t, "HEAD", gw.base+"/p", nil, nil); h.status != 200 || len(h.body) != 0 || h.header.Get("Content-Type") != "application/json" {
			t.Fatalf("HEAD: %d %q %v", h.status, h.body, h.header)
		}
		if g := do(t, "GET", gw.base+"/after-head", nil, nil); g.status != 200 || g.echo.Path != "/after-head" || g.echo.Method != "GET" {
			t.Fatalf("GET after HEAD: %d %s", g.status, g.body)
		}
	}
	r = do(t, "GET", gw.base+"/p", map[string]string{"X-Request-Id": "bad id\twith spaces"}, nil)
	if got := r.echo.Header.Get("X-Request-Id"); got == "bad id\twith spaces" || len(got) != 32 {
		t.Errorf("unsafe X-Request-Id must be replaced, got %q", got)
	}
}

func TestBodyLimit(t *testing.T) {
	u := upstream(t, "svc")
	gw := startGateway(t, Config{Routes: []Route{
		{Path: "/small", Service: "svc", MaxBody: 10},
		{Path: "/none", Service: "svc", MaxBody: 0}, // 0: no limit
		{Path: "/", Service: "svc", MaxBody: 1000},
	}}, nil)
	gw.SetUpstreams("svc", []Upstream{{ID: "a", Addr: hostOf(u), Ready: true}})
	tests := []struct {
		name    string
		path    string
		size    int
		chunked bool
		status  int
	}{
		{"under the limit", "/x", 1000, false, 200},
		{"over the limit", "/x", 1001, false, 413},
		{"route limit", "/small", 11, false, 413},
		{"route limit ok", "/small", 10, false, 200},
		{"chunked over limit", "/x", 5000, true, 413},
		{"chunked under limit", "/x", 500, true, 200},
		{"max_body 0 is no limit", "/none", 11 << 20, false, 200},
		{"max_body 0 is no limit, chunked", "/none", 11 << 20, true, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(strings.Repeat("a", tc.size))
			if tc.chunked {
				body = io.MultiReader(body) // unknown length: sent chunked
			}
			r := do(t, "POST", gw.base+tc.path, nil, body)
			if r.status != tc.status {
				t.Fatalf("status %d want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status == 200 && r.echo.BodyLen != tc.size {
				t.Fatalf("upstream got %d bytes", r.echo.BodyLen)
			}
		})
	}
}

func TestSlowlorisIsCut(t *testing.T) {
	gw := startGateway(t, Config{HeaderTimeout: 300 * time.Millisecond, Routes: []Route{{Path: "/", Service: "svc"}}}, nil)
	c, err := net.Dial("tcp", gw.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n")
	// keep trickling header bytes; the server must close the connection anyway
	deadline := time.Now().Add(10 * time.Second)
	closed := false
	for time.Now().Before(deadline) {
		if _, err := io.WriteString(c, "X-A: b\r\n"); err != nil {
			closed = true
			break
		}
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		var b [512]byte
		n, err := c.Read(b[:])
		if n > 0 || (err != nil && !isTimeout(err)) {
			closed = true // a 408 or EOF: cut
			break
		}
	}
	if !closed {
		t.Fatal("a connection trickling headers was never cut")
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	g, err := New(withTestValues(Config{HTTPPort: port, HTTPSPort: -1, StateDir: t.TempDir()}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = g.Run(context.Background())
	want := "gateway: port " + strconv.Itoa(port) + " is in use"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "gateway.http_port") {
		t.Fatalf("got %v, want %q ... gateway.http_port", err, want)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"relative path", Config{Routes: []Route{{Path: "api", Service: "a"}}}, "must start with /"},
		{"unclean path", Config{Routes: []Route{{Path: "/a/../b", Service: "a"}}}, "clean path"},
		{"no service", Config{Routes: []Route{{Path: "/a"}}}, "service: required"},
		{"bad auth", Config{Routes: []Route{{Path: "/a", Service: "a", Auth: "maybe"}}}, "none|optional|required"},
		{"scopes without auth", Config{Routes: []Route{{Path: "/a", Service: "a", Scopes: []string{"x"}}}}, "need auth"},
		{"bad balance", Config{Routes: []Route{{Path: "/a", Service: "a", Balance: "random"}}}, "round_robin or least_conn"},
		{"bad limit key", Config{GlobalLimit: &RateLimit{Requests: 1, Key: "cookie"}}, "ip, sub, header:NAME or global"},
		{"zero limit", Config{GlobalLimit: &RateLimit{Requests: 0}}, "positive"},
		{"key with none", Config{Auth: Auth{Keys: []Key{{Secret: "s", Algorithms: []string{"none"}}}}}, "not supported"},
		{"HS with a public key", Config{Auth: Auth{Keys: []Key{{PEMFile: "k.pem", Algorithms: []string{"HS256"}}}}}, "needs a secret"},
		{"RS with a secret", Config{Auth: Auth{Keys: []Key{{Secret: "s", Algorithms: []string{"RS256"}}}}}, "needs a public key"},
		{"two key sources", Config{Auth: Auth{Keys: []Key{{Secret: "s", JWKSURL: "http://x", Algorithms: []string{"HS256"}}}}}, "exactly one"},
		{"no algorithms", Config{Auth: Auth{Keys: []Key{{Secret: "s"}}}}, "algorithms"},
		{"negative route timeout", Config{Routes: []Route{{Path: "/a", Service: "a", Timeout: -time.Second}}}, "timeout and max_body must not be negative (0 means none)"},
		{"negative wait_ready", Config{WaitReady: -time.Second}, "gateway.wait_ready: must not be negative"},
		{"negative leeway", Config{Auth: Auth{Leeway: -time.Second}}, "gateway.auth.leeway: must not be negative"},
		{"negative per", Config{GlobalLimit: &RateLimit{Requests: 1, Per: -time.Second}}, "per must be greater than 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.HTTPSPort = -1
			_, err := New(withTestValues(tc.cfg), Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestAccessLogAndMetrics(t *testing.T) {
	u := upstream(t, "svc")
	gw := startGateway(t, Config{Routes: []Route{{Path: "/api", Service: "svc"}}}, nil)
	gw.SetUpstreams("svc", []Upstream{{ID: "a", Addr: hostOf(u), Ready: true}})
	_, ch, cancel := gw.bus.Subscribe(100)
	defer cancel()
	for i := 0; i < 3; i++ {
		do(t, "GET", gw.base+"/api/x", nil, nil)
	}
	do(t, "GET", gw.base+"/nothing", nil, nil)
	got := 0
	timeout := time.After(10 * time.Second)
	for got < 3 {
		select {
		case ev := <-ch:
			if ev.Access != nil && ev.Access.Path == "/api/x" {
				if ev.Access.Status != 200 || ev.Access.Service != "svc" || ev.Access.Upstream != hostOf(u) || ev.Access.RequestID == "" {
					t.Fatalf("access record: %+v", *ev.Access)
				}
				got++
			}
		case <-timeout:
			t.Fatalf("got %d access events", got)
		}
	}
	eventually(t, 5*time.Second, "access lines in logs", func() bool {
		lines := gw.logs.Tail(0, func(l eventLine) bool { return l.Source == "gateway" && l.Stream == "access" })
		return len(lines) >= 4 && strings.HasPrefix(lines[0].Text, "GET /api/x 200 ")
	})
	rs := gw.Routes()
	if len(rs) != 1 || rs[0].Requests != 3 || rs[0].Status["2xx"] != 3 || rs[0].P50 <= 0 || len(rs[0].Upstreams) != 1 {
		t.Fatalf("route stats: %+v", rs)
	}
	r := do(t, "GET", gw.base+"/__devstack/metrics", nil, nil)
	for _, want := range []string{
		`devstack_gateway_requests_total{code="2xx",route="/api -> svc",service="svc"} 3`,
		`devstack_gateway_request_duration_seconds_count{route="/api -> svc",service="svc"} 3`,
		`devstack_gateway_upstream_healthy{addr="` + hostOf(u) + `",service="svc"} 1`,
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("metrics lack %s:\n%s", want, r.body)
		}
	}
}

// New defaults nothing: a required value left zero is an error naming it, never a silent default.
func TestNewRequiresWhatHasNoZeroMeaning(t *testing.T) {
	_, err := New(Config{Host: "127.0.0.1", HTTPSPort: -1}, Options{})
	for _, want := range []string{
		"gateway: HeaderTimeout and SendTimeout are required (> 0), got 0s and 0s",
		"gateway.auth.dev_issuer.token_ttl: must be greater than 0, got 0s",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New with zero timeouts: %v, want %q", err, want)
		}
	}
	_, err = New(Config{HTTPSPort: -1, HeaderTimeout: time.Second, SendTimeout: time.Second, Auth: Auth{DevIssuer: DevIssuer{Disabled: true}}}, Options{})
	if err == nil || !strings.Contains(err.Error(), `gateway.host: "" is not an IP address`) {
		t.Errorf("New without a host: %v", err)
	}
}
