package telemetry

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// StoreOptions configure a Store. The config decides every value; the store fills in none.
type StoreOptions struct {
	// MaxSpans bounds the spans kept in memory (and on disk): past it, the oldest traces are evicted
	// whole. It must be at least 1.
	MaxSpans int
	// Dir is where spans are persisted (the stack's .devstack/traces); "" keeps them in memory only.
	Dir    string
	Logger *slog.Logger
}

// queueSpans bounds the spans AddSpans queues for the store's goroutine; past it AddSpans drops.
const queueSpans = 1 << 16

// ErrClosed is returned by Ingest after the store was closed.
var ErrClosed = errors.New("telemetry: span store closed")

// Store keeps the spans of the most recent traces, bounded in memory, indexed by trace id, and (with
// a Dir) appended to disk so they survive a restart. One goroutine owns the writes: AddSpans and
// Ingest queue to it, so a query never holds up a caller that adds spans.
type Store struct {
	max int
	log *slog.Logger
	dir string

	in      chan item
	pending atomic.Int64 // spans queued and not applied yet
	quit    chan struct{}
	done    chan struct{}
	close   sync.Once
	cerr    error

	mu     sync.RWMutex
	traces map[string]*trace
	order  []*trace // in order of first arrival; order[head:] are kept
	head   int
	spans  int

	received, dropped, evicted atomic.Uint64

	seg *segments // nil: not persisted
}

type item struct {
	spans []event.Span
	flush chan struct{} // closed once everything queued before it is applied and written
}

// trace is one trace's spans and the summary fields kept up to date as spans arrive.
type trace struct {
	id         string
	spans      []event.Span
	start, end time.Time
	root       int // index of the span without a parent, -1 when none arrived
	earliest   int
	errors     int
	services   []string    // in order of first arrival
	svcStart   []time.Time // each service's earliest span start
	gone       bool        // evicted
}

// OpenStore loads what Dir holds (a torn or corrupt tail is skipped with a warning) and starts the
// store's goroutine; Close stops it.
func OpenStore(o StoreOptions) (*Store, error) {
	if o.MaxSpans < 1 {
		return nil, errors.New("telemetry: MaxSpans must be at least 1")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		max:    o.MaxSpans,
		log:    o.Logger,
		dir:    o.Dir,
		in:     make(chan item, 4096),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		traces: map[string]*trace{},
	}
	if o.Dir != "" {
		seg, loaded, err := openSegments(o.Dir, o.MaxSpans, o.Logger)
		if err != nil {
			return nil, err
		}
		s.seg = seg
		for _, batch := range loaded {
			s.apply(batch)
		}
	}
	go s.run()
	return s, nil
}

// AddSpans queues spans for the store and returns at once; it is an event.SpanSink, safe for
// concurrent use. When the queue is full (or the store closed) the spans are dropped and counted.
func (s *Store) AddSpans(spans []event.Span) {
	if len(spans) == 0 {
		return
	}
	s.received.Add(uint64(len(spans)))
	n := int64(len(spans))
	if s.pending.Add(n) > queueSpans {
		s.pending.Add(-n)
		s.dropped.Add(uint64(n))
		return
	}
	select {
	case <-s.quit: // checked first: a closed store's queue is not read any more
		s.pending.Add(-n)
		s.dropped.Add(uint64(n))
		return
	default:
	}
	select {
	case s.in <- item{spans: spans}:
	default:
		s.pending.Add(-n)
		s.dropped.Add(uint64(n))
	}
}

// Ingest queues spans, waiting while the queue is full (the OTLP receiver's callers wait and retry
// rather than lose spans). It returns ctx's error or ErrClosed when the spans were not queued.
func (s *Store) Ingest(ctx context.Context, spans []event.Span) error {
	if len(spans) == 0 {
		return nil
	}
	s.received.Add(uint64(len(spans)))
	n := int64(len(spans))
	select {
	case <-s.quit:
		s.dropped.Add(uint64(n))
		return ErrClosed
	default:
	}
	s.pending.Add(n)
	select {
	case s.in <- item{spans: spans}:
		return nil
	case <-s.quit:
		s.pending.Add(-n)
		s.dropped.Add(uint64(n))
		return ErrClosed
	case <-ctx.Done():
		s.pending.Add(-n)
		s.dropped.Add(uint64(n))
		return context.Cause(ctx)
	}
}

// Flush returns once every span queued before it is in the store and written to disk (or ctx ends).
func (s *Store) Flush(ctx context.Context) error {
	f := make(chan struct{})
	select {
	case s.in <- item{flush: f}:
	case <-s.quit:
		return ErrClosed
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	select {
	case <-f:
		return nil
	case <-s.done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Close applies and writes what is queued, then stops the store. Queries keep working on what it
// holds; spans added later are dropped.
func (s *Store) Close() error {
	s.close.Do(func() {
		close(s.quit)
		<-s.done
		if s.seg != nil {
			s.cerr = s.seg.close()
		}
	})
	return s.cerr
}

func (s *Store) run() {
	defer close(s.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	handle := func(it item) {
		if it.spans != nil {
			s.pending.Add(-int64(len(it.spans)))
			s.apply(it.spans)
			if s.seg != nil {
				s.seg.append(it.spans)
			}
		}
		if it.flush != nil {
			if s.seg != nil {
				s.seg.flush()
			}
			close(it.flush)
		}
	}
	for {
		select {
		case it := <-s.in:
			handle(it)
			if len(s.in) == 0 && s.seg != nil && s.seg.dirty() > 4096 {
				s.seg.flush()
			}
		case <-tick.C:
			if s.seg != nil {
				s.seg.flush()
			}
		case <-s.quit:
			for {
				select {
				case it := <-s.in:
					handle(it)
				default:
					if s.seg != nil {
						s.seg.flush()
					}
					return
				}
			}
		}
	}
}

// apply adds spans to the index and evicts the oldest traces past the bound.
func (s *Store) apply(spans []event.Span) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range spans {
		sp := &spans[i]
		t := s.traces[sp.TraceID]
		if t == nil {
			t = &trace{id: sp.TraceID, root: -1}
			s.traces[sp.TraceID] = t
			s.order = append(s.order, t)
		}
		if len(t.spans) >= s.max { // one trace as big as the store: keep what it has
			s.dropped.Add(1)
			continue
		}
		sp.TraceID = t.id // the trace's spans share one copy of its id
		t.add(*sp)
		s.spans++
	}
	for s.spans > s.max && s.head < len(s.order) {
		t := s.order[s.head]
		s.order[s.head] = nil
		s.head++
		s.spans -= len(t.spans)
		s.evicted.Add(uint64(len(t.spans)))
		t.gone = true
		delete(s.traces, t.id)
	}
	if s.head > 1024 && s.head > len(s.order)/2 { // reclaim the evicted part of order
		s.order = append([]*trace(nil), s.order[s.head:]...)
		s.head = 0
	}
}

func (t *trace) add(sp event.Span) {
	i := len(t.spans)
	t.spans = append(t.spans, sp)
	if i == 0 || sp.Start.Before(t.start) {
		t.start, t.earliest = sp.Start, i
	}
	if i == 0 || sp.End.After(t.end) {
		t.end = sp.End
	}
	if sp.ParentID == "" && t.root < 0 {
		t.root = i
	}
	if sp.Status == "error" {
		t.errors++
	}
	j := slices.Index(t.services, sp.Service)
	switch {
	case j < 0:
		t.services = append(t.services, sp.Service)
		t.svcStart = append(t.svcStart, sp.Start)
	case sp.Start.Before(t.svcStart[j]):
		t.svcStart[j] = sp.Start
	}
}

func (t *trace) summary() event.TraceSummary {
	r := t.root
	if r < 0 {
		r = t.earliest
	}
	idx := make([]int, len(t.services))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return t.svcStart[a].Compare(t.svcStart[b]) })
	svcs := make([]string, len(idx))
	for i, j := range idx {
		svcs[i] = t.services[j]
	}
	return event.TraceSummary{
		TraceID:     t.id,
		RootService: t.spans[r].Service,
		RootName:    t.spans[r].Name,
		Start:       t.start,
		Duration:    t.end.Sub(t.start),
		Services:    svcs,
		Spans:       len(t.spans),
		Errors:      t.errors,
	}
}

// Traces returns the summaries of the traces q selects, newest (latest start) first.
func (s *Store) Traces(q event.TraceQuery) []event.TraceSummary {
	s.mu.RLock()
	out := make([]event.TraceSummary, 0, min(len(s.traces), 1024))
	for _, t := range s.order[s.head:] {
		switch {
		case q.Service != "" && !slices.Contains(t.services, q.Service),
			q.Status == "error" && t.errors == 0,
			q.Status == "ok" && t.errors > 0,
			q.MinDuration > 0 && t.end.Sub(t.start) < q.MinDuration:
			continue
		}
		out = append(out, t.summary())
	}
	s.mu.RUnlock()
	slices.SortStableFunc(out, func(a, b event.TraceSummary) int {
		if c := b.Start.Compare(a.Start); c != 0 {
			return c
		}
		return cmp.Compare(a.TraceID, b.TraceID)
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out
}

// Trace returns a trace's spans in order of their start; ok is false when the store does not keep it.
func (s *Store) Trace(traceID string) (spans []event.Span, ok bool) {
	s.mu.RLock()
	t := s.traces[traceID]
	if t != nil {
		spans = slices.Clone(t.spans)
	}
	s.mu.RUnlock()
	if t == nil {
		return nil, false
	}
	slices.SortStableFunc(spans, func(a, b event.Span) int { return a.Start.Compare(b.Start) })
	return spans, true
}

// Len returns how many spans and traces the store keeps.
func (s *Store) Len() (spans, traces int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.spans, len(s.traces)
}

// Dropped returns how many spans were not kept: the queue was full, the store closed, or a trace
// outgrew the store (evictions of whole old traces are not counted here).
func (s *Store) Dropped() uint64 { return s.dropped.Load() }
