package event

import (
	"testing"
	"time"
)

// The gateway's access line names the request's trace when tracing is on, so a user can go from a
// logged request to its trace.
func TestAccessLineTraceID(t *testing.T) {
	base := Access{Method: "POST", Path: "/api/orders", Status: 201, Latency: 1234 * time.Microsecond, Bytes: 512,
		Service: "users", Upstream: "127.0.0.1:3001", ClientIP: "127.0.0.1", RequestID: "r1"}
	cases := []struct {
		name, trace, want string
	}{
		{"tracing off", "", `POST /api/orders 201 1.23ms 512B service=users upstream=127.0.0.1:3001 client=127.0.0.1 rid=r1`},
		{"tracing on", "4bf92f3577b34da6a3ce929d0e0e4736",
			`POST /api/orders 201 1.23ms 512B service=users upstream=127.0.0.1:3001 client=127.0.0.1 rid=r1 trace=4bf92f3577b34da6a3ce929d0e0e4736`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := base
			a.TraceID = tc.trace
			if got := a.Line(); got != tc.want {
				t.Errorf("Line() = %q\nwant      %q", got, tc.want)
			}
		})
	}
}
