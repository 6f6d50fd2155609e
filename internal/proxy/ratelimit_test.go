package proxy

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRateLimits(t *testing.T) {
	clk := newClock()
	u := upstream(t, "s")
	state := t.TempDir()
	gw := startGateway(t, Config{StateDir: state, Routes: []Route{
		{Path: "/ip", Service: "s", RateLimit: &RateLimit{Requests: 2, Per: time.Second}},
		{Path: "/key", Service: "s", RateLimit: &RateLimit{Requests: 1, Per: time.Minute, Key: "header:X-API-Key"}},
		{Path: "/sub", Service: "s", Auth: "required", RateLimit: &RateLimit{Requests: 1, Per: time.Second, Key: "sub"}},
	}}, clk.Now)
	gw.SetUpstreams("s", []Upstream{{ID: "s", Addr: hostOf(u), Ready: true}})
	alice, _ := IssueToken(state, "devstack", "devstack", "alice", nil, 24*time.Hour)
	bob, _ := IssueToken(state, "devstack", "devstack", "bob", nil, 24*time.Hour)

	type step struct {
		name       string
		advance    time.Duration
		path       string
		hdr        map[string]string
		status     int
		rateLimit  string // RateLimit header
		policy     string
		retryAfter string
	}
	steps := []step{
		{name: "ip 1", path: "/ip", status: 200, rateLimit: `"route-0";r=1;t=1`, policy: `"route-0";q=2;w=1`},
		{name: "ip 2", path: "/ip", status: 200, rateLimit: `"route-0";r=0;t=1`},
		{name: "ip 3 limited", path: "/ip", status: 429, rateLimit: `"route-0";r=0;t=1`, policy: `"route-0";q=2;w=1`, retryAfter: "1"},
		{name: "half a second refills one", advance: 500 * time.Millisecond, path: "/ip", status: 200},
		{name: "and only one", path: "/ip", status: 429, retryAfter: "1"},
		{name: "key A", path: "/key", hdr: map[string]string{"X-API-Key": "A"}, status: 200},
		{name: "key A again", path: "/key", hdr: map[string]string{"X-API-Key": "A"}, status: 429, retryAfter: "60", rateLimit: `"route-1";r=0;t=60`},
		{name: "key B has its own bucket", path: "/key", hdr: map[string]string{"X-API-Key": "B"}, status: 200},
		{name: "no key falls back to ip", path: "/key", status: 200},
		{name: "no key again", path: "/key", status: 429},
		{name: "30s later key A still waits", advance: 30 * time.Second, path: "/key", hdr: map[string]string{"X-API-Key": "A"}, status: 429, retryAfter: "30"},
		{name: "alice", path: "/sub", hdr: map[string]string{"Authorization": "Bearer " + alice}, status: 200},
		{name: "alice again", path: "/sub", hdr: map[string]string{"Authorization": "Bearer " + alice}, status: 429},
		{name: "bob from the same ip", path: "/sub", hdr: map[string]string{"Authorization": "Bearer " + bob}, status: 200},
		{name: "alice after 1s", advance: time.Second, path: "/sub", hdr: map[string]string{"Authorization": "Bearer " + alice}, status: 200},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			clk.Add(s.advance)
			r := do(t, "GET", gw.base+s.path, s.hdr, nil)
			if r.status != s.status {
				t.Fatalf("status %d want %d: %s", r.status, s.status, r.body)
			}
			if s.rateLimit != "" && r.header.Get("RateLimit") != s.rateLimit {
				t.Errorf("RateLimit %q want %q", r.header.Get("RateLimit"), s.rateLimit)
			}
			if s.policy != "" && r.header.Get("RateLimit-Policy") != s.policy {
				t.Errorf("RateLimit-Policy %q want %q", r.header.Get("RateLimit-Policy"), s.policy)
			}
			if s.retryAfter != "" && r.header.Get("Retry-After") != s.retryAfter {
				t.Errorf("Retry-After %q want %q", r.header.Get("Retry-After"), s.retryAfter)
			}
			if s.status == 429 && !strings.Contains(string(r.body), "rate_limited") {
				t.Errorf("body: %s", r.body)
			}
		})
	}
}

func TestGlobalRateLimit(t *testing.T) {
	clk := newClock()
	u := upstream(t, "s")
	gw := startGateway(t, Config{GlobalLimit: &RateLimit{Requests: 3, Per: time.Second, Key: "global"}, Routes: []Route{
		{Path: "/a", Service: "s"}, {Path: "/b", Service: "s", RateLimit: &RateLimit{Requests: 100}},
	}}, clk.Now)
	gw.SetUpstreams("s", []Upstream{{ID: "s", Addr: hostOf(u), Ready: true}})
	for i, p := range []string{"/a", "/b", "/a"} {
		if r := do(t, "GET", gw.base+p, nil, nil); r.status != 200 {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	r := do(t, "GET", gw.base+"/b", nil, nil)
	if r.status != 429 || !strings.Contains(r.header.Get("RateLimit-Policy"), `"global";q=3;w=1`) || r.header.Get("Retry-After") == "" {
		t.Fatalf("global limit: %d %v", r.status, r.header)
	}
	clk.Add(time.Second)
	if r := do(t, "GET", gw.base+"/b", nil, nil); r.status != 200 {
		t.Fatalf("after refill: %d", r.status)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	old := queueWait
	queueWait = time.Minute // the queued request must not time out on a slow machine
	defer func() { queueWait = old }()
	release := make(chan struct{})
	entered := make(chan struct{}, 10)
	slow := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		w.WriteHeader(200)
	}))
	gw := startGateway(t, Config{Routes: []Route{{Path: "/", Service: "s", MaxConcurrent: 1}}}, nil)
	gw.SetUpstreams("s", []Upstream{{ID: "s", Addr: hostOf(slow), Ready: true}})
	rt := gw.cur.Load().routes[0]

	var wg sync.WaitGroup
	results := make(chan int, 2)
	send := func() {
		defer wg.Done()
		results <- do(t, "GET", gw.base+"/", nil, nil).status
	}
	wg.Add(1)
	go send()
	<-entered // first request holds the only slot
	wg.Add(1)
	go send()
	eventually(t, 10*time.Second, "second request queued", func() bool { return rt.queued.Load() == 1 })
	r := do(t, "GET", gw.base+"/", nil, nil) // queue (size 1) is full
	if r.status != 503 || r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), "max_concurrent") {
		t.Fatalf("third request: %d %s", r.status, r.body)
	}
	close(release)
	wg.Wait()
	close(results)
	for s := range results {
		if s != 200 {
			t.Fatalf("in-flight/queued request got %d", s)
		}
	}
}
