package tui

import (
	"context"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// fixedNow is the clock of every test model, so ages and clock times in frames never change.
var fixedNow = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// fixture is a stack like the sample one: three services (one failing its build), the
// infrastructure, two order topics with records, a lagging consumer group and gateway traffic.
func fixture() *fakeCtrl {
	f := newFake("shop")
	f.started = fixedNow.Add(-17 * time.Minute)
	t := func(ago time.Duration) time.Time { return fixedNow.Add(-ago) }
	for _, c := range []event.Component{
		{Name: "broker", Status: event.StatusReady, Addr: "127.0.0.1:9092", StartedIn: 40 * time.Millisecond},
		{Name: "postgres", Status: event.StatusReady, Addr: "127.0.0.1:5433", Detail: "PostgreSQL 16.4", StartedIn: 2100 * time.Millisecond},
		{Name: "gateway", Status: event.StatusReady, Addr: "127.0.0.1:8080"},
	} {
		f.bus.SetComponent(c)
	}
	f.bus.SetService(event.Service{
		Name: "users", Status: event.StatusReady, Replicas: 1, StartedIn: 3 * time.Second,
		Instances: []event.Instance{{Replica: 0, PID: 4242, Port: 3001, Status: event.StatusReady, Ready: true,
			StartedAt: t(5*time.Minute + 3*time.Second), CPU: 3.2, RSS: 85 << 20, Generation: 2}},
		LastReload: &event.Reload{At: t(5 * time.Minute), Duration: 850 * time.Millisecond, OK: true, Trigger: "src/orders/orders.controller.ts"},
	})
	f.bus.SetService(event.Service{
		Name: "scorer", Status: event.StatusReady, Replicas: 2, Restarts: 1,
		Instances: []event.Instance{
			{Replica: 0, PID: 5100, Port: 4001, Status: event.StatusReady, Ready: true, StartedAt: t(16 * time.Minute), CPU: 12, RSS: 21 << 20},
			{Replica: 1, PID: 5188, Port: 4002, Status: event.StatusReady, Ready: true, StartedAt: t(2 * time.Minute), CPU: 9.5, RSS: 19 << 20, Restarts: 1},
		},
	})
	f.bus.SetService(event.Service{
		Name: "analytics", Status: event.StatusFailed, Replicas: 1, Restarts: 3,
		Error:     "exited with code 1 three times in 30s: gave up (fix the code and save, or press r)",
		Instances: []event.Instance{{Replica: 0, Status: event.StatusFailed, ExitCode: 1, Restarts: 3}},
		LastReload: &event.Reload{At: t(40 * time.Second), Duration: 1200 * time.Millisecond, OK: false, Trigger: "analytics/views.py",
			Error: "Traceback (most recent call last):\n  File \"analytics/views.py\", line 12\n    def summary(request)\n                       ^\nSyntaxError: expected ':'"},
	})
	lines := []event.LogLine{
		{Time: t(60 * time.Second), Source: "devstack", Stream: "system", Text: "stack shop is ready in 6.2s"},
		{Time: t(50 * time.Second), Source: "users", Stream: "stdout", Text: `[Nest] 4242  - LOG [OrdersService] order 1042 placed by u-7 (3 items)`},
		{Time: t(49 * time.Second), Source: "scorer", Replica: 1, Stream: "stdout", Text: `{"level":"info","msg":"scored order","order":1042,"score":0.12}`},
		{Time: t(48 * time.Second), Source: "gateway", Stream: "access", Text: `POST /api/orders 201 12ms sub=u-7 id=7f3a`},
		{Time: t(45 * time.Second), Source: "users", Stream: "stderr", Text: `[Nest] 4242  - WARN [Kafka] broker metadata refresh took 1.4s`},
		{Time: t(40 * time.Second), Source: "analytics", Stream: "build", Text: `SyntaxError: expected ':'`},
		{Time: t(39 * time.Second), Source: "analytics", Stream: "stderr", Text: `Traceback (most recent call last): File "manage.py", line 22, in <module>`},
		{Time: t(30 * time.Second), Source: "users", Stream: "stdout", Text: `[Nest] 4242  - LOG [OrdersService] order 1043 placed by u-9 (1 items)`},
		{Time: t(29 * time.Second), Source: "scorer", Stream: "stdout", Text: `{"level":"debug","msg":"window","user":"u-9","orders_last_10m":4}`},
		{Time: t(28 * time.Second), Source: "scorer", Stream: "stderr", Text: `time=2026-12-03T09:26:25Z level=WARN msg="slow score" order=1043 ms=812 trace_id=4bf92f3577b34da6a3ce929d0e0e4736`},
	}
	for _, l := range lines {
		f.logs.Append(l)
	}
	f.mu.Lock()
	placed := f.createTopic("orders.placed", 3)
	scored := f.createTopic("orders.scored", 1)
	f.createTopic("__consumer_offsets", 1)
	f.mu.Unlock()
	for i, v := range []string{`{"orderId":1041,"userId":"u-3","total":19.9}`, `{"orderId":1042,"userId":"u-7","items":[{"sku":"A-1","qty":2},{"sku":"B-9","qty":1}],"total":54.5}`} {
		_ = placed
		_ = f.Produce(context.Background(), "orders.placed", []event.Message{{
			Partition: int32(i), Key: []byte("u-7"), Value: []byte(v), Timestamp: t(time.Duration(50-i) * time.Second),
			Headers: []event.Header{{Key: "correlation-id", Value: []byte("7f3a")}, {Key: "content-type", Value: []byte("application/json")}},
		}})
	}
	_ = scored
	_ = f.Produce(context.Background(), "orders.scored", []event.Message{{Key: []byte("1042"), Value: []byte{0x00, 0x01, 0x02, 0xfe, 0xff, 'h', 'i'}, Timestamp: t(49 * time.Second)}})
	f.mu.Lock()
	f.calls = nil
	f.groups = []event.GroupInfo{{
		Name: "scorer", State: "Stable", Protocol: "cooperative-sticky", Lag: 7,
		Members: []event.GroupMember{{ID: "scorer-0-6f1c", ClientID: "scorer-0", Host: "127.0.0.1", Assignment: map[string][]int32{"orders.placed": {0, 1}}},
			{ID: "scorer-1-91ab", ClientID: "scorer-1", Host: "127.0.0.1", Assignment: map[string][]int32{"orders.placed": {2}}}},
		Offsets: []event.GroupOffset{{Topic: "orders.placed", Partition: 0, Committed: 120, End: 124, Lag: 4},
			{Topic: "orders.placed", Partition: 1, Committed: 98, End: 101, Lag: 3}, {Topic: "orders.placed", Partition: 2, Committed: 77, End: 77}},
	}, {Name: "analytics", State: "Empty", Offsets: []event.GroupOffset{{Topic: "orders.scored", Partition: 0, Committed: 40, End: 40}}}}
	f.routes = []event.RouteStats{
		{Route: "/api/orders/** -> users", Service: "users", Requests: 1843, Rate: 4.2, P50: 11 * time.Millisecond, P99: 87 * time.Millisecond,
			Status: map[string]int64{"2xx": 1790, "4xx": 53}, Upstreams: []event.UpstreamInfo{{Addr: "127.0.0.1:3001", Ready: true, Healthy: true}}},
		{Route: "/api/analytics/** -> analytics", Service: "analytics", Requests: 12, Rate: 0, P50: 4 * time.Millisecond, P99: 9 * time.Millisecond,
			Status: map[string]int64{"5xx": 12}, Upstreams: []event.UpstreamInfo{{Addr: "127.0.0.1:8001"}}},
	}
	f.mu.Unlock()
	return f
}

// publishAccess sends gateway requests; access records are events only (not in the snapshot), so
// a test publishes them once the model has subscribed.
func publishAccess(f *fakeCtrl) {
	t := func(ago time.Duration) time.Time { return fixedNow.Add(-ago) }
	for i, a := range []event.Access{
		{Method: "POST", Path: "/api/users/login", Status: 200, Latency: 38 * time.Millisecond, Auth: "none", Service: "users"},
		{Method: "POST", Path: "/api/orders", Status: 201, Latency: 12 * time.Millisecond, Auth: "ok", Subject: "u-7", Service: "users"},
		{Method: "GET", Path: "/api/orders", Status: 401, Latency: 300 * time.Microsecond, Auth: "missing", Service: "users"},
		{Method: "GET", Path: "/api/analytics/summary", Status: 502, Latency: 2 * time.Millisecond, Auth: "ok", Subject: "u-7", Service: "analytics"},
	} {
		a.Time = t(time.Duration(40-i) * time.Second)
		a.RequestID = "req-" + string(rune('a'+i))
		a.Route = a.Service
		a.Upstream = "127.0.0.1:3001"
		a.ClientIP = "127.0.0.1"
		f.bus.PublishAccess(a)
	}
}
