package event

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestWaterfall: the tree order of a trace's spans, with the cases a bounded store and buggy SDKs
// produce (a missing parent, a duplicate id, a parent cycle).
func TestWaterfall(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	sp := func(id, parent string, startMs int) Span {
		return Span{SpanID: id, ParentID: parent, Name: id, Start: t0.Add(time.Duration(startMs) * time.Millisecond)}
	}
	for _, tc := range []struct {
		name  string
		spans []Span
		want  string // rows as "name/depth", orphans with a trailing ?
	}{
		{"empty", nil, ""},
		{"one root", []Span{sp("a", "", 0)}, "a/0"},
		{"children by start, after their parent", []Span{sp("c2", "a", 5), sp("a", "", 0), sp("c1", "a", 1), sp("g", "c1", 2)},
			"a/0 c1/1 g/2 c2/1"},
		{"orphan at the root, by start", []Span{sp("a", "", 10), sp("o", "missing", 0), sp("oc", "o", 1)},
			"o/0? oc/1 a/0"},
		{"self parent", []Span{sp("s", "s", 0)}, "s/0?"},
		{"cycle", []Span{sp("x", "y", 1), sp("y", "x", 0), sp("r", "", 5)}, "r/0 y/0? x/1"},
		{"duplicate id kept once as parent, both shown", []Span{sp("a", "", 0), sp("a", "", 1), sp("c", "a", 2)}, "a/0 c/1 a/0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range Waterfall(tc.spans) {
				s := fmt.Sprintf("%s/%d", tc.spans[r.Index].Name, r.Depth)
				if r.Orphan {
					s += "?"
				}
				got = append(got, s)
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("Waterfall = %q, want %q", g, tc.want)
			}
		})
	}
}

func TestTraceBounds(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	s, e := TraceBounds([]Span{{Start: t0.Add(time.Second), End: t0.Add(2 * time.Second)}, {Start: t0, End: t0.Add(time.Second)}, {Start: t0.Add(time.Second), End: t0.Add(3 * time.Second)}})
	if !s.Equal(t0) || !e.Equal(t0.Add(3*time.Second)) {
		t.Errorf("TraceBounds = %v, %v", s, e)
	}
	if s, e := TraceBounds(nil); !s.IsZero() || !e.IsZero() {
		t.Errorf("TraceBounds(nil) = %v, %v", s, e)
	}
}

func TestBarCells(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	for _, tc := range []struct {
		from, to, total time.Duration
		width           int
		wantFrom, wantN int
	}{
		{0, 100 * ms, 100 * ms, 10, 0, 10},
		{50 * ms, 60 * ms, 100 * ms, 10, 5, 1},
		{0, 15 * ms, 100 * ms, 10, 0, 2},         // the end rounds to the nearest cell
		{99 * ms, 99 * ms, 100 * ms, 10, 9, 1},   // instant: one cell
		{100 * ms, 100 * ms, 100 * ms, 10, 9, 1}, // at the very end
		{-5 * ms, 20 * ms, 100 * ms, 10, 0, 2},   // starts before the axis
		{0, 0, 0, 4, 0, 4},                       // a trace of one instant span
	} {
		from, n := BarCells(Span{Start: t0.Add(tc.from), End: t0.Add(tc.to)}, t0, tc.total, tc.width)
		if from != tc.wantFrom || n != tc.wantN {
			t.Errorf("BarCells(%v..%v of %v, %d) = %d, %d; want %d, %d", tc.from, tc.to, tc.total, tc.width, from, n, tc.wantFrom, tc.wantN)
		}
	}
}

func TestShortDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{300 * time.Microsecond, "0.30ms"},
		{4 * time.Millisecond, "4.0ms"},
		{48 * time.Millisecond, "48ms"},
		{1200 * time.Millisecond, "1.20s"},
		{90 * time.Second, "90.00s"},
	} {
		if got := ShortDuration(tc.d); got != tc.want {
			t.Errorf("ShortDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
