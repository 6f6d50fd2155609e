package tui

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
)

// recordsState is the Messages view: one tap on a topic (never a consumer group) filling a ring.
type recordsState struct {
	ring   *ring[event.Message]
	gen    int
	ch     <-chan event.Message
	cancel context.CancelFunc

	topic      string
	partition  int32 // -1: all
	partitions int   // partition count of topic, from the last topics fetch
	from       string
	offset     int64
	since      time.Time

	live     bool // the tap follows new records
	open     bool // the tap is delivering
	ended    bool // a bounded read finished
	received bool
	err      string

	cursor    uint64 // absolute index of the selected record
	atEnd     bool   // the cursor follows the newest record
	offsetUI  int    // first row shown
	expanded  bool   // the record fills the view
	detailOff int    // first line of the expanded record shown
	hex       bool

	// filter: only records whose key, value or headers match are listed; it survives a topic change
	// so one order can be followed from topic to topic.
	matches     []uint64 // absolute indexes of listed records, ascending
	filter      string
	fre         *regexp.Regexp
	input       *textinput.Model // the filter prompt while open
	savedFilter string
	inputErr    string

	schemas schemaCache // registry schemas of framed records
}

func newRecordsState(capacity int) recordsState {
	return recordsState{ring: newRing[event.Message](capacity), partition: -1, atEnd: true}
}

func (r *recordsState) topicsKnown(list []event.TopicInfo) {
	for _, t := range list {
		if t.Name == r.topic {
			r.partitions = len(t.Partitions)
		}
	}
}

// setTopic starts a live tail of topic: its last records, then every new one.
func (r *recordsState) setTopic(m *Model, topic string) tea.Cmd {
	if topic != r.topic {
		r.partition = -1
		r.partitions = 0
		r.topicsKnown(m.topics.list)
	}
	r.topic, r.from, r.live = topic, "last", true
	return r.openTap(m, true)
}

func (r *recordsState) query() control.MessageQuery {
	q := control.MessageQuery{Topic: r.topic, Partition: r.partition, From: r.from, Follow: r.live}
	switch r.from {
	case "last":
		q.Limit = tailRecords
	case "offset":
		q.Offset = r.offset
		q.Limit = r.ring.cap()
	case "time":
		q.Since = r.since
		q.Limit = r.ring.cap()
	case "beginning":
		q.Limit = r.ring.cap()
	}
	return q
}

// openTap replaces the current tap; reset clears the records shown.
func (r *recordsState) openTap(m *Model, reset bool) tea.Cmd {
	if r.cancel != nil {
		r.cancel()
	}
	r.gen++
	if reset {
		r.ring.reset()
		r.matches = r.matches[:0]
		r.atEnd, r.expanded = r.live, false
		r.cursor = r.ring.first()
	}
	r.open, r.ended, r.received, r.err, r.ch = false, false, false, "", nil
	ctx, cancel := context.WithCancel(m.ctx)
	r.cancel = cancel
	return openTapCmd(ctx, m.ctrl, r.gen, r.query())
}

// reopenTap resumes a live tap that ended (the stream dropped, or the topic did not exist yet)
// from the newest records, keeping what is shown.
func (m *Model) reopenTap() tea.Cmd {
	r := &m.rec
	if r.topic == "" || !r.live {
		return nil
	}
	if r.ring.len() > 0 {
		r.from = "end"
	}
	return r.openTap(m, false)
}

func (m *Model) updateRecordsStream(msg tea.Msg) (tea.Cmd, bool) {
	r := &m.rec
	visible := m.tab == tabMessages
	switch msg := msg.(type) {
	case tapOpenedMsg:
		if msg.gen != r.gen {
			return nil, false
		}
		if msg.err != nil {
			if m.ctx.Err() != nil {
				return nil, false
			}
			r.err = msg.err.Error()
			if errors.Is(msg.err, control.ErrNotFound) {
				r.err = "topic " + r.topic + " does not exist yet: waiting for its first record"
			}
			if r.live {
				return retryCmd("tap", msg.gen), visible
			}
			return nil, visible
		}
		r.open, r.ch, r.err = true, msg.ch, ""
		return waitRecords(msg.gen, msg.ch), visible
	case recordsMsg:
		if msg.gen != r.gen {
			return nil, false
		}
		for _, rec := range msg.msgs {
			r.push(rec)
		}
		if len(msg.msgs) > 0 {
			r.received = true
		}
		r.fixCursor()
		fetch := m.fetchSchemas(msg.msgs)
		if !msg.closed {
			return tea.Batch(waitRecords(msg.gen, r.ch), fetch), visible
		}
		r.open = false
		if m.ctx.Err() != nil {
			return nil, false
		}
		if r.live {
			r.gen++
			if r.received {
				return m.reopenTap(), visible
			}
			return retryCmd("tap", r.gen), visible
		}
		r.ended = true
		return fetch, visible
	case schemaMsg:
		return m.updateSchemas(msg)
	}
	return nil, false
}

func (m *Model) recordsKey(msg tea.KeyMsg) tea.Cmd {
	r := &m.rec
	k := m.keys
	page := max((m.height-chromeHeight)/2-2, 1)
	move := func(d int) {
		if len(r.matches) == 0 {
			return
		}
		i := r.cursorPos() + d
		if i >= len(r.matches)-1 {
			i = len(r.matches) - 1
			r.atEnd = true
		} else {
			r.atEnd = false
		}
		r.cursor = r.matches[max(i, 0)]
	}
	if r.expanded {
		switch {
		case key.Matches(msg, k.Up):
			r.detailOff = max(r.detailOff-1, 0)
			return nil
		case key.Matches(msg, k.Down):
			r.detailOff++
			return nil
		case key.Matches(msg, k.PgUp):
			r.detailOff = max(r.detailOff-page, 0)
			return nil
		case key.Matches(msg, k.PgDown):
			r.detailOff += page
			return nil
		case key.Matches(msg, k.Top):
			r.detailOff = 0
			return nil
		}
	}
	switch {
	case key.Matches(msg, k.Up):
		move(-1)
	case key.Matches(msg, k.Down):
		move(1)
	case key.Matches(msg, k.PgUp):
		move(-page)
	case key.Matches(msg, k.PgDown):
		move(page)
	case key.Matches(msg, k.Top):
		if len(r.matches) > 0 {
			r.cursor, r.atEnd = r.matches[0], false
		}
	case key.Matches(msg, k.Bottom):
		move(r.ring.len())
	case key.Matches(msg, k.Filter):
		ti := newInput("text in key, value or headers (empty: every record)", r.filter)
		ti.Focus()
		r.input, r.savedFilter, r.inputErr = &ti, r.filter, ""
	case msg.Type == tea.KeyEsc && !r.expanded && r.filter != "":
		r.setFilter("")
	case key.Matches(msg, k.PickTopic):
		return m.openTopicPicker()
	case key.Matches(msg, k.Follow):
		if r.topic == "" {
			return m.openTopicPicker()
		}
		if !r.live {
			return r.setTopic(m, r.topic)
		}
		if r.atEnd {
			r.atEnd = false
		} else {
			move(r.ring.len())
		}
	case key.Matches(msg, k.Seek):
		if r.topic == "" {
			return m.openTopicPicker()
		}
		m.modal = newSeekModal(m)
	case key.Matches(msg, k.Partition):
		if r.topic == "" {
			return nil
		}
		n := max(r.partitions, 1)
		if r.partition+1 >= int32(n) {
			r.partition = -1
		} else {
			r.partition++
		}
		return r.openTap(m, true)
	case key.Matches(msg, k.Produce):
		m.modal = newProduceModal(m, r.topic)
	case key.Matches(msg, k.JumpTrace):
		rec, _ := r.ring.abs(r.cursor)
		return m.jumpToTrace(traceOfRecord(rec), "this record has no traceparent header")
	case key.Matches(msg, k.Hex):
		r.hex = !r.hex
	case key.Matches(msg, k.Detail):
		r.expanded, r.detailOff = !r.expanded, 0
	case msg.Type == tea.KeyEsc:
		r.expanded, r.detailOff = false, 0
	}
	return nil
}

func (m *Model) openTopicPicker() tea.Cmd {
	var names []string
	for _, t := range m.topics.list {
		if !internalTopic(t) {
			names = append(names, t.Name)
		}
	}
	m.modal = newPicker("tail which topic? (type to filter; enter takes the typed name if none matches)", names, func(m *Model, name string) tea.Cmd {
		return m.rec.setTopic(m, name)
	})
	return m.fetch("topics")
}

func (m *Model) recordsView(w, h int) string {
	r := &m.rec
	s := m.st
	if r.topic == "" {
		return s.dim.Render(" no topic chosen: press t to pick one (or enter on a topic in view 3); P produces a message")
	}
	part := "all partitions"
	if r.partition >= 0 {
		part = fmt.Sprintf("partition %d", r.partition)
	}
	var mode string
	switch {
	case r.err != "":
		mode = s.err.Render(r.err)
	case r.live && r.open:
		mode = s.ok.Render("● live")
	case r.live:
		mode = s.info.Render("◌ connecting")
	case r.ended:
		mode = s.dim.Render("end of range (f: live tail)")
	default:
		mode = s.info.Render("◌ reading")
	}
	from := map[string]string{"last": fmt.Sprintf("last %d", tailRecords), "beginning": "from beginning", "end": "new only",
		"offset": "from offset " + strconv.FormatInt(r.offset, 10), "time": "since " + m.fmtTime(r.since, "15:04:05")}[r.from]
	count := plural(r.ring.len(), "record")
	if r.fre != nil {
		count = fmt.Sprintf("%d/%s", len(r.matches), count)
	}
	bar := []string{s.bold.Render("topic: ") + s.accent.Render(r.topic), part, from, mode, s.dim.Render(count)}
	switch {
	case r.input != nil:
		p := s.key.Render("/") + r.input.View()
		if r.inputErr != "" {
			p += " " + s.err.Render(r.inputErr)
		}
		bar = append(bar[:1], p)
	case r.filter != "":
		bar = append(bar, s.bold.Render("filter: ")+s.accent.Render(r.filter))
	}
	if r.live && !r.atEnd {
		bar = append(bar, s.warn.Render("‖ cursor held (G: newest)"))
	}
	lines := []string{trunc(strings.Join(bar, s.dim.Render(" │ ")), w)}
	cur, haveCur := r.ring.abs(r.cursor)
	if r.expanded && haveCur {
		lines = append(lines, m.recordDetail(cur, w, h-1, &r.detailOff)...)
		return strings.Join(lines, "\n")
	}
	if len(r.matches) == 0 {
		msg := " waiting for records…"
		switch {
		case r.ring.len() > 0:
			msg = " no record matches the filter (esc clears it)"
		case r.ended:
			msg = " no records in that range"
		}
		return strings.Join(append(lines, s.dim.Render(msg)), "\n")
	}
	listH := max((h-1)/2, 3)
	titles := []string{"TIME", "P/OFFSET", "KEY", "VALUE"}
	widths := tableLayout(w, []int{12, 10, 8, 20}, []int{0, 0, 1, 4}, 8)
	widths[2] = min(widths[2], 24)
	widths[3] = max(w-1-3-sum(widths[:3]), 8)
	lines = append(lines, " "+renderCells(titles, widths, headerStyles(m, 4), nil))
	bodyH := listH - 1
	ci := r.cursorPos()
	if ci < r.offsetUI {
		r.offsetUI = ci
	}
	if ci >= r.offsetUI+bodyH {
		r.offsetUI = ci - bodyH + 1
	}
	r.offsetUI = min(max(r.offsetUI, 0), max(len(r.matches)-bodyH, 0))
	for i := r.offsetUI; i < len(r.matches) && i < r.offsetUI+bodyH; i++ {
		rec := r.ring.ptr(int(r.matches[i] - r.ring.first()))
		cells := []string{m.fmtTime(rec.Timestamp, "15:04:05.000"), fmt.Sprintf("%d/%d", rec.Partition, rec.Offset),
			m.previewTyped(rec.Key, rec.Topic+"-key"), m.previewTyped(rec.Value, rec.Topic+"-value")}
		lines = append(lines, m.row(renderCells(cells, widths, nil, nil), i == ci, w))
	}
	for len(lines) < listH+1 {
		lines = append(lines, "")
	}
	lines = append(lines, s.border.Render(strings.Repeat("─", w)))
	if haveCur {
		lines = append(lines, m.recordDetail(cur, w, h-len(lines), nil)...)
	}
	return strings.Join(lines, "\n")
}

// recordDetail shows one record: coordinates, key, headers and the value pretty-printed.
// With scroll (the expanded view) the lines from *scroll on are shown.
func (m *Model) recordDetail(rec event.Message, w, h int, scroll *int) []string {
	s := m.st
	var out []string
	add := func(l string) { out = append(out, wrapLines(l, w)...) }
	add(s.bold.Render(rec.Topic) + fmt.Sprintf("  partition %d  offset %d  ", rec.Partition, rec.Offset) +
		s.dim.Render(m.fmtTime(rec.Timestamp, "2006-01-02 15:04:05.000 MST")))
	key := s.dim.Render("(none)")
	if len(rec.Key) > 0 {
		key = preview(rec.Key)
		if tk := m.decodeTyped(rec.Key, rec.Topic+"-key"); tk.json != nil {
			key = preview(tk.json) + " " + s.dim.Render("("+tk.label()+")")
		} else if tk.note != "" {
			key += " " + s.warn.Render("("+tk.note+")")
		}
	}
	add(s.bold.Render("key: ") + key)
	if len(rec.Headers) > 0 {
		hs := make([]string, 0, len(rec.Headers))
		for _, h := range rec.Headers {
			hs = append(hs, h.Key+"="+preview(h.Value))
		}
		sort.Strings(hs)
		add(s.bold.Render("headers: ") + strings.Join(hs, "  "))
	}
	var val, kind string
	tv := m.decodeTyped(rec.Value, rec.Topic+"-value")
	switch {
	case tv.json != nil && !m.rec.hex:
		val, kind = string(tv.json), tv.label()
		if p, ok := prettyJSON(tv.json); ok {
			val = p
		}
	case tv.note != "":
		val, kind = hexDump(rec.Value, 4096), tv.note+"; hex"
	case len(rec.Value) == 0:
		val, kind = s.dim.Render("(empty)"), ""
	case m.rec.hex:
		val, kind = hexDump(rec.Value, 4096), "hex"
	default:
		if p, ok := prettyJSON(rec.Value); ok {
			val, kind = p, "json"
		} else if printable(rec.Value) {
			val, kind = string(rec.Value), "text"
		} else {
			val, kind = hexDump(rec.Value, 4096), "binary, hex"
		}
	}
	add(s.bold.Render("value") + s.dim.Render(fmt.Sprintf(" (%d bytes%s):", len(rec.Value), map[bool]string{true: ", " + kind, false: ""}[kind != ""])))
	for _, l := range strings.Split(val, "\n") {
		add(stripANSI(l))
	}
	if scroll != nil {
		*scroll = min(*scroll, max(len(out)-h, 0))
		out = out[*scroll:]
	}
	if len(out) > h && h > 0 {
		more := len(out) - h + 1
		hint := "enter: expand"
		if scroll != nil {
			hint = "↓ scrolls, esc: back"
		}
		out = append(out[:h-1], s.dim.Render(fmt.Sprintf("… %d more lines (%s)", more, hint)))
	}
	return out
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func (r *recordsState) match(rec *event.Message) bool {
	if r.fre == nil {
		return true
	}
	if r.fre.Match(rec.Value) || r.fre.Match(rec.Key) {
		return true
	}
	// registry-framed keys and values match by their JSON
	for _, tv := range []typedValue{r.schemas.decode(rec.Value, rec.Topic+"-value"), r.schemas.decode(rec.Key, rec.Topic+"-key")} {
		if tv.json != nil && r.fre.Match(tv.json) {
			return true
		}
	}
	for _, h := range rec.Headers {
		if r.fre.MatchString(h.Key) || r.fre.Match(h.Value) {
			return true
		}
	}
	return false
}

// push stores a record and lists it if it passes the filter.
func (r *recordsState) push(rec event.Message) {
	abs := r.ring.next()
	r.ring.push(rec)
	first := r.ring.first()
	i := 0
	for i < len(r.matches) && r.matches[i] < first {
		i++
	}
	r.matches = r.matches[i:]
	if r.match(&rec) {
		r.matches = append(r.matches, abs)
	}
}

func (r *recordsState) setFilter(q string) error {
	re, err := compileFilter(q, false)
	if err != nil {
		return err
	}
	r.filter, r.fre = q, re
	r.matches = r.matches[:0]
	first := r.ring.first()
	for i := 0; i < r.ring.len(); i++ {
		if r.match(r.ring.ptr(i)) {
			r.matches = append(r.matches, first+uint64(i))
		}
	}
	r.fixCursor()
	return nil
}

// cursorPos is the index in matches of the selected record (or of the nearest older one).
func (r *recordsState) cursorPos() int {
	i := sort.Search(len(r.matches), func(i int) bool { return r.matches[i] > r.cursor }) - 1
	return max(i, 0)
}

// fixCursor keeps the cursor on a listed record: the newest when following.
func (r *recordsState) fixCursor() {
	if len(r.matches) == 0 {
		return
	}
	if r.atEnd {
		r.cursor = r.matches[len(r.matches)-1]
		return
	}
	r.cursor = r.matches[r.cursorPos()]
}

// recordsFilterKey edits the filter prompt; the filter applies as it is typed.
func (m *Model) recordsFilterKey(msg tea.KeyMsg) tea.Cmd {
	r := &m.rec
	switch msg.Type {
	case tea.KeyEsc:
		_ = r.setFilter(r.savedFilter)
		r.input = nil
		return nil
	case tea.KeyEnter:
		r.input = nil
		return nil
	}
	ti, cmd := r.input.Update(msg)
	r.input = &ti
	if err := r.setFilter(ti.Value()); err != nil {
		r.inputErr = err.Error()
	} else {
		r.inputErr = ""
	}
	return cmd
}
