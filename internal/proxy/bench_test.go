package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
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

// BenchmarkSpanHandoff is what a request's span costs on the request path (an event loop) when it is
// handed to the sink in batches (a compact record queued; the publisher builds the event.Spans) versus
// built on the request path and handed over one slice per request. The sink stands for the telemetry
// store's AddSpans (a non-blocking queue).
func BenchmarkSpanHandoff(b *testing.B) {
	var ids idBlock
	rec := func() spanRec {
		return spanRec{trace: newTrace("", 0, &ids), start: time.Now(), end: time.Now(), method: "POST", scheme: "http",
			host: "localhost:8080", path: "/api/orders", route: "/api/orders", service: "orders", upstream: "127.0.0.1:3001",
			ip: "127.0.0.1", requestID: "r1", status: 201, auth: "none"}
	}
	sink := make(chan []event.Span, 1<<16)
	drain := func() {
		for {
			select {
			case <-sink:
			default:
				return
			}
		}
	}
	b.Run("batched", func(b *testing.B) {
		q := newBatchQueue[spanRec]()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			q.push(rec())
			if i%256 == 255 { // the publisher's share, off the request path
				b.StopTimer()
				q.drain(func([]spanRec) {})
				b.StartTimer()
			}
		}
	})
	b.Run("one slice per request", func(b *testing.B) {
		names := map[spanName]string{}
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			r := rec()
			out := make([]event.Span, 1)
			out[0].SpanID, out[0].ParentID = string(r.trace.spanID[:]), ""
			r.fill(&out[0], names)
			select {
			case sink <- out:
			default:
			}
			if i%4096 == 4095 {
				b.StopTimer()
				drain()
				b.StartTimer()
			}
		}
	})
}
