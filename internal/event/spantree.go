package event

import (
	"fmt"
	"slices"
	"time"
)

// SpanRow is one row of a trace's waterfall (see Waterfall).
type SpanRow struct {
	Index int // the span's index in the slice given to Waterfall
	Depth int // 0 for a root (or an orphan), 1 for its children, …
	// Orphan says the span names a parent that is not among the spans (not received, or dropped by
	// a bounded store): it is shown at the root rather than lost.
	Orphan bool
}

// Waterfall orders a trace's spans as a tree by ParentID, the way the TUI and `devstack traces show`
// draw it: every span right after its parent and its parent's earlier children, siblings by start
// time. Roots and orphans (parent missing) are at depth 0, by start time. Every span appears exactly
// once, even with a duplicate span id or a parent cycle (those are shown at the root, as orphans).
func Waterfall(spans []Span) []SpanRow {
	byID := make(map[string]int, len(spans))
	for i, s := range spans {
		if _, dup := byID[s.SpanID]; !dup {
			byID[s.SpanID] = i
		}
	}
	children := make(map[int][]int, len(spans))
	var roots []int
	orphan := make([]bool, len(spans))
	for i, s := range spans {
		p, ok := byID[s.ParentID]
		switch {
		case s.ParentID == "":
			roots = append(roots, i)
		case !ok || p == i:
			roots = append(roots, i)
			orphan[i] = true
		default:
			children[p] = append(children[p], i)
		}
	}
	byStart := func(a, b int) int {
		if c := spans[a].Start.Compare(spans[b].Start); c != 0 {
			return c
		}
		return a - b
	}
	slices.SortFunc(roots, byStart)
	for _, c := range children {
		slices.SortFunc(c, byStart)
	}
	rows := make([]SpanRow, 0, len(spans))
	seen := make([]bool, len(spans))
	var walk func(i, depth int)
	walk = func(i, depth int) {
		seen[i] = true
		rows = append(rows, SpanRow{Index: i, Depth: depth, Orphan: orphan[i]})
		for _, c := range children[i] {
			if !seen[c] {
				walk(c, depth+1)
			}
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	// spans in a parent cycle are reachable from no root: show each cycle from its earliest span
	var rest []int
	for i := range spans {
		if !seen[i] {
			rest = append(rest, i)
		}
	}
	slices.SortFunc(rest, byStart)
	for _, i := range rest {
		if !seen[i] {
			orphan[i] = true
			walk(i, 0)
		}
	}
	return rows
}

// TraceBounds is the earliest start and the latest end of spans (zero times for none).
func TraceBounds(spans []Span) (start, end time.Time) {
	for i, s := range spans {
		if i == 0 || s.Start.Before(start) {
			start = s.Start
		}
		if i == 0 || s.End.After(end) {
			end = s.End
		}
	}
	return start, end
}

// BarCells places sp on a time axis of width cells spanning total from start, as the waterfalls draw
// it: the first cell and how many (at least one, never past the axis; the whole axis when total is 0).
// width must be positive.
func BarCells(sp Span, start time.Time, total time.Duration, width int) (from, n int) {
	from, n = 0, width
	if total > 0 {
		from = int(float64(sp.Start.Sub(start)) / float64(total) * float64(width))
		to := int(float64(sp.End.Sub(start))/float64(total)*float64(width) + 0.5)
		from = min(max(from, 0), width-1)
		n = min(max(to-from, 1), width-from)
	}
	return from, n
}

// ShortDuration prints a positive duration in a few characters: 0.30ms, 4.0ms, 48ms, 1.20s. What a
// zero or negative one shows is the caller's to say.
func ShortDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
