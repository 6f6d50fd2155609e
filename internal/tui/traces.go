package tui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
)

// The Traces view: the stack's recent traces (polled from Controller.Traces every second while the
// view is on screen), filtered by service, status and minimum duration; enter opens one trace's
// waterfall (Controller.Trace, polled too, so spans that arrive late show up), whose selected span's
// attributes, events and links are shown below it. The Logs, Messages and Gateway views open a
// waterfall directly with the jump key (T).

const tracesLimit = 500 // traces the list asks for

// minDurations are the steps the d key cycles the minimum duration filter through.
var minDurations = []time.Duration{0, time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, time.Second}

type tracesState struct {
	list        []event.TraceSummary
	loaded      bool   // a list arrived for the current query
	err         string // the last list call's error ("" when it worked)
	noTelemetry bool   // the stack runs no OTLP receiver
	cursor      int
	offset      int
	seen        []string // services seen in traces, for the service filter

	service string // filters: "" for any
	status  string // "", "error", "ok"
	minDur  time.Duration

	wf waterfall
}

// waterfall is one open trace.
type waterfall struct {
	id       string // "" while the list is shown
	back     tab    // the view the jump came from (esc returns there)
	jumped   bool
	spans    []event.Span
	rows     []event.SpanRow
	start    time.Time
	end      time.Time
	loaded   bool
	err      string
	notFound bool
	cursor   int
	offset   int
	expanded bool // the selected span's details fill the view
	scroll   int  // first detail line shown when expanded
}

type (
	tracesMsg struct {
		q      event.TraceQuery
		traces []event.TraceSummary
		err    error
	}
	traceMsg struct {
		id    string
		spans []event.Span
		err   error
	}
)

func fetchTraces(ctx context.Context, c control.Controller, q event.TraceQuery) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		ts, err := c.Traces(ctx, q)
		return tracesMsg{q: q, traces: ts, err: err}
	}
}

func fetchTrace(ctx context.Context, c control.Controller, id string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		spans, err := c.Trace(ctx, id)
		return traceMsg{id: id, spans: spans, err: err}
	}
}

func (t *tracesState) query() event.TraceQuery {
	return event.TraceQuery{Service: t.service, Status: t.status, MinDuration: t.minDur, Limit: tracesLimit}
}

// applyTraces takes a polled list; a list for an older filter is dropped and asked again.
func (m *Model) applyTraces(msg tracesMsg) (tea.Cmd, bool) {
	m.fetching["traces"] = false
	t := &m.traces
	if msg.q != t.query() {
		if m.tab == tabTraces && t.wf.id == "" {
			return m.fetch("traces"), false
		}
		return nil, false
	}
	t.noTelemetry = errors.Is(msg.err, control.ErrNoTelemetry)
	if msg.err != nil {
		t.err = msg.err.Error()
		return nil, m.tab == tabTraces
	}
	sel := ""
	if t.cursor < len(t.list) {
		sel = t.list[t.cursor].TraceID
	}
	t.err, t.loaded, t.list = "", true, msg.traces
	for _, ts := range t.list {
		for _, s := range ts.Services {
			if !slices.Contains(t.seen, s) {
				t.seen = append(t.seen, s)
			}
		}
	}
	// the selection stays on its trace as newer ones arrive on top
	if i := slices.IndexFunc(t.list, func(ts event.TraceSummary) bool { return ts.TraceID == sel }); i >= 0 {
		t.cursor = i
	}
	t.cursor = clampCursor(t.cursor, len(t.list))
	return nil, m.tab == tabTraces
}

// applyTrace takes a polled trace for the waterfall.
func (m *Model) applyTrace(msg traceMsg) (tea.Cmd, bool) {
	m.fetching["trace"] = false
	w := &m.traces.wf
	if msg.id != w.id {
		if w.id != "" && m.tab == tabTraces {
			return m.fetch("trace"), false
		}
		return nil, false
	}
	w.notFound = errors.Is(msg.err, control.ErrNotFound)
	m.traces.noTelemetry = errors.Is(msg.err, control.ErrNoTelemetry)
	if msg.err != nil {
		w.err = msg.err.Error()
		return nil, m.tab == tabTraces
	}
	sel := ""
	if w.cursor < len(w.rows) {
		sel = w.spans[w.rows[w.cursor].Index].SpanID
	}
	w.err, w.loaded, w.spans = "", true, msg.spans
	w.rows = event.Waterfall(w.spans)
	w.start, w.end = event.TraceBounds(w.spans)
	if i := slices.IndexFunc(w.rows, func(r event.SpanRow) bool { return w.spans[r.Index].SpanID == sel }); i >= 0 {
		w.cursor = i
	}
	w.cursor = clampCursor(w.cursor, len(w.rows))
	return nil, m.tab == tabTraces
}

// openTrace shows the waterfall of trace id; from is the view the user jumped from.
func (m *Model) openTrace(id string, from tab) tea.Cmd {
	m.traces.wf = waterfall{id: id, back: from, jumped: from != tabTraces}
	if m.tab == tabTraces {
		return m.fetch("trace")
	}
	return m.switchTab(tabTraces)
}

// closeTrace goes back from the waterfall: to the view the jump came from, else to the list.
func (m *Model) closeTrace() tea.Cmd {
	w := m.traces.wf
	m.traces.wf = waterfall{}
	if w.jumped {
		return m.switchTab(w.back)
	}
	return m.fetch("traces")
}

// jumpToTrace opens trace id from the current view, or says why there is none.
func (m *Model) jumpToTrace(id, none string) tea.Cmd {
	if id == "" {
		return m.setFlash(none, true)
	}
	return m.openTrace(id, m.tab)
}

// serviceChoices are the values the service filter cycles through: every service of the stack and
// every service seen in a trace ("gateway", "broker"), after "" (any).
func (m *Model) serviceChoices() []string {
	out := []string{""}
	for _, s := range m.state.Services {
		out = append(out, s.Name)
	}
	seen := slices.Clone(m.traces.seen)
	sort.Strings(seen)
	for _, s := range seen {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func (m *Model) tracesKey(msg tea.KeyMsg) tea.Cmd {
	t := &m.traces
	k := m.keys
	if t.wf.id != "" {
		return m.waterfallKey(msg)
	}
	if k.moveCursor(msg, &t.cursor, len(t.list)) {
		return nil
	}
	refilter := func() tea.Cmd {
		t.loaded, t.cursor, t.offset = false, 0, 0
		return m.fetch("traces")
	}
	switch {
	case key.Matches(msg, k.OpenTrace):
		if t.cursor < len(t.list) {
			return m.openTrace(t.list[t.cursor].TraceID, tabTraces)
		}
	case key.Matches(msg, k.TraceService):
		ch := m.serviceChoices()
		t.service = ch[(slices.Index(ch, t.service)+1)%len(ch)]
		return refilter()
	case key.Matches(msg, k.TraceStatus):
		t.status = map[string]string{"": "error", "error": "ok", "ok": ""}[t.status]
		return refilter()
	case key.Matches(msg, k.TraceMinDur):
		i := slices.Index(minDurations, t.minDur)
		t.minDur = minDurations[(i+1)%len(minDurations)]
		return refilter()
	case key.Matches(msg, k.TraceAll):
		if t.service != "" || t.status != "" || t.minDur != 0 {
			t.service, t.status, t.minDur = "", "", 0
			return refilter()
		}
	}
	return nil
}

func (m *Model) waterfallKey(msg tea.KeyMsg) tea.Cmd {
	w := &m.traces.wf
	k := m.keys
	switch {
	case msg.Type == tea.KeyEsc || key.Matches(msg, k.Back):
		if w.expanded {
			w.expanded = false
			return nil
		}
		return m.closeTrace()
	case key.Matches(msg, k.SpanDetail):
		w.expanded, w.scroll = !w.expanded, 0
		return nil
	}
	if w.expanded {
		switch {
		case key.Matches(msg, k.Up):
			w.scroll = max(w.scroll-1, 0)
		case key.Matches(msg, k.Down):
			w.scroll++ // clamped when drawn
		case key.Matches(msg, k.PgUp):
			w.scroll = max(w.scroll-10, 0)
		case key.Matches(msg, k.PgDown):
			w.scroll += 10
		case key.Matches(msg, k.Top):
			w.scroll = 0
		}
		return nil
	}
	k.moveCursor(msg, &w.cursor, len(w.rows))
	return nil
}

func (m *Model) tracesView(w, h int) string {
	if m.traces.wf.id != "" {
		return m.waterfallView(w, h)
	}
	t := &m.traces
	s := m.st
	any := func(v string) string {
		if v == "" {
			return "any"
		}
		return v
	}
	dur := "any"
	if t.minDur > 0 {
		dur = "≥ " + latency(t.minDur)
	}
	parts := []string{
		s.bold.Render("service: ") + s.accent.Render(any(t.service)),
		s.bold.Render("status: ") + s.accent.Render(any(t.status)),
		s.bold.Render("duration: ") + s.accent.Render(dur),
	}
	if t.loaded {
		parts = append(parts, s.dim.Render(plural(len(t.list), "trace")))
	}
	lines := []string{trunc(" "+strings.Join(parts, s.dim.Render(" │ ")), w)}
	switch {
	case t.noTelemetry:
		return strings.Join(append(lines, m.noTelemetryLines()...), "\n")
	case t.err != "":
		lines = append(lines, s.err.Render(" traces: "+t.err))
		if !t.loaded {
			return strings.Join(lines, "\n")
		}
	case !t.loaded:
		return strings.Join(append(lines, s.dim.Render(" loading traces…")), "\n")
	}
	if len(t.list) == 0 {
		msg := " no traces yet: they appear when a request goes through the gateway or a service sends spans"
		if t.service != "" || t.status != "" || t.minDur > 0 {
			msg = " no trace matches the filter (a clears it)"
		}
		return strings.Join(append(lines, s.dim.Render(msg)), "\n")
	}
	titles := []string{"TIME", "ROOT", "DURATION", "SPANS", "ERR", "SERVICES"}
	widths := tableLayout(w, []int{12, 12, 8, 5, 3, 10}, []int{0, 3, 0, 0, 0, 2}, 10)
	right := map[int]bool{2: true, 3: true}
	lines = append(lines, " "+renderCells(titles, widths, headerStyles(m, len(titles)), right))

	detailH := min(max(h/4, 3), 5)
	bodyH := max(h-len(lines)-detailH-1, 3)
	t.offset = scrollOffset(t.offset, t.cursor, bodyH, len(t.list))
	for i := t.offset; i < len(t.list) && i < t.offset+bodyH; i++ {
		ts := t.list[i]
		errs := ""
		if ts.Errors > 0 {
			errs = fmt.Sprintf("✗%d", ts.Errors)
		}
		cells := []string{m.fmtTime(ts.Start, "15:04:05.000"), strings.TrimSpace(ts.RootService + " " + ts.RootName),
			latency(ts.Duration), count(int64(ts.Spans)), errs, strings.Join(ts.Services, " ")}
		st := []func(string) string{nil, nil, nil, nil, func(c string) string { return s.err.Render(c) }}
		lines = append(lines, m.row(renderCells(cells, widths, st, right), i == t.cursor, w))
	}
	for len(lines) < h-detailH {
		lines = append(lines, "")
	}
	lines = append(lines, s.border.Render(strings.Repeat("─", w)))
	if t.cursor < len(t.list) {
		ts := t.list[t.cursor]
		d := []string{
			s.bold.Render(" "+strings.TrimSpace(ts.RootService+" "+ts.RootName)) + s.dim.Render("  (enter: waterfall)"),
			fmt.Sprintf(" trace %s  started %s  %s  %s", ts.TraceID, m.fmtTime(ts.Start, "15:04:05.000"), latency(ts.Duration), plural(ts.Spans, "span")),
			" services: " + strings.Join(ts.Services, " → "),
		}
		if ts.Errors > 0 {
			d = append(d, s.err.Render(fmt.Sprintf(" %s with status error", plural(ts.Errors, "span"))))
		}
		for _, l := range d {
			lines = append(lines, trunc(l, w))
		}
	}
	return strings.Join(lines, "\n")
}

// noTelemetryLines say why there are no traces and how to get them.
func (m *Model) noTelemetryLines() []string {
	s := m.st
	return []string{
		"",
		s.warn.Render(" No telemetry: this stack runs no OTLP receiver, so it keeps no traces."),
		"",
		" Turn it on in devstack.yaml and restart `devstack up`:",
		"",
		s.accent.Render("   telemetry:"),
		s.accent.Render("     enabled: true"),
		"",
		s.dim.Render(" Services then get OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_SERVICE_NAME:"),
		s.dim.Render(" a stock OpenTelemetry SDK sends its spans to devstack, and the gateway"),
		s.dim.Render(" and the broker add their own."),
	}
}

func (m *Model) waterfallView(w, h int) string {
	wf := &m.traces.wf
	s := m.st
	head := s.bold.Render(" trace " + wf.id)
	if wf.loaded && len(wf.spans) > 0 {
		root := wf.spans[wf.rows[0].Index]
		svcs := []string{}
		for _, r := range wf.rows {
			if sv := wf.spans[r.Index].Service; !slices.Contains(svcs, sv) {
				svcs = append(svcs, sv)
			}
		}
		head += s.dim.Render(fmt.Sprintf("  %s  %s  %s %s  %s", latency(wf.end.Sub(wf.start)), plural(len(wf.spans), "span"),
			root.Service, root.Name, strings.Join(svcs, " ")))
	}
	lines := []string{trunc(head, w)}
	switch {
	case m.traces.noTelemetry:
		return strings.Join(append(lines, m.noTelemetryLines()...), "\n")
	case wf.notFound:
		lines = append(lines, "", s.warn.Render(" This trace is not kept: its spans have not arrived (yet), or the store dropped them."),
			s.dim.Render(" Still looking every second; esc goes back."))
		return strings.Join(lines, "\n")
	case wf.err != "" && !wf.loaded:
		return strings.Join(append(lines, s.err.Render(" trace: "+wf.err)), "\n")
	case !wf.loaded:
		return strings.Join(append(lines, s.dim.Render(" loading trace…")), "\n")
	case len(wf.rows) == 0:
		return strings.Join(append(lines, s.dim.Render(" this trace has no spans")), "\n")
	}
	if wf.err != "" {
		lines = append(lines, s.err.Render(" trace: "+wf.err))
	}
	if wf.expanded {
		det := m.spanDetail(wf.spans[wf.rows[wf.cursor].Index], w, true)
		bodyH := max(h-len(lines), 1)
		wf.scroll = min(wf.scroll, max(len(det)-bodyH, 0))
		end := min(wf.scroll+bodyH, len(det))
		return strings.Join(append(lines, det[wf.scroll:end]...), "\n")
	}
	nameW := min(max(w*2/5, 16), 60)
	durW := 8
	barW := max(w-nameW-durW-4, 4)
	lines = append(lines, " "+s.header.Render(fit("SPAN", nameW))+" "+s.header.Render(fitRight("DURATION", durW))+" "+
		s.header.Render(fit("0"+strings.Repeat(" ", max(barW-1-len(latency(wf.end.Sub(wf.start))), 1))+latency(wf.end.Sub(wf.start)), barW)))

	detailH := min(max(h*2/5, 5), 16)
	bodyH := max(h-len(lines)-detailH-1, 3)
	wf.offset = scrollOffset(wf.offset, wf.cursor, bodyH, len(wf.rows))
	total := wf.end.Sub(wf.start)
	for i := wf.offset; i < len(wf.rows) && i < wf.offset+bodyH; i++ {
		r := wf.rows[i]
		sp := wf.spans[r.Index]
		mark := ""
		switch {
		case sp.Status == "error":
			mark = s.err.Render("✗ ")
		case r.Orphan:
			mark = s.warn.Render("? ")
		}
		name := strings.Repeat("  ", min(r.Depth, 12)) + mark + s.source(sp.Service).Render(sp.Service) + " " + oneLine(sp.Name)
		bar := spanBar(sp, wf.start, total, barW)
		barSt := s.source(sp.Service)
		if sp.Status == "error" {
			barSt = s.err
		}
		line := fit(name, nameW) + " " + fitRight(latency(sp.Duration()), durW) + " " + barSt.Render(bar)
		lines = append(lines, m.row(line, i == wf.cursor, w))
	}
	for len(lines) < h-detailH {
		lines = append(lines, "")
	}
	lines = append(lines, s.border.Render(strings.Repeat("─", w)))
	det := m.spanDetail(wf.spans[wf.rows[wf.cursor].Index], w, false)
	if len(det) > detailH {
		det = append(det[:detailH-1], s.dim.Render(fmt.Sprintf(" … %d more lines (enter shows them all)", len(det)-detailH+1)))
	}
	return strings.Join(append(lines, det...), "\n")
}

// spanBar draws a span on a time axis of width cells spanning total from start: at least one cell.
func spanBar(sp event.Span, start time.Time, total time.Duration, width int) string {
	if width <= 0 {
		return ""
	}
	from, n := event.BarCells(sp, start, total, width)
	return strings.Repeat(" ", from) + strings.Repeat("█", n)
}

// spanDetail is what the waterfall shows of the selected span: identity, timing, status,
// attributes, events and links; lines longer than w are cut, or wrapped when wrap (the expanded view,
// where a long SQL statement or exception message is read whole).
func (m *Model) spanDetail(sp event.Span, w int, wrap bool) []string {
	s := m.st
	wf := &m.traces.wf
	who := sp.Service
	if sp.Instance != "" {
		who += " (" + sp.Instance + ")"
	}
	out := []string{s.bold.Render(" "+who+" · "+oneLine(sp.Name)) + s.dim.Render(fmt.Sprintf("  %s  at +%s  took %s", orDash(sp.Kind), offset(sp.Start.Sub(wf.start)), latency(sp.Duration())))}
	ids := fmt.Sprintf(" span %s", sp.SpanID)
	if sp.ParentID != "" {
		ids += "  parent " + sp.ParentID
	}
	out = append(out, s.dim.Render(ids))
	if sp.ParentID != "" && !slices.ContainsFunc(wf.spans, func(o event.Span) bool { return o.SpanID == sp.ParentID }) {
		out = append(out, s.warn.Render(" ? its parent span was not received: shown at the root"))
	}
	switch sp.Status {
	case "error":
		out = append(out, s.err.Render(" status error: "+oneLine(orDash(sp.StatusMessage))))
	case "ok":
		out = append(out, s.ok.Render(" status ok"))
	}
	if len(sp.Attrs) > 0 {
		out = append(out, s.header.Render(" attributes"))
		out = append(out, attrLines(sp.Attrs, "  ")...)
	}
	if len(sp.Events) > 0 {
		out = append(out, s.header.Render(" events"))
		for _, e := range sp.Events {
			out = append(out, fmt.Sprintf("  +%s %s", offset(e.Time.Sub(wf.start)), s.bold.Render(oneLine(e.Name))))
			out = append(out, attrLines(e.Attrs, "      ")...)
		}
	}
	if len(sp.Links) > 0 {
		out = append(out, s.header.Render(" links"))
		for _, l := range sp.Links {
			out = append(out, fmt.Sprintf("  trace %s span %s", l.TraceID, l.SpanID))
			out = append(out, attrLines(l.Attrs, "      ")...)
		}
	}
	if wrap {
		var wrapped []string
		for _, l := range out {
			wrapped = append(wrapped, wrapLines(l, w)...)
		}
		return wrapped
	}
	for i, l := range out {
		out[i] = trunc(l, w)
	}
	return out
}

// attrLines renders attributes sorted by key, one "key = value" per line.
func attrLines(attrs map[string]string, indent string) []string {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, indent+oneLine(k)+" = "+oneLine(attrs[k]))
	}
	return out
}

// offset is a time from the trace's start: 0ms, 12ms, 1.20s.
func offset(d time.Duration) string {
	if d <= 0 {
		return "0ms"
	}
	return latency(d)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// traceOfRecord is the trace id of a record's traceparent header ("" when it has none or a bad one).
func traceOfRecord(rec event.Message) string {
	for _, h := range rec.Headers {
		if strings.EqualFold(h.Key, "traceparent") {
			if id, _, _, ok := event.ParseTraceparent(string(h.Value)); ok {
				return id
			}
		}
	}
	return ""
}

// traceOnScreen is the trace id of the lowest line on screen that carries one (the Logs view has no
// cursor: the bottom line is the one being read), looking at most rows lines up.
func (l *logsState) traceOnScreen(rows int) string {
	for i, n := l.bottom(), 0; i >= 0 && n < rows; i, n = i-1, n+1 {
		e, ok := l.ring.abs(l.matches[i])
		if !ok {
			break
		}
		if e.line.TraceID != "" {
			return e.line.TraceID
		}
	}
	return ""
}
