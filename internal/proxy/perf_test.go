package proxy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// TestTimeoutDeadlineOnKeptAliveConn checks the read deadline the response timeout leaves armed on a
// kept-alive upstream connection (when a response arrived whole in the buffer): reusing the
// connection after the deadline expired works, a body that trickles in for longer than the timeout
// is not cut, and the stale-connection probe still runs on a connection with an expired deadline.
func TestTimeoutDeadlineOnKeptAliveConn(t *testing.T) {
	const timeout = 100 * time.Millisecond
	var conns atomic.Int32
	u := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fast":
			w.Header().Set("Content-Length", "4")
			_, _ = w.Write([]byte("fast"))
		case "/trickle":
			// the head arrives at once, the rest of the body after three timeouts
			w.Header().Set("Content-Length", "10")
			_, _ = w.Write([]byte("01234"))
			w.(http.Flusher).Flush()
			time.Sleep(3 * timeout)
			_, _ = w.Write([]byte("56789"))
		}
	}))
	u.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	u.Start()
	t.Cleanup(u.Close)
	gw := startGateway(t, Config{Routes: []Route{{Path: "/", Service: "s", Timeout: timeout}}}, nil)
	gw.SetUpstreams("s", []Upstream{{ID: "s", Addr: hostOf(u), Ready: true}})

	steps := []struct {
		name, method, path, body string
		idleFirst                bool // let the armed deadline expire while the connection is idle
		dropFirst                bool // the upstream closes its idle connections first
		want                     string
		wantConns                int32
	}{
		{name: "first request", method: "GET", path: "/fast", want: "fast", wantConns: 1},
		{name: "reuse after the deadline expired", method: "GET", path: "/fast", idleFirst: true, want: "fast", wantConns: 1},
		{name: "probed reuse after the deadline expired", method: "POST", path: "/fast", body: "x", idleFirst: true, want: "fast", wantConns: 1},
		{name: "body slower than the timeout", method: "GET", path: "/trickle", want: "0123456789", wantConns: 1},
		{name: "fast again", method: "GET", path: "/fast", want: "fast", wantConns: 1},
		{name: "probe finds a closed connection", method: "POST", path: "/fast", body: "x", idleFirst: true, dropFirst: true, want: "fast", wantConns: 2},
	}
	for _, st := range steps {
		if st.dropFirst {
			u.CloseClientConnections()
		}
		if st.idleFirst {
			time.Sleep(2 * timeout) // not a timing assertion: the deadline must expire for this case
		}
		var body *strings.Reader
		if st.body != "" {
			body = strings.NewReader(st.body)
		}
		var r resp
		if body != nil {
			r = do(t, st.method, gw.base+st.path, nil, body)
		} else {
			r = do(t, st.method, gw.base+st.path, nil, nil)
		}
		if r.status != 200 || string(r.body) != st.want {
			t.Fatalf("%s: %d %q, want 200 %q", st.name, r.status, r.body, st.want)
		}
		if got := conns.Load(); got != st.wantConns {
			t.Fatalf("%s: upstream saw %d connections, want %d", st.name, got, st.wantConns)
		}
	}
}

func TestAccessQueue(t *testing.T) {
	rec := func(i int) event.Access { return event.Access{Path: fmt.Sprintf("/%d", i), Status: 200} }
	cases := []struct {
		name        string
		before, mid int // pushed before run starts / while it runs
		wantDropped int64
	}{
		{name: "one record", mid: 1},
		{name: "a burst", mid: 3000},
		{name: "queued before the publisher runs", before: 100, mid: 5},
		{name: "overflow is dropped and counted", before: accessQueueMax + 10, wantDropped: 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := newAccessQueue()
			var mu sync.Mutex
			var got []string
			emit := func(batch []event.Access) {
				mu.Lock()
				for i := range batch {
					got = append(got, batch[i].Path)
				}
				mu.Unlock()
			}
			for i := 0; i < tc.before; i++ {
				q.push(rec(i))
			}
			kept := min(tc.before, accessQueueMax)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); q.run(ctx, emit) }()
			for i := 0; i < tc.mid; i++ {
				q.push(rec(kept + i))
			}
			want := kept + tc.mid
			eventually(t, 5*time.Second, "records published", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(got) >= want
			})
			// records pushed right before shutdown are still published
			q.push(rec(want))
			cancel()
			<-done
			mu.Lock()
			defer mu.Unlock()
			if len(got) != want+1 {
				t.Fatalf("published %d records, want %d", len(got), want+1)
			}
			for i, p := range got {
				if p != fmt.Sprintf("/%d", i) {
					t.Fatalf("record %d is %s: order lost", i, p)
				}
			}
			if d := q.dropped.Load(); d != tc.wantDropped {
				t.Fatalf("dropped %d, want %d", d, tc.wantDropped)
			}
		})
	}
}

// TestHostInHeaderMapSentOnce: servers other than net/http's (and handlers that build requests by
// hand) may leave Host in the header map; the upstream must still get exactly one Host header
// (two make Go's and Node's servers answer 400).
func TestHostInHeaderMapSentOnce(t *testing.T) {
	u := upstream(t, "s")
	g, err := New(withTestValues(Config{HTTPSPort: -1, StateDir: t.TempDir(), Routes: []Route{{Path: "/", Service: "s"}}}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	g.SetUpstreams("s", []Upstream{{ID: "s", Addr: hostOf(u), Ready: true}})
	for _, host := range []string{"example.test", "127.0.0.1:8080"} {
		r := httptest.NewRequest("GET", "http://"+host+"/x", nil)
		r.Header["Host"] = []string{host}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"host":"`+host+`"`) {
			t.Fatalf("Host %s: %d %s", host, w.Code, w.Body)
		}
	}
}
