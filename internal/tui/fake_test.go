package tui

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
)

// fakeCtrl is an in-memory Controller over a real event.Bus and event.Logs: state and logs flow
// exactly as they do in a stack; topics are a small log of records that taps read and follow.
type fakeCtrl struct {
	bus  *event.Bus
	logs *event.Logs

	mu      sync.Mutex
	topics  map[string]*fakeTopic
	groups  []event.GroupInfo
	routes  []event.RouteStats
	calls   []string
	resets  []control.ResetRequest
	failing map[string]error        // method -> error to return
	started time.Time               // if set, replaces the bus's StartedAt (for stable golden frames)
	spans   map[string][]event.Span // kept spans by trace id; nil: the stack runs no telemetry
}

type fakeTopic struct {
	partitions int
	records    [][]event.Message // per partition
	followers  []*fakeTap
}

type fakeTap struct {
	ctx       context.Context
	ch        chan event.Message
	partition int32
}

func newFake(name string) *fakeCtrl {
	return &fakeCtrl{bus: event.NewBus(name), logs: event.NewLogs(20000), topics: map[string]*fakeTopic{}, failing: map[string]error{}}
}

var _ control.Controller = (*fakeCtrl)(nil)

func (f *fakeCtrl) fail(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failing[method]
}

func (f *fakeCtrl) Subscribe(ctx context.Context) (event.State, <-chan event.Event, error) {
	if err := f.fail("Subscribe"); err != nil {
		return event.State{}, nil, err
	}
	st, ch, cancel := f.bus.Subscribe(4096)
	context.AfterFunc(ctx, cancel)
	if !f.started.IsZero() {
		st.StartedAt = f.started
	}
	return st, ch, nil
}

func (f *fakeCtrl) Snapshot(context.Context) (event.State, error) { return f.bus.Snapshot(), nil }

func (f *fakeCtrl) Logs(ctx context.Context, q control.LogQuery) ([]event.LogLine, <-chan event.LogLine, error) {
	if !q.Follow {
		return f.logs.Tail(q.Tail, event.SourceFilter(q.Source)), nil, nil
	}
	past, ch, cancel := f.logs.Subscribe(q.Tail, 16384, event.SourceFilter(q.Source))
	context.AfterFunc(ctx, cancel)
	return past, ch, nil
}

func (f *fakeCtrl) record(what, service string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, what+" "+service)
	if _, ok := f.bus.Snapshot().Service(service); !ok {
		return fmt.Errorf("service %q: %w", service, control.ErrNotFound)
	}
	return nil
}

func (f *fakeCtrl) Restart(_ context.Context, s string) error { return f.record("restart", s) }
func (f *fakeCtrl) Stop(_ context.Context, s string) error    { return f.record("stop", s) }
func (f *fakeCtrl) Start(_ context.Context, s string) error   { return f.record("start", s) }
func (f *fakeCtrl) Rebuild(_ context.Context, s string) error { return f.record("rebuild", s) }

func (f *fakeCtrl) Topics(context.Context) ([]event.TopicInfo, error) {
	if err := f.fail("Topics"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []event.TopicInfo
	for name, t := range f.topics {
		ti := event.TopicInfo{Name: name, RateIn: 1.5}
		for p := range t.partitions {
			n := int64(len(t.records[p]))
			ti.Partitions = append(ti.Partitions, event.PartitionInfo{Partition: int32(p), EndOffset: n})
			ti.Messages += n
		}
		out = append(out, ti)
	}
	return out, nil
}

func (f *fakeCtrl) Groups(context.Context) ([]event.GroupInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.groups), nil
}

func (f *fakeCtrl) ResetGroup(_ context.Context, r control.ResetRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resets = append(f.resets, r)
	return nil
}

func (f *fakeCtrl) Routes(context.Context) ([]event.RouteStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.routes), nil
}

func (f *fakeCtrl) createTopic(name string, partitions int) *fakeTopic {
	t := f.topics[name]
	if t == nil {
		t = &fakeTopic{partitions: partitions, records: make([][]event.Message, partitions)}
		f.topics[name] = t
	}
	return t
}

func (f *fakeCtrl) Produce(_ context.Context, topic string, msgs []event.Message) error {
	if err := f.fail("Produce"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "produce "+topic)
	t := f.createTopic(topic, 1)
	for _, m := range msgs {
		p := m.Partition
		if p < 0 || int(p) >= t.partitions {
			p = 0
		}
		m.Topic, m.Partition, m.Offset = topic, p, int64(len(t.records[p]))
		if m.Timestamp.IsZero() {
			m.Timestamp = time.Now()
		}
		t.records[p] = append(t.records[p], m)
		live := t.followers[:0]
		for _, tap := range t.followers {
			live = append(live, tap)
			if tap.ctx.Err() != nil {
				continue // its AfterFunc removes and closes it
			}
			if tap.partition >= 0 && tap.partition != p {
				continue
			}
			select {
			case tap.ch <- m:
			default: // a slow tap is dropped, as the real one does
				close(tap.ch)
				live = live[:len(live)-1]
			}
		}
		t.followers = live
	}
	return nil
}

func (f *fakeCtrl) Messages(ctx context.Context, q control.MessageQuery) (<-chan event.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.topics[q.Topic]
	if t == nil {
		return nil, fmt.Errorf("topic %q: %w", q.Topic, control.ErrNotFound)
	}
	var past []event.Message
	for p := range t.partitions {
		if q.Partition >= 0 && int32(p) != q.Partition {
			continue
		}
		for _, m := range t.records[p] {
			switch q.From {
			case "offset":
				if m.Offset < q.Offset {
					continue
				}
			case "time":
				if m.Timestamp.Before(q.Since) {
					continue
				}
			case "end":
				continue
			}
			past = append(past, m)
		}
	}
	if q.From == "last" && q.Limit > 0 && len(past) > q.Limit {
		past = past[len(past)-q.Limit:]
	} else if q.From != "last" && q.Limit > 0 && len(past) > q.Limit {
		past = past[:q.Limit]
	}
	ch := make(chan event.Message, len(past)+65536)
	for _, m := range past {
		ch <- m
	}
	if !q.Follow {
		close(ch)
		return ch, nil
	}
	tap := &fakeTap{ctx: ctx, ch: ch, partition: q.Partition}
	t.followers = append(t.followers, tap)
	context.AfterFunc(ctx, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if i := slices.Index(t.followers, tap); i >= 0 {
			t.followers = slices.Delete(t.followers, i, i+1)
			close(ch)
		}
	})
	return ch, nil
}

// Traces summarises the fake's spans (nil: a stack without telemetry) the way the contract says:
// newest first, filtered by q.
func (f *fakeCtrl) Traces(_ context.Context, q event.TraceQuery) ([]event.TraceSummary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("traces %s/%s/%s", q.Service, q.Status, q.MinDuration))
	if f.spans == nil {
		return nil, fmt.Errorf("traces: %w", control.ErrNoTelemetry)
	}
	var out []event.TraceSummary
	for id, spans := range f.spans {
		ts := event.TraceSummary{TraceID: id, Spans: len(spans)}
		start, end := event.TraceBounds(spans)
		ts.Start, ts.Duration = start, end.Sub(start)
		byStart := slices.Clone(spans)
		slices.SortStableFunc(byStart, func(a, b event.Span) int { return a.Start.Compare(b.Start) })
		ts.RootService, ts.RootName = byStart[0].Service, byStart[0].Name
		for _, s := range byStart {
			if s.ParentID == "" {
				ts.RootService, ts.RootName = s.Service, s.Name
				break
			}
		}
		for _, s := range byStart {
			if !slices.Contains(ts.Services, s.Service) {
				ts.Services = append(ts.Services, s.Service)
			}
			if s.Status == "error" {
				ts.Errors++
			}
		}
		if (q.Service != "" && !slices.Contains(ts.Services, q.Service)) || (q.Status == "error" && ts.Errors == 0) ||
			(q.Status == "ok" && ts.Errors > 0) || ts.Duration < q.MinDuration {
			continue
		}
		out = append(out, ts)
	}
	slices.SortFunc(out, func(a, b event.TraceSummary) int { return b.Start.Compare(a.Start) })
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

func (f *fakeCtrl) Trace(_ context.Context, id string) ([]event.Span, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "trace "+id)
	if f.spans == nil {
		return nil, fmt.Errorf("trace %s: %w", id, control.ErrNoTelemetry)
	}
	spans, ok := f.spans[id]
	if !ok {
		return nil, fmt.Errorf("trace %s: %w", id, control.ErrNotFound)
	}
	return slices.Clone(spans), nil
}

// addSpans stores spans as if they had arrived over OTLP (and turns telemetry on).
func (f *fakeCtrl) addSpans(spans ...event.Span) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.spans == nil {
		f.spans = map[string][]event.Span{}
	}
	for _, s := range spans {
		f.spans[s.TraceID] = append(f.spans[s.TraceID], s)
	}
}
