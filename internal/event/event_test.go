package event

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSubscribeSnapshotThenChanges(t *testing.T) {
	b := NewBus("s")
	b.SetService(Service{Name: "api", Status: StatusStarting})
	st, ch, cancel := b.Subscribe(0)
	defer cancel()
	if sv, ok := st.Service("api"); !ok || sv.Status != StatusStarting {
		t.Fatalf("snapshot = %+v", st)
	}
	b.UpdateService("api", func(s *Service) { s.Status = StatusReady })
	b.SetComponent(Component{Name: "broker", Status: StatusReady})
	b.PublishAccess(Access{Path: "/x", Status: 200})
	b.Notify("warn", "hello")
	want := []Kind{KindService, KindComponent, KindAccess, KindStack}
	var last uint64
	for i, k := range want {
		ev := <-ch
		if ev.Kind != k {
			t.Fatalf("event %d kind = %s, want %s", i, ev.Kind, k)
		}
		if ev.Seq <= last {
			t.Errorf("event %d seq %d not increasing after %d", i, ev.Seq, last)
		}
		last = ev.Seq
	}
	if got := b.Snapshot(); got.Services[0].Status != StatusReady || len(got.Components) != 1 {
		t.Errorf("state after updates = %+v", got)
	}
}

func TestSnapshotIsACopy(t *testing.T) {
	b := NewBus("s")
	b.SetService(Service{Name: "api", Instances: []Instance{{Replica: 0, Port: 1}}, LastReload: &Reload{OK: true}})
	st := b.Snapshot()
	st.Services[0].Instances[0].Port = 99
	st.Services[0].LastReload.OK = false
	again := b.Snapshot()
	if again.Services[0].Instances[0].Port != 1 || !again.Services[0].LastReload.OK {
		t.Fatalf("mutating a snapshot changed the bus: %+v", again.Services[0])
	}
}

func TestSlowSubscriberIsDroppedNotWaitedFor(t *testing.T) {
	b := NewBus("s")
	_, ch, cancel := b.Subscribe(64)
	defer cancel()
	done := make(chan struct{})
	go func() {
		for i := range 1000 { // never blocks although nobody reads
			b.Notify("info", fmt.Sprint(i))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("publisher blocked on a slow subscriber")
	}
	n := 0
	for range ch {
		n++
	}
	if n != 64 {
		t.Errorf("dropped subscriber received %d events before its channel closed, want 64", n)
	}
	cancel() // idempotent after a drop
}

func TestFollowResubscribesAfterFallingBehind(t *testing.T) {
	b := NewBus("s")
	b.SetService(Service{Name: "api", Status: StatusStarting})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var mu sync.Mutex
	latest := map[string]Status{}
	block := make(chan struct{})
	first := true
	go b.Follow(ctx, 64, func(ev Event) {
		if first { // stall the first delivery so the subscriber falls behind
			first = false
			<-block
		}
		if ev.Kind == KindService {
			mu.Lock()
			latest[ev.Service.Name] = ev.Service.Status
			mu.Unlock()
		}
	})
	for i := range 500 {
		b.SetService(Service{Name: fmt.Sprintf("s%d", i%5), Status: StatusStarting})
	}
	b.UpdateService("api", func(s *Service) { s.Status = StatusReady })
	close(block)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		ok := latest["api"] == StatusReady && len(latest) == 6
		mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("Follow did not converge on the current state: %v", latest)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLogsRingKeepsTheNewest(t *testing.T) {
	l := NewLogs(16)
	for i := range 40 {
		src := "a"
		if i%2 == 1 {
			src = "b"
		}
		l.Append(LogLine{Source: src, Text: fmt.Sprint(i)})
	}
	all := l.Tail(0, nil)
	if len(all) != 16 || all[0].Text != "24" || all[15].Text != "39" {
		t.Fatalf("Tail(0) = %d lines %q..%q, want 16 lines 24..39", len(all), all[0].Text, all[len(all)-1].Text)
	}
	bs := l.Tail(3, SourceFilter("b"))
	if len(bs) != 3 || bs[0].Text != "35" || bs[2].Text != "39" {
		t.Fatalf("Tail(3, b) = %+v", bs)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq != all[i-1].Seq+1 {
			t.Fatalf("seq not contiguous: %d then %d", all[i-1].Seq, all[i].Seq)
		}
	}
}

func TestLogsSubscribeBacklogThenLive(t *testing.T) {
	l := NewLogs(100)
	l.Append(LogLine{Source: "a", Text: "old-a"})
	l.Append(LogLine{Source: "b", Text: "old-b"})
	past, ch, cancel := l.Subscribe(10, 0, SourceFilter("a"))
	defer cancel()
	if len(past) != 1 || past[0].Text != "old-a" {
		t.Fatalf("backlog = %+v", past)
	}
	l.Append(LogLine{Source: "b", Text: "new-b"})
	l.Append(LogLine{Source: "a", Text: "new-a"})
	if got := <-ch; got.Text != "new-a" {
		t.Fatalf("live line = %+v, want new-a (filtered)", got)
	}
}

func TestLogsSlowSubscriberDropped(t *testing.T) {
	l := NewLogs(100)
	_, ch, cancel := l.Subscribe(0, 256, nil)
	defer cancel()
	for i := range 1000 {
		l.Append(LogLine{Source: "a", Text: fmt.Sprint(i)})
	}
	n := 0
	for range ch {
		n++
	}
	if n != 256 {
		t.Errorf("received %d lines before the drop, want 256", n)
	}
}

func TestLevel(t *testing.T) {
	tests := map[string]string{
		"ERROR: boom":                 "error",
		"Traceback (most recent call": "error",
		"level=warn msg=slow":         "warn",
		`{"level":"info","msg":"hi"}`: "info",
		"DEBUG connecting":            "debug",
		"GET /health 200":             "",
	}
	for text, want := range tests {
		if got := (LogLine{Text: text}).Level(); got != want {
			t.Errorf("Level(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestStateApply(t *testing.T) {
	var s State
	steps := []struct {
		ev      Event
		applied bool
	}{
		{Event{Kind: KindService, Service: &Service{Name: "a", Status: StatusStarting}}, true},
		{Event{Kind: KindComponent, Component: &Component{Name: "broker", Status: StatusReady}}, true},
		{Event{Kind: KindService, Service: &Service{Name: "b"}}, true},
		{Event{Kind: KindService, Service: &Service{Name: "a", Status: StatusReady}}, true}, // replaced in place
		{Event{Kind: KindAccess, Access: &Access{Path: "/"}}, false},
		{Event{Kind: KindService}, false}, // no payload
	}
	for i, st := range steps {
		if got := s.Apply(st.ev); got != st.applied {
			t.Errorf("step %d: Apply = %v, want %v", i, got, st.applied)
		}
	}
	if len(s.Services) != 2 || s.Services[0].Name != "a" || s.Services[0].Status != StatusReady || len(s.Components) != 1 {
		t.Fatalf("state = %+v", s)
	}
}

func TestLogsAccessLinesAreWrittenWhenRead(t *testing.T) {
	l := NewLogs(16)
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	acc := func(i int) *Access {
		return &Access{Time: at, RequestID: fmt.Sprintf("r%d", i), Method: "GET", Path: fmt.Sprintf("/p/%d", i),
			Status: 200, Latency: 1234 * time.Microsecond, Bytes: 34, Service: "users", Upstream: "127.0.0.1:3001",
			Subject: "alice", Auth: "ok", ClientIP: "127.0.0.1"}
	}
	// interleave access records with plain lines and wrap the ring twice: no stale record may leak
	// into a slot that now holds a plain line
	for i := 0; i < 40; i++ {
		if i%3 == 0 {
			l.Append(LogLine{Source: "users", Stream: "stdout", Text: fmt.Sprintf("plain %d", i)})
		} else {
			l.AppendAccess(acc(i))
		}
	}
	tail := l.Tail(0, nil)
	if len(tail) != 16 {
		t.Fatalf("kept %d lines, want 16", len(tail))
	}
	for k, line := range tail {
		i := 24 + k
		want := fmt.Sprintf("plain %d", i)
		if i%3 != 0 {
			want = fmt.Sprintf(`GET /p/%d 200 1.23ms 34B service=users upstream=127.0.0.1:3001 sub="alice" client=127.0.0.1 rid=r%d`, i, i)
			if line.Source != "gateway" || line.Stream != "access" || !line.Time.Equal(at) {
				t.Errorf("line %d: source %q stream %q time %v", i, line.Source, line.Stream, line.Time)
			}
		}
		if line.Text != want {
			t.Errorf("line %d: %q, want %q", i, line.Text, want)
		}
	}
	// a filter sees the text, and a live subscriber gets it at once
	got := l.Tail(0, func(x LogLine) bool { return strings.Contains(x.Text, "rid=r38") })
	if len(got) != 1 {
		t.Fatalf("filter on the text found %d lines, want 1", len(got))
	}
	_, ch, cancel := l.Subscribe(0, 0, SourceFilter("gateway"))
	defer cancel()
	a := acc(99)
	a.Auth, a.Subject = "invalid: token expired", ""
	l.AppendAccess(a)
	if live := <-ch; live.Text != `GET /p/99 200 1.23ms 34B service=users upstream=127.0.0.1:3001 auth="invalid: token expired" client=127.0.0.1 rid=r99` {
		t.Errorf("live line %q", live.Text)
	}
}
