package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// span makes a span of trace n (ids derived from n and i); parent "" for a root.
func span(n, i int, parent, service, name string, start, dur time.Duration) event.Span {
	return event.Span{TraceID: fmt.Sprintf("%032x", n+1), SpanID: fmt.Sprintf("%016x", (n+1)<<16|i+1), ParentID: parent,
		Service: service, Name: name, Start: t0.Add(start), End: t0.Add(start + dur)}
}

func tid(n int) string { return fmt.Sprintf("%032x", n+1) }

func openStore(t *testing.T, o StoreOptions) *Store {
	t.Helper()
	st, err := OpenStore(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func flush(t *testing.T, st *Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := st.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// Summaries: the root is the span without a parent (else the earliest), services in order of their first
// span, errors counted; the list is newest first and filtered by service, status and duration.
func TestStoreSummariesAndQueries(t *testing.T) {
	st := openStore(t, StoreOptions{MaxSpans: 100})
	// trace 0: gateway root, users child, broker with an error; arrives child first
	users := span(0, 1, "", "users", "POST /orders", 2*time.Millisecond, 50*time.Millisecond)
	root := span(0, 0, "", "gateway", "POST /api/orders", 0, 60*time.Millisecond)
	users.ParentID = root.SpanID
	broker := span(0, 2, users.SpanID, "broker", "orders.placed publish", 10*time.Millisecond, time.Millisecond)
	broker.Status = "error"
	st.AddSpans([]event.Span{users, broker})
	st.AddSpans([]event.Span{root})
	// trace 1: no root arrived (its parent is elsewhere): the earliest span stands in; later, short, ok
	a := span(1, 0, "ffffffffffffffff", "scorer", "orders.placed process", time.Second+5*time.Millisecond, time.Millisecond)
	b := span(1, 1, "ffffffffffffffff", "analytics", "orders.scored process", time.Second, 2*time.Millisecond)
	st.AddSpans([]event.Span{a, b})
	flush(t, st)

	all := st.Traces(event.TraceQuery{})
	if len(all) != 2 || all[0].TraceID != tid(1) || all[1].TraceID != tid(0) {
		t.Fatalf("traces %+v, want trace 1 (newer) then trace 0", all)
	}
	want0 := event.TraceSummary{TraceID: tid(0), RootService: "gateway", RootName: "POST /api/orders", Start: t0,
		Duration: 60 * time.Millisecond, Services: []string{"gateway", "users", "broker"}, Spans: 3, Errors: 1}
	if got := all[1]; !equalSummary(got, want0) {
		t.Errorf("trace 0\n got %+v\nwant %+v", got, want0)
	}
	want1 := event.TraceSummary{TraceID: tid(1), RootService: "analytics", RootName: "orders.scored process", Start: t0.Add(time.Second),
		Duration: 6 * time.Millisecond, Services: []string{"analytics", "scorer"}, Spans: 2}
	if got := all[0]; !equalSummary(got, want1) {
		t.Errorf("trace 1\n got %+v\nwant %+v", got, want1)
	}

	for _, tc := range []struct {
		q    event.TraceQuery
		want []string
	}{
		{event.TraceQuery{Service: "users"}, []string{tid(0)}},
		{event.TraceQuery{Service: "nobody"}, nil},
		{event.TraceQuery{Status: "error"}, []string{tid(0)}},
		{event.TraceQuery{Status: "ok"}, []string{tid(1)}},
		{event.TraceQuery{MinDuration: 10 * time.Millisecond}, []string{tid(0)}},
		{event.TraceQuery{Limit: 1}, []string{tid(1)}},
	} {
		var got []string
		for _, s := range st.Traces(tc.q) {
			got = append(got, s.TraceID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Traces(%+v) = %v, want %v", tc.q, got, tc.want)
		}
	}

	spans, ok := st.Trace(tid(0))
	if !ok || len(spans) != 3 || spans[0].Name != "POST /api/orders" || spans[2].Name != "orders.placed publish" {
		t.Errorf("Trace(0) = %+v, want the three spans by start", spans)
	}
	if _, ok := st.Trace(tid(5)); ok {
		t.Error("an unknown trace was found")
	}
}

func equalSummary(a, b event.TraceSummary) bool {
	return a.TraceID == b.TraceID && a.RootService == b.RootService && a.RootName == b.RootName && a.Start.Equal(b.Start) &&
		a.Duration == b.Duration && slices.Equal(a.Services, b.Services) && a.Spans == b.Spans && a.Errors == b.Errors
}

// Past MaxSpans the oldest traces go, whole: no trace is left with part of its spans.
func TestStoreEvictsOldestTracesWhole(t *testing.T) {
	st := openStore(t, StoreOptions{MaxSpans: 10})
	for n := range 6 { // 6 traces of 3 spans: only 3 fit
		st.AddSpans([]event.Span{span(n, 0, "", "a", "x", time.Duration(n)*time.Second, 1), span(n, 1, "", "a", "y", 0, 1), span(n, 2, "", "a", "z", 0, 1)})
	}
	flush(t, st)
	spans, traces := st.Len()
	if spans != 9 || traces != 3 {
		t.Errorf("kept %d spans in %d traces, want 9 in 3", spans, traces)
	}
	for n := range 6 {
		got, ok := st.Trace(tid(n))
		if n < 3 && ok {
			t.Errorf("trace %d (among the oldest) kept: %d spans", n, len(got))
		}
		if n >= 3 && (!ok || len(got) != 3) {
			t.Errorf("trace %d (among the newest) has %d spans, want 3", n, len(got))
		}
	}
	if st.evicted.Load() != 9 {
		t.Errorf("evicted %d spans, want 9", st.evicted.Load())
	}
	// one trace bigger than the store keeps its first MaxSpans spans and drops the rest (counted)
	big := make([]event.Span, 15)
	for i := range big {
		big[i] = span(100, i, "", "a", "big", 0, 1)
	}
	st.AddSpans(big)
	flush(t, st)
	if got, _ := st.Trace(tid(100)); len(got) != 10 {
		t.Errorf("a trace of 15 spans keeps %d, want 10", len(got))
	}
	if d := st.dropped.Load(); d != 5 {
		t.Errorf("dropped %d, want 5", d)
	}
}

// AddSpans never blocks: from many goroutines at once, with queries running, after Close too.
func TestStoreAddSpansConcurrent(t *testing.T) {
	st := openStore(t, StoreOptions{MaxSpans: 1000, Dir: t.TempDir()})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				st.AddSpans([]event.Span{span(g*1000+i, 0, "", "gateway", "GET /", 0, 1)})
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			st.Traces(event.TraceQuery{Limit: 10})
		}
	})
	wg.Wait()
	flush(t, st)
	spans, _ := st.Len()
	if spans != 1000 || st.received.Load() != 4000 {
		t.Errorf("kept %d spans of %d received; want 1000 of 4000", spans, st.received.Load())
	}
	st.Close()
	done := make(chan struct{})
	go func() { st.AddSpans([]event.Span{span(9999, 0, "", "a", "late", 0, 1)}); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("AddSpans blocked after Close")
	}
	if st.dropped.Load() == 0 {
		t.Error("a span added after Close was not counted as dropped")
	}
}

// Spans written to Dir are there after a restart; a line torn by a kill is skipped with a warning
// and the spans before it kept; the disk keeps about MaxSpans spans.
func TestStorePersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "traces")
	st, err := OpenStore(StoreOptions{MaxSpans: 100, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for n := range 10 {
		s := span(n, 0, "", "users", fmt.Sprintf("op %d", n), time.Duration(n)*time.Second, time.Millisecond)
		s.Attrs = map[string]string{"n": fmt.Sprint(n)}
		s.Events = []event.SpanEvent{{Time: s.Start, Name: "e"}}
		st.AddSpans([]event.Span{s})
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// a kill -9 mid-write: half a line at the end of the last segment
	segs, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	if len(segs) == 0 {
		t.Fatal("nothing written to", dir)
	}
	f, err := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"trace_id":"0000000000000000000000000000000b","span_id":"00`)
	f.Close()

	var logs bytes.Buffer
	st2, err := OpenStore(StoreOptions{MaxSpans: 100, Dir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("a torn tail failed the start: %v", err)
	}
	if !strings.Contains(logs.String(), "corrupt tail") {
		t.Errorf("no warning about the torn line; logged %q", logs.String())
	}
	spans, traces := st2.Len()
	if spans != 10 || traces != 10 {
		t.Errorf("after a restart: %d spans in %d traces, want 10 in 10", spans, traces)
	}
	got, ok := st2.Trace(tid(3))
	if !ok || got[0].Name != "op 3" || got[0].Attrs["n"] != "3" || len(got[0].Events) != 1 || !got[0].Start.Equal(t0.Add(3*time.Second)) {
		t.Errorf("trace 3 after a restart: %+v", got)
	}
	// new spans after the torn segment are written and read back too
	st2.AddSpans([]event.Span{span(20, 0, "", "users", "after", 0, 1)})
	if err := st2.Close(); err != nil {
		t.Fatal(err)
	}
	st3 := openStore(t, StoreOptions{MaxSpans: 100, Dir: dir})
	if spans, _ := st3.Len(); spans != 11 {
		t.Errorf("after a second restart: %d spans, want 11", spans)
	}
	st3.Close()

	// bounded on disk: many more spans than MaxSpans leave at most keepSegments segments
	st4 := openStore(t, StoreOptions{MaxSpans: 100, Dir: dir})
	for n := range 1000 {
		st4.AddSpans([]event.Span{span(1000+n, 0, "", "users", "many", 0, 1)})
	}
	st4.Close()
	segs, _ = filepath.Glob(filepath.Join(dir, "*.ndjson"))
	if len(segs) > keepSegments {
		t.Errorf("%d segments on disk, want at most %d", len(segs), keepSegments)
	}
	st5 := openStore(t, StoreOptions{MaxSpans: 100, Dir: dir})
	if spans, _ := st5.Len(); spans != 100 {
		t.Errorf("after many spans and a restart: %d spans, want 100 (the bound)", spans)
	}
	if _, ok := st5.Trace(tid(1999)); !ok {
		t.Error("the newest trace is not among those reloaded")
	}
	// restarts with nothing new do not push the saved spans out
	for range keepSegments + 1 {
		openStore(t, StoreOptions{MaxSpans: 100, Dir: dir}).Close()
	}
	if spans, _ := openStore(t, StoreOptions{MaxSpans: 100, Dir: dir}).Len(); spans != 100 {
		t.Errorf("after idle restarts: %d spans, want 100", spans)
	}
}

// A Dir that cannot be created fails the start with the reason.
func TestStoreDirUnusable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o600)
	if _, err := OpenStore(StoreOptions{MaxSpans: 10, Dir: filepath.Join(file, "traces")}); err == nil || !strings.Contains(err.Error(), "traces") {
		t.Errorf("OpenStore under a file: %v, want an error naming the dir", err)
	}
}

// The segment encoder writes what encoding/json reads back as the same span, whatever the strings hold.
func TestAppendSpanJSONRoundTrips(t *testing.T) {
	full := event.Span{TraceID: tid(1), SpanID: "0102030405060708", ParentID: "1112131415161718", Service: "users", Instance: "users-0",
		Name: "POST \"/orders\"\n\\", Kind: "server", Start: t0, End: t0.Add(1500 * time.Microsecond), Status: "error", StatusMessage: "boom\t\x01\x7f",
		Attrs:  map[string]string{"a": "1", "ü€😀": "<b>&</b>", "bad\xffutf8": "\xfe", "line\u2028sep": ""},
		Events: []event.SpanEvent{{Time: t0.Add(time.Millisecond), Name: "exception", Attrs: map[string]string{"exception.message": "x"}}, {Time: t0, Name: "bare"}},
		Links:  []event.SpanLink{{TraceID: tid(2), SpanID: "0000000000000009", Attrs: map[string]string{"k": "v"}}, {TraceID: tid(3), SpanID: "000000000000000a"}}}
	for _, s := range []event.Span{full, {TraceID: tid(0), SpanID: "0000000000000001", Start: time.Unix(0, 1).In(time.FixedZone("x", 3600))}} {
		line := appendSpanJSON(nil, &s)
		if line[len(line)-1] != '\n' || bytes.Count(line, []byte("\n")) != 1 {
			t.Errorf("not one line: %q", line)
		}
		var got, want event.Span
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("%q does not decode: %v", line, err)
		}
		std, _ := json.Marshal(s)
		json.Unmarshal(std, &want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip\n got %+v\nwant %+v\nline %s", got, want, line)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\\n\r\t\x00\x1f", "ü€😀", "\xff\xfe", "a\u2028b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got, want string
		if err := json.Unmarshal(appendJSONString(nil, s), &got); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		std, _ := json.Marshal(s)
		json.Unmarshal(std, &want)
		if got != want {
			t.Errorf("%q: got %q, encoding/json %q", s, got, want)
		}
	})
}
