package telemetry

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

func benchSpans(n, off int) []event.Span {
	out := make([]event.Span, n)
	now := time.Now()
	for i := range out {
		out[i] = event.Span{TraceID: fmt.Sprintf("%032x", (off+i)/8+1), SpanID: fmt.Sprintf("%016x", off+i+1), Service: "users", Name: "POST /api/orders",
			Kind: "server", Start: now, End: now.Add(time.Millisecond),
			Attrs: map[string]string{"http.request.method": "POST", "url.path": "/api/orders", "url.scheme": "http", "server.address": "127.0.0.1",
				"server.port": "8080", "http.response.status_code": "201", "http.route": "/api/orders", "user_agent.original": "curl/8.5.0",
				"client.address": "127.0.0.1", "network.protocol.version": "1.1"}}
	}
	return out
}

// BenchmarkStoreIngest: 512-span batches into a store at its bound, persisted (b.N batches).
func BenchmarkStoreIngest(b *testing.B) {
	for _, persist := range []bool{false, true} {
		b.Run(fmt.Sprintf("persist=%v", persist), func(b *testing.B) {
			o := StoreOptions{MaxSpans: 100000}
			if persist {
				o.Dir = b.TempDir()
			}
			st, err := OpenStore(o)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			batches := make([][]event.Span, 256)
			for i := range batches {
				batches[i] = benchSpans(512, i*512)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st.Ingest(context.Background(), batches[i%len(batches)])
			}
			st.Flush(context.Background())
			b.ReportMetric(float64(b.N*512)/b.Elapsed().Seconds(), "spans/s")
		})
	}
}
