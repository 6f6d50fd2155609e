package control

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// busController is a Controller over a real Bus and Logs; actions are recorded.
type busController struct {
	bus     *event.Bus
	logs    *event.Logs
	actions chan string
}

func (b *busController) Subscribe(ctx context.Context) (event.State, <-chan event.Event, error) {
	st, ch, cancel := b.bus.Subscribe(64)
	go func() { <-ctx.Done(); cancel() }()
	return st, ch, nil
}
func (b *busController) Snapshot(context.Context) (event.State, error) { return b.bus.Snapshot(), nil }
func (b *busController) Logs(ctx context.Context, q LogQuery) ([]event.LogLine, <-chan event.LogLine, error) {
	if !q.Follow {
		return b.logs.Tail(q.Tail, event.SourceFilter(q.Source)), nil, nil
	}
	past, ch, cancel := b.logs.Subscribe(q.Tail, 0, event.SourceFilter(q.Source))
	go func() { <-ctx.Done(); cancel() }()
	return past, ch, nil
}
func (b *busController) act(s, a string) error {
	if s == "missing" {
		return fmt.Errorf("no service %q: %w", s, ErrNotFound)
	}
	b.actions <- a + " " + s
	return nil
}
func (b *busController) Restart(_ context.Context, s string) error { return b.act(s, "restart") }
func (b *busController) Stop(_ context.Context, s string) error    { return b.act(s, "stop") }
func (b *busController) Start(_ context.Context, s string) error   { return b.act(s, "start") }
func (b *busController) Rebuild(_ context.Context, s string) error { return b.act(s, "rebuild") }
func (b *busController) Topics(context.Context) ([]event.TopicInfo, error) {
	return []event.TopicInfo{{Name: "orders", Partitions: []event.PartitionInfo{{Partition: 0, EndOffset: 3}}, Messages: 3}}, nil
}
func (b *busController) Groups(context.Context) ([]event.GroupInfo, error) {
	return nil, errors.New("boom")
}
func (b *busController) ResetGroup(_ context.Context, r ResetRequest) error {
	b.actions <- "reset " + r.Group + " " + r.To
	return nil
}
func (b *busController) Messages(ctx context.Context, q MessageQuery) (<-chan event.Message, error) {
	ch := make(chan event.Message, 3)
	for i := range 3 {
		ch <- event.Message{Topic: q.Topic, Offset: int64(i), Value: []byte(fmt.Sprint(i))}
	}
	close(ch)
	return ch, nil
}
func (b *busController) Produce(_ context.Context, topic string, msgs []event.Message) error {
	b.actions <- fmt.Sprintf("produce %s %d %s", topic, len(msgs), msgs[0].Value)
	return nil
}
func (b *busController) Routes(context.Context) ([]event.RouteStats, error) {
	return []event.RouteStats{{Route: "/api", Service: "users", Requests: 7}}, nil
}

func (b *busController) Traces(_ context.Context, q event.TraceQuery) ([]event.TraceSummary, error) {
	if q.Service == "nobody" {
		return nil, ErrNoTelemetry
	}
	return []event.TraceSummary{{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", RootService: q.Service, Spans: 2}}, nil
}
func (b *busController) Trace(_ context.Context, id string) ([]event.Span, error) {
	if id != "4bf92f3577b34da6a3ce929d0e0e4736" {
		return nil, fmt.Errorf("trace %s: %w", id, ErrNotFound)
	}
	return []event.Span{{TraceID: id, SpanID: "00f067aa0ba902b7", Service: "gateway", Name: "GET /api", Attrs: map[string]string{"http.status_code": "200"}}}, nil
}

// TestTracesRoundTrip: the trace list and one trace cross the API, with ErrNotFound and ErrNoTelemetry
// kept for errors.Is.
func TestTracesRoundTrip(t *testing.T) {
	_, c := startServer(t)
	ctx := context.Background()
	ts, err := c.Traces(ctx, event.TraceQuery{Service: "users", Limit: 5})
	if err != nil || len(ts) != 1 || ts[0].RootService != "users" || ts[0].Spans != 2 {
		t.Fatalf("Traces = %+v, %v", ts, err)
	}
	if _, err := c.Traces(ctx, event.TraceQuery{Service: "nobody"}); !errors.Is(err, ErrNoTelemetry) {
		t.Errorf("Traces without telemetry: %v, want ErrNoTelemetry", err)
	}
	spans, err := c.Trace(ctx, "4bf92f3577b34da6a3ce929d0e0e4736")
	if err != nil || len(spans) != 1 || spans[0].Attrs["http.status_code"] != "200" {
		t.Fatalf("Trace = %+v, %v", spans, err)
	}
	if _, err := c.Trace(ctx, "ffff"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown trace: %v, want ErrNotFound", err)
	}
}

func startServer(t *testing.T) (*busController, *Client) {
	t.Helper()
	bc := &busController{bus: event.NewBus("t"), logs: event.NewLogs(100), actions: make(chan string, 10)}
	dir := t.TempDir()
	srv, err := Listen("127.0.0.1:0", dir, bc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, EndpointFile)); !os.IsNotExist(err) {
			t.Errorf("endpoint file not removed after shutdown: %v", err)
		}
	})
	c, err := Dial(dir)
	if err != nil {
		t.Fatal(err)
	}
	return bc, c
}

func TestRoundTrip(t *testing.T) {
	bc, c := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bc.bus.SetService(event.Service{Name: "users", Status: event.StatusReady, Replicas: 1})

	st, err := c.Snapshot(ctx)
	if err != nil || len(st.Services) != 1 || st.Services[0].Name != "users" {
		t.Fatalf("Snapshot = %+v, %v", st, err)
	}

	// subscribe: snapshot, then a later change arrives
	st, ch, err := c.Subscribe(ctx)
	if err != nil || len(st.Services) != 1 {
		t.Fatalf("Subscribe = %+v, %v", st, err)
	}
	bc.bus.UpdateService("users", func(s *event.Service) { s.Status = event.StatusFailed })
	select {
	case ev := <-ch:
		if ev.Kind != event.KindService || ev.Service.Status != event.StatusFailed {
			t.Fatalf("event = %+v", ev)
		}
	case <-ctx.Done():
		t.Fatal("no event")
	}

	// logs: tail and follow
	bc.logs.Append(event.LogLine{Source: "users", Text: "one"})
	bc.logs.Append(event.LogLine{Source: "scorer", Text: "two"})
	lines, lch, err := c.Logs(ctx, LogQuery{Source: "users"})
	if err != nil || lch != nil || len(lines) != 1 || lines[0].Text != "one" {
		t.Fatalf("Logs = %+v, %v, %v", lines, lch, err)
	}
	_, lch, err = c.Logs(ctx, LogQuery{Source: "scorer", Follow: true, Tail: 1})
	if err != nil {
		t.Fatal(err)
	}
	if l := <-lch; l.Text != "two" {
		t.Fatalf("backlog line = %+v", l)
	}
	bc.logs.Append(event.LogLine{Source: "scorer", Text: "three"})
	if l := <-lch; l.Text != "three" {
		t.Fatalf("followed line = %+v", l)
	}

	// actions and errors
	for _, a := range []struct {
		f    func(context.Context, string) error
		want string
	}{{c.Restart, "restart users"}, {c.Stop, "stop users"}, {c.Start, "start users"}, {c.Rebuild, "rebuild users"}} {
		if err := a.f(ctx, "users"); err != nil {
			t.Fatal(err)
		}
		if got := <-bc.actions; got != a.want {
			t.Errorf("action = %q, want %q", got, a.want)
		}
	}
	if err := c.Restart(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Restart(missing) = %v, want ErrNotFound", err)
	}
	if _, err := c.Groups(ctx); err == nil || err.Error() != "boom" {
		t.Errorf("Groups error = %v, want boom", err)
	}
	topics, err := c.Topics(ctx)
	if err != nil || len(topics) != 1 || topics[0].Messages != 3 {
		t.Errorf("Topics = %+v, %v", topics, err)
	}
	mch, err := c.Messages(ctx, MessageQuery{Topic: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for m := range mch {
		if m.Offset != int64(n) || m.Topic != "orders" {
			t.Errorf("message %d = %+v", n, m)
		}
		n++
	}
	if n != 3 {
		t.Errorf("got %d messages, want 3", n)
	}
	if err := c.Produce(ctx, "orders", []event.Message{{Value: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	if got := <-bc.actions; got != "produce orders 1 x" {
		t.Errorf("produce = %q", got)
	}
	if err := c.ResetGroup(ctx, ResetRequest{Group: "g", To: "earliest"}); err != nil {
		t.Fatal(err)
	}
	if got := <-bc.actions; got != "reset g earliest" {
		t.Errorf("reset = %q", got)
	}
	rs, err := c.Routes(ctx)
	if err != nil || len(rs) != 1 || rs[0].Requests != 7 {
		t.Errorf("Routes = %+v, %v", rs, err)
	}
}

func TestTokenRequired(t *testing.T) {
	_, c := startServer(t)
	bad := NewClient(c.base[len("http://"):], "wrong")
	if _, err := bad.Snapshot(context.Background()); err == nil {
		t.Fatal("request with a wrong token succeeded")
	}
}

func TestDialNoStack(t *testing.T) {
	dir := t.TempDir()
	if _, err := Dial(dir); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Dial(empty dir) = %v, want ErrNotRunning", err)
	}
	// a stale endpoint file from a dead devstack
	os.WriteFile(filepath.Join(dir, EndpointFile), []byte(`{"addr":"127.0.0.1:1","pid":999999999,"token":"x"}`), 0o600)
	if _, err := Dial(dir); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Dial(stale) = %v, want ErrNotRunning", err)
	}
}
