package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkServeHTTP measures the gateway's own per-request cost (JWT + rate limit + forwarding to
// a real upstream over kept-alive TCP), without the client side of net/http.
func BenchmarkServeHTTP(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Length"] = []string{"2"}
		w.Write([]byte("ok"))
	}))
	defer up.Close()
	state := b.TempDir()
	g, err := New(withTestValues(Config{HTTPSPort: -1, StateDir: state, Routes: []Route{{Path: "/", Service: "s", Auth: "required",
		RateLimit: &RateLimit{Requests: 1e9}}}}), Options{})
	if err != nil {
		b.Fatal(err)
	}
	g.SetUpstreams("s", []Upstream{{ID: "s", Addr: up.Listener.Addr().String(), Ready: true}})
	tok, _ := IssueToken(state, "devstack", "devstack", "bench", nil, time.Hour)
	req := httptest.NewRequest("GET", "http://127.0.0.1:8080/api/x?y=1", nil)
	req.RemoteAddr = "127.0.0.1:5555"
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := req.Clone(req.Context())
		r.Header = http.Header{"Authorization": {"Bearer " + tok}, "User-Agent": {"wrk"}, "Accept": {"*/*"}}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}
