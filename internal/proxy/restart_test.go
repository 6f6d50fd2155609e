package proxy

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// restartingUpstream is a service that restarts in place on a fixed port, as `nest start --watch`
// does: the old process stops listening but keeps answering on the connections it already has (a
// graceful shutdown), and the new process then listens on the same port with the new code.
type restartingUpstream struct {
	addr string
	old  *http.Server
	oldL net.Listener
	mu   sync.Mutex
	cur  *http.Server
}

func answer(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, body)
	})
}

func startRestartingUpstream(t *testing.T) *restartingUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &restartingUpstream{addr: ln.Addr().String(), old: &http.Server{Handler: answer("old")}, oldL: ln}
	go func() { _ = u.old.Serve(ln) }()
	t.Cleanup(func() {
		u.old.Close()
		u.mu.Lock()
		defer u.mu.Unlock()
		if u.cur != nil {
			u.cur.Close()
		}
	})
	return u
}

// restart closes the old listener (its open connections keep serving "old") and serves "new" on
// the same port.
func (u *restartingUpstream) restart(t *testing.T) {
	t.Helper()
	u.oldL.Close()
	ln, err := net.Listen("tcp", u.addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &http.Server{Handler: answer("new")}
	u.mu.Lock()
	u.cur = s
	u.mu.Unlock()
	go func() { _ = s.Serve(ln) }()
}

// A service restarted in place behind the gateway answers with its new code within about
// upstream_conn_lifetime under steady traffic (a poll every 5 ms), on the event loops and on
// net/http, for plain requests and for bodies of unknown length (which net/http's Transport carries).
// With a lifetime of 0 (none), kept-alive connections to the old process stay in use.
func TestRestartInPlaceReachesNewProcess(t *testing.T) {
	const lifetime = 300 * time.Millisecond
	for _, tc := range []struct {
		name     string
		netHTTP  bool
		chunked  bool
		lifetime time.Duration
		wantNew  bool
	}{
		{name: "event loops", lifetime: lifetime, wantNew: true},
		{name: "net/http", netHTTP: true, lifetime: lifetime, wantNew: true},
		{name: "net/http chunked body", netHTTP: true, chunked: true, lifetime: lifetime, wantNew: true},
		{name: "event loops chunked body", chunked: true, lifetime: lifetime, wantNew: true},
		{name: "event loops lifetime 0", lifetime: 0},
		{name: "net/http lifetime 0", netHTTP: true, lifetime: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := startRestartingUpstream(t)
			gw := startGatewayWith(t, Config{Routes: []Route{{Path: "/", Service: "s"}}, UpstreamConnLifetime: tc.lifetime},
				Options{NetHTTPOnly: tc.netHTTP})
			gw.SetUpstreams("s", []Upstream{{ID: "s", Addr: up.addr, Ready: true}})
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 10 * time.Second}
			defer c.CloseIdleConnections()
			get := func() string {
				t.Helper()
				var body io.Reader
				method := http.MethodGet
				if tc.chunked {
					method = http.MethodPost
					body = io.MultiReader(strings.NewReader("x")) // unknown length: sent chunked
				}
				req, _ := http.NewRequest(method, gw.base+"/", body)
				res, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				if res.StatusCode != 200 {
					t.Fatalf("status %d: %s", res.StatusCode, b)
				}
				return string(bytes.TrimSpace(b))
			}
			// warm up: the gateway keeps connections to the old process
			for range 20 {
				if got := get(); got != "old" {
					t.Fatalf("before the restart: %q", got)
				}
				time.Sleep(5 * time.Millisecond)
			}
			up.restart(t)
			restarted := time.Now()
			bound := tc.lifetime + time.Second
			if !tc.wantNew {
				bound = time.Second
			}
			for time.Since(restarted) < bound {
				if get() == "new" {
					if !tc.wantNew {
						t.Fatalf("lifetime 0: got the new process after %s; kept-alive connections should stay in use", time.Since(restarted))
					}
					t.Logf("new answers %s after the restart", time.Since(restarted).Round(time.Millisecond))
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
			if tc.wantNew {
				t.Fatalf("still the old process's answers %s after the new one listens", bound)
			}
		})
	}
}
