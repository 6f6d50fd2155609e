package tui

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/devstack-dev/devstack/internal/event"
)

type logEntry struct {
	line  event.LogLine
	level string // event.LogLine.Level(), computed once
}

// logsState is the Logs view: a ring of recent lines from every source and the filtered list of the
// ones shown, kept up to date as lines arrive so rendering costs only the rows on screen.
type logsState struct {
	ring     *ring[logEntry]
	gen      int
	ch       <-chan event.LogLine
	lastSeq  uint64
	received bool
	err      string

	sources []string // every source seen, in first-seen order

	source string         // "" for all
	query  string         // applied filter text
	regex  bool           // query is a regular expression
	re     *regexp.Regexp // compiled query (nil: no text filter)
	terms  []fieldTerm    // the query's key=value words
	level  string         // show lines at least this level ("" all; see logLevels)
	wrap   bool
	pretty bool

	follow  bool
	pos     uint64   // absolute index of the bottom line on screen while paused
	matches []uint64 // absolute indexes of the lines passing the filter, ascending

	input      *textinput.Model // the filter prompt while it is open
	inputRegex bool
	inputErr   string
	saved      [2]string // query and regex flag before the prompt opened, for esc
	savedRegex bool
}

func newLogsState(capacity int) logsState {
	return logsState{ring: newRing[logEntry](capacity), follow: true, wrap: true}
}

func (l *logsState) match(e *logEntry) bool {
	if l.source != "" && e.line.Source != l.source {
		return false
	}
	if l.level != "" && levelRank(e.level) < levelRank(l.level) {
		return false
	}
	for _, t := range l.terms {
		if !t.match(&e.line) {
			return false
		}
	}
	if l.re != nil && !l.re.MatchString(e.line.Text) && (!structuredLine(&e.line) || !l.re.MatchString(fieldsText(&e.line))) {
		return false
	}
	return true
}

// push stores a line and, if it passes the filter, lists it. It reports whether it is listed.
func (l *logsState) push(line event.LogLine) bool {
	e := logEntry{line: line, level: line.Level()}
	abs := l.ring.next()
	l.ring.push(e)
	first := l.ring.first()
	i := 0
	for i < len(l.matches) && l.matches[i] < first {
		i++
	}
	l.matches = l.matches[i:]
	if !slices.Contains(l.sources, line.Source) {
		l.sources = append(l.sources, line.Source)
	}
	if l.match(&e) {
		l.matches = append(l.matches, abs)
		return true
	}
	return false
}

// refilter rebuilds the listed lines after the filter changed.
func (l *logsState) refilter() {
	l.matches = l.matches[:0]
	first := l.ring.first()
	for i := 0; i < l.ring.len(); i++ {
		if l.match(l.ring.ptr(i)) {
			l.matches = append(l.matches, first+uint64(i))
		}
	}
	l.follow = true
}

// compile turns a filter into a regexp: substrings are literal, and both are case-insensitive
// unless the query has an upper-case letter (smart case).
func compileFilter(q string, regex bool) (*regexp.Regexp, error) {
	if q == "" {
		return nil, nil
	}
	expr := q
	if !regex {
		expr = regexp.QuoteMeta(q)
	}
	if !strings.ContainsFunc(q, unicode.IsUpper) {
		expr = "(?i)" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("bad regexp: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	return re, nil
}

func (l *logsState) setSource(m *Model, s string) {
	l.source = s
	l.refilter()
}

// recent returns up to n of the newest lines from source, looking at most scan lines back.
func (l *logsState) recent(source string, n, scan int) []logEntry {
	var out []logEntry
	for i := l.ring.len() - 1; i >= 0 && scan > 0 && len(out) < n; i, scan = i-1, scan-1 {
		if e := l.ring.ptr(i); e.line.Source == source {
			out = append(out, *e)
		}
	}
	slices.Reverse(out)
	return out
}

// sourceList is what s/S cycle through: all, the services, then every other source seen.
func (m *Model) sourceList() []string {
	list := []string{""}
	for _, sv := range m.state.Services {
		list = append(list, sv.Name)
	}
	var others []string
	for _, s := range m.logs.sources {
		if !slices.Contains(list, s) {
			others = append(others, s)
		}
	}
	sort.Strings(others)
	return append(list, others...)
}

func (m *Model) updateLogsStream(msg tea.Msg) (tea.Cmd, bool) {
	l := &m.logs
	switch msg := msg.(type) {
	case logsSubscribedMsg:
		if msg.gen != l.gen {
			return nil, false
		}
		if msg.err != nil {
			if m.ctx.Err() != nil {
				return nil, false
			}
			l.err = msg.err.Error()
			return retryCmd("logs", msg.gen), m.tab == tabLogs
		}
		l.err, l.ch, l.received = "", msg.ch, false
		if n := len(msg.past); n > 0 && msg.past[n-1].Seq != 0 && msg.past[n-1].Seq < l.lastSeq {
			l.lastSeq = 0 // a new stack: its numbering started again
		}
		changed := m.pushLogs(msg.past)
		if msg.ch == nil {
			return nil, changed
		}
		return waitLogs(msg.gen, msg.ch), changed || m.tab == tabLogs
	case logsMsg:
		if msg.gen != l.gen {
			return nil, false
		}
		changed := m.pushLogs(msg.lines)
		if len(msg.lines) > 0 {
			l.received = true
		}
		if msg.closed {
			if m.ctx.Err() != nil {
				return nil, changed
			}
			l.gen++
			if l.received {
				return subscribeLogsCmd(m.ctx, m.ctrl, l.gen, l.ring.cap()), changed
			}
			return retryCmd("logs", l.gen), changed
		}
		return waitLogs(msg.gen, l.ch), changed
	}
	return nil, false
}

// pushLogs stores lines (skipping ones already held after a resubscribe) and reports whether the
// visible view changed.
func (m *Model) pushLogs(lines []event.LogLine) bool {
	l := &m.logs
	listed := false
	sel := ""
	if sv, ok := m.selectedService(); ok && m.tab == tabServices {
		sel = sv.Name
	}
	showsSel := false
	for _, line := range lines {
		if line.Seq != 0 {
			if line.Seq <= l.lastSeq {
				continue
			}
			l.lastSeq = line.Seq
		}
		if l.push(line) {
			listed = true
		}
		if line.Source == sel {
			showsSel = true
		}
	}
	return (m.tab == tabLogs && listed) || showsSel
}

// bottom is the index in matches of the line at the bottom of the screen.
func (l *logsState) bottom() int {
	if len(l.matches) == 0 {
		return -1
	}
	if l.follow {
		return len(l.matches) - 1
	}
	i := sort.Search(len(l.matches), func(i int) bool { return l.matches[i] > l.pos }) - 1
	return max(i, 0)
}

func (l *logsState) scroll(m *Model, delta int) {
	if len(l.matches) == 0 {
		return
	}
	b := l.bottom() + delta
	if b >= len(l.matches)-1 {
		l.follow = true
		return
	}
	b = max(b, 0)
	l.follow = false
	l.pos = l.matches[b]
}

func (m *Model) logsKey(msg tea.KeyMsg) tea.Cmd {
	l := &m.logs
	k := m.keys
	page := max(m.height-chromeHeight-2, 1)
	switch {
	case key.Matches(msg, k.Up):
		l.scroll(m, -1)
	case key.Matches(msg, k.Down):
		l.scroll(m, 1)
	case key.Matches(msg, k.PgUp):
		l.scroll(m, -page)
	case key.Matches(msg, k.PgDown):
		l.scroll(m, page)
	case key.Matches(msg, k.Top):
		if len(l.matches) > 0 {
			l.follow = false
			l.pos = l.matches[min(page-1, len(l.matches)-1)]
		}
	case key.Matches(msg, k.Bottom):
		l.follow = true
	case key.Matches(msg, k.Follow):
		if l.follow && len(l.matches) > 0 {
			l.follow = false
			l.pos = l.matches[len(l.matches)-1]
		} else {
			l.follow = true
		}
	case key.Matches(msg, k.Filter):
		ti := textinput.New()
		ti.Prompt = ""
		ti.Placeholder = "text or key=value to show (empty: everything)"
		ti.Cursor.SetMode(cursor.CursorStatic)
		ti.SetValue(l.query)
		ti.Focus()
		l.input, l.inputRegex, l.inputErr = &ti, l.regex, ""
		l.saved[0], l.savedRegex = l.query, l.regex
	case key.Matches(msg, k.ClearFilter):
		if l.query != "" {
			l.query, l.re, l.terms = "", nil, nil
			l.refilter()
		}
	case key.Matches(msg, k.NextSource, k.PrevSource):
		list := m.sourceList()
		i := slices.Index(list, l.source)
		if key.Matches(msg, k.NextSource) {
			i = (i + 1) % len(list)
		} else {
			i = (i - 1 + len(list)) % len(list)
		}
		l.setSource(m, list[i])
	case key.Matches(msg, k.AllSources):
		l.setSource(m, "")
	case key.Matches(msg, k.Level):
		l.level = nextLevel(l.level)
		l.refilter()
	case key.Matches(msg, k.Wrap):
		l.wrap = !l.wrap
	case key.Matches(msg, k.JSON):
		l.pretty = !l.pretty
	case key.Matches(msg, k.JumpTrace):
		return m.jumpToTrace(l.traceOnScreen(page), "no line on screen carries a trace id")
	case key.Matches(msg, k.ClearLogs):
		l.ring.reset()
		l.matches = l.matches[:0]
		l.follow = true
	}
	return nil
}

// logsFilterKey edits the filter prompt; the filter applies live as it is typed.
func (m *Model) logsFilterKey(msg tea.KeyMsg) tea.Cmd {
	l := &m.logs
	switch msg.Type {
	case tea.KeyEsc:
		l.query, l.regex = l.saved[0], l.savedRegex
		l.re, l.terms, _ = parseLogQuery(l.query, l.regex)
		l.input = nil
		l.refilter()
		return nil
	case tea.KeyEnter:
		if l.inputErr == "" {
			l.input = nil
		}
		return nil
	case tea.KeyTab:
		l.inputRegex = !l.inputRegex
	default:
		ti, cmd := l.input.Update(msg)
		l.input = &ti
		defer l.applyInput()
		return cmd
	}
	l.applyInput()
	return nil
}

func (l *logsState) applyInput() {
	q := l.input.Value()
	re, terms, err := parseLogQuery(q, l.inputRegex)
	if err != nil {
		l.inputErr = err.Error()
		return
	}
	l.inputErr = ""
	l.query, l.regex, l.re, l.terms = q, l.inputRegex, re, terms
	l.refilter()
}

func (m *Model) logsView(w, h int) string {
	l := &m.logs
	s := m.st
	// status bar
	src := "all"
	if l.source != "" {
		src = l.source
	}
	parts := []string{s.bold.Render("source: ") + s.source(l.source).Render(src)}
	if l.input != nil {
		mode := "substring"
		if l.inputRegex {
			mode = "regex"
		}
		p := s.key.Render("/") + l.input.View() + s.dim.Render(" ("+mode+")")
		if l.inputErr != "" {
			p += " " + s.err.Render(l.inputErr)
		}
		parts = append(parts, p)
	} else if l.query != "" {
		mode := ""
		if l.regex {
			mode = " (regex)"
		}
		parts = append(parts, s.bold.Render("filter: ")+s.accent.Render(l.query)+s.dim.Render(mode))
	}
	switch l.level {
	case "":
	case "error":
		parts = append(parts, s.warn.Render("level: error"))
	default:
		parts = append(parts, s.warn.Render("level: "+l.level+"+"))
	}
	parts = append(parts, s.dim.Render(fmt.Sprintf("%d/%d lines", len(l.matches), l.ring.len())))
	if l.follow {
		parts = append(parts, s.ok.Render("● following"))
	} else {
		newer := len(l.matches) - 1 - l.bottom()
		parts = append(parts, s.warn.Render(fmt.Sprintf("‖ paused, %d newer (G: follow)", newer)))
	}
	if l.err != "" {
		parts = append(parts, s.err.Render("log stream: "+l.err))
	}
	bar := trunc(strings.Join(parts, s.dim.Render(" │ ")), w)
	if l.input != nil {
		bar = strings.Join(parts[:2], s.dim.Render(" │ "))
	}
	bodyH := h - 1
	if bodyH <= 0 {
		return bar
	}
	if len(l.matches) == 0 {
		msg := "no log lines yet"
		if l.ring.len() > 0 {
			msg = "no line matches the filter (esc clears it, a shows all sources, e cycles the level)"
		}
		return bar + "\n" + s.dim.Render(" "+msg)
	}
	srcW := 4
	for _, name := range l.sources {
		srcW = max(srcW, len(name)+2)
	}
	srcW = min(srcW, 16)
	// walk up from the bottom line until the screen is full
	var blocks [][]string
	rows := 0
	for i := l.bottom(); i >= 0 && rows < bodyH; i-- {
		e, ok := l.ring.abs(l.matches[i])
		if !ok {
			break
		}
		b := m.renderLogLine(&e, w, srcW)
		blocks = append(blocks, b)
		rows += len(b)
	}
	out := make([]string, 0, rows)
	for i := len(blocks) - 1; i >= 0; i-- {
		out = append(out, blocks[i]...)
	}
	if len(out) > bodyH {
		out = out[len(out)-bodyH:]
	}
	return bar + "\n" + strings.Join(out, "\n")
}

// renderLogLine renders one entry as one or more screen rows.
func (m *Model) renderLogLine(e *logEntry, w, srcW int) []string {
	s := m.st
	name := e.line.Source
	if e.line.Replica > 0 {
		name = fmt.Sprintf("%s#%d", name, e.line.Replica)
	}
	layout := "15:04:05.000"
	if w < 100 {
		layout = "15:04:05"
	}
	prefix := s.dim.Render(m.fmtTime(e.line.Time, layout)) + " " + s.source(e.line.Source).Render(fit(name, srcW))
	prefixW := len(layout) + 1 + srcW + 1
	textW := w - prefixW
	text := stripANSI(e.line.Text)
	if e.line.Stream == "build" || e.line.Stream == "setup" {
		text = "[" + e.line.Stream + "] " + text
	}
	var fields string // a structured line's fields, shown dimmed after its message
	if structuredLine(&e.line) {
		text = levelTag(e.line.Severity) + text
		fields = fieldsText(&e.line)
	}
	var body []string
	if m.logs.pretty {
		if p, ok := prettyJSON([]byte(text)); ok {
			body = strings.Split(p, "\n")
		}
	}
	if body == nil {
		body = []string{oneLine(text)}
	}
	var rows []string
	for _, b := range body {
		if m.logs.wrap && textW > 10 {
			rows = append(rows, wrapLines(b, textW)...)
		} else {
			rows = append(rows, trunc(b, max(textW, 1)))
		}
	}
	// fieldRows follow the message: on its last row when they fit, else below it (one a row with J)
	var fieldRows []string
	sameRow := false // fieldRows[0] goes on the message's last row
	if fields != "" {
		last := len(rows) - 1
		switch {
		case m.logs.pretty:
			for _, f := range fieldItems(&e.line) {
				fieldRows = append(fieldRows, trunc("  "+f, max(textW, 1)))
			}
		case !m.logs.wrap || textW <= 10:
			if room := max(textW, 1) - width(rows[last]) - 2; room > 0 {
				rows[last] += "  "
				fieldRows, sameRow = []string{trunc(fields, room)}, true
			}
		case width(rows[last])+2+width(fields) <= textW:
			rows[last] += "  "
			fieldRows, sameRow = []string{fields}, true
		default:
			fieldRows = wrapLines(fields, textW)
		}
	}
	lvl, hasLvl := s.level(e.level)
	out := make([]string, 0, len(rows)+len(fieldRows))
	pad := strings.Repeat(" ", prefixW)
	for i, r := range rows {
		var styled string
		if m.logs.re != nil {
			styled = m.highlight(r, lvl, hasLvl)
		} else if hasLvl {
			styled = lvl.Render(r)
		} else {
			styled = r
		}
		if i == len(rows)-1 && sameRow {
			styled += s.dim.Render(fieldRows[0])
			fieldRows = fieldRows[1:]
		}
		if i == 0 {
			out = append(out, prefix+" "+styled)
		} else {
			out = append(out, pad+styled)
		}
	}
	for _, r := range fieldRows {
		out = append(out, pad+s.dim.Render(r))
	}
	return out
}

// highlight marks the filter's matches inside r.
func (m *Model) highlight(r string, lvl interface{ Render(...string) string }, hasLvl bool) string {
	idx := m.logs.re.FindAllStringIndex(r, -1)
	plain := func(x string) string {
		if hasLvl && x != "" {
			return lvl.Render(x)
		}
		return x
	}
	if len(idx) == 0 {
		return plain(r)
	}
	var b strings.Builder
	last := 0
	for _, p := range idx {
		if p[1] == p[0] {
			continue
		}
		b.WriteString(plain(r[last:p[0]]))
		if m.plain {
			b.WriteString(r[p[0]:p[1]])
		} else {
			b.WriteString(m.st.highlight.Render(r[p[0]:p[1]]))
		}
		last = p[1]
	}
	b.WriteString(plain(r[last:]))
	return b.String()
}
