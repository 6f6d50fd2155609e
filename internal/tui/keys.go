package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

func kb(keys []string, help, desc string) key.Binding {
	return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
}

// keyMap holds every binding; the help screen is generated from it so it cannot drift.
type keyMap struct {
	Quit, Help, NextTab, PrevTab, Tab1, Tab2, Tab3, Tab4, Tab5, Tab6, Tab7, Mouse key.Binding
	Up, Down, PgUp, PgDown, Top, Bottom                                           key.Binding

	Restart, Rebuild, StopStart, OpenLogs key.Binding

	Follow, Filter, ClearFilter, NextSource, PrevSource, AllSources, Level, Wrap, JSON, ClearLogs key.Binding

	OpenTopic, Internal key.Binding

	PickTopic, Seek, Partition, Produce, Hex, Detail key.Binding

	Reset key.Binding

	JumpTrace, OpenTrace, TraceService, TraceStatus, TraceMinDur, TraceAll, SpanDetail, Back key.Binding
}

func defaultKeys() keyMap {
	return keyMap{
		Quit:    kb([]string{"q", "ctrl+c"}, "q", "quit"),
		Help:    kb([]string{"?"}, "?", "show/hide every key"),
		NextTab: kb([]string{"tab", "right", "L"}, "tab/→", "next view"),
		PrevTab: kb([]string{"shift+tab", "left", "H"}, "shift+tab/←", "previous view"),
		Tab1:    kb([]string{"1"}, "1", "services"),
		Tab2:    kb([]string{"2"}, "2", "logs"),
		Tab3:    kb([]string{"3"}, "3", "topics"),
		Tab4:    kb([]string{"4"}, "4", "messages"),
		Tab5:    kb([]string{"5"}, "5", "consumer groups"),
		Tab6:    kb([]string{"6"}, "6", "gateway"),
		Tab7:    kb([]string{"7"}, "7", "traces"),
		Mouse:   kb([]string{"M"}, "M", "toggle mouse (wheel scroll, click tabs)"),

		Up:     kb([]string{"up", "k"}, "↑/k", "up"),
		Down:   kb([]string{"down", "j"}, "↓/j", "down"),
		PgUp:   kb([]string{"pgup", "ctrl+u", "ctrl+b"}, "pgup", "page up"),
		PgDown: kb([]string{"pgdown", "ctrl+d", "ctrl+f"}, "pgdn", "page down"),
		Top:    kb([]string{"home", "g"}, "g/home", "first"),
		Bottom: kb([]string{"end", "G"}, "G/end", "last (and follow)"),

		Restart:   kb([]string{"r"}, "r", "restart service"),
		Rebuild:   kb([]string{"b"}, "b", "rebuild service"),
		StopStart: kb([]string{"s"}, "s", "stop / start service"),
		OpenLogs:  kb([]string{"enter", "l"}, "enter", "open its logs"),

		Follow:      kb([]string{"f", " "}, "f/space", "follow / pause"),
		Filter:      kb([]string{"/"}, "/", "filter (tab in prompt: substring ↔ regex)"),
		ClearFilter: kb([]string{"esc"}, "esc", "clear filter"),
		NextSource:  kb([]string{"]", "s"}, "]/s", "next source"),
		PrevSource:  kb([]string{"[", "S"}, "[/S", "previous source"),
		AllSources:  kb([]string{"a"}, "a", "all sources"),
		Level:       kb([]string{"e"}, "e", "level: error, warn+, info+, debug+, all"),
		Wrap:        kb([]string{"w"}, "w", "wrap long lines"),
		JSON:        kb([]string{"J"}, "J", "pretty-print JSON lines, fields one a row"),
		ClearLogs:   kb([]string{"c"}, "c", "clear the screen's buffer"),

		OpenTopic: kb([]string{"enter"}, "enter", "tail topic in Messages"),
		Internal:  kb([]string{"i"}, "i", "show internal topics"),

		PickTopic: kb([]string{"t"}, "t", "choose topic"),
		Seek:      kb([]string{"o"}, "o", "browse from offset / time / beginning"),
		Partition: kb([]string{"p"}, "p", "cycle partition"),
		Produce:   kb([]string{"P"}, "P", "produce a message"),
		Hex:       kb([]string{"x"}, "x", "value as hex"),
		Detail:    kb([]string{"enter"}, "enter", "expand / collapse the record"),

		Reset: kb([]string{"R"}, "R", "reset offsets (asks first)"),

		JumpTrace:    kb([]string{"T"}, "T", "open the trace of the request, log line or message"),
		OpenTrace:    kb([]string{"enter"}, "enter", "open the trace's waterfall"),
		TraceService: kb([]string{"s"}, "s", "only traces through a service (cycles)"),
		TraceStatus:  kb([]string{"e"}, "e", "only traces with / without errors (cycles)"),
		TraceMinDur:  kb([]string{"d"}, "d", "minimum duration (cycles)"),
		TraceAll:     kb([]string{"a"}, "a", "clear the filters"),
		SpanDetail:   kb([]string{"enter"}, "enter", "all of the span's attributes, events and links"),
		Back:         kb([]string{"esc", "backspace"}, "esc", "back"),
	}
}

type helpSection struct {
	title string
	keys  []key.Binding
}

// sections is the help screen; the descriptions are short so it fits 80x24 in three columns.
func (k keyMap) sections() []helpSection {
	h := func(keys, desc string) key.Binding { return kb(nil, keys, desc) }
	return []helpSection{
		{"Global", []key.Binding{h("1…7", "jump to view"), h("tab →", "next view"), h("⇧tab ←", "previous view"), h("?", "this help"), h("M", "mouse on/off"), h("T", "row's trace"), h("q ^c", "quit")}},
		{"Lists", []key.Binding{h("↑↓ j k", "move"), h("pgup pgdn", "page"), h("g G", "first / last")}},
		{"Services", []key.Binding{h("r", "restart"), h("b", "rebuild"), h("s", "stop / start"), h("enter", "its logs")}},
		{"Logs", []key.Binding{h("f space", "follow / pause"), h("/", "filter, k=v"), h("tab", "(in /) regex"), h("esc", "clear filter"), h("s ]", "next source"), h("S [", "prev source"), h("a", "all sources"), h("e", "level (cycles)"), h("w", "wrap lines"), h("J", "pretty JSON"), h("c", "clear buffer")}},
		{"Topics", []key.Binding{h("enter", "tail messages"), h("i", "internal topics")}},
		{"Groups", []key.Binding{h("R", "reset offsets")}},
		{"Messages", []key.Binding{h("t", "choose topic"), h("f", "follow / pause"), h("o", "read from…"), h("p", "partition"), h("P", "produce"), h("/", "filter records"), h("x", "hex value"), h("enter", "expand record")}},
		{"Traces", []key.Binding{h("enter", "waterfall / span"), h("s e d", "svc / err / time"), h("a", "clear filters"), h("esc", "back")}},
		{"Prompts", []key.Binding{h("enter", "confirm"), h("esc", "cancel"), h("tab", "next field"), h("ctrl+s", "send message")}},
	}
}

// helpView flows the sections into as many columns as the width allows, balanced in height;
// if they still do not fit, ↑↓ scroll it.
func (m *Model) helpView(w, h int) string {
	var blocks [][]string
	total := 0
	for _, sec := range m.keys.sections() {
		lines := []string{m.st.header.Render(sec.title)}
		for _, k := range sec.keys {
			lines = append(lines, fit(m.st.key.Render(k.Help().Key), 9)+" "+k.Help().Desc)
		}
		blocks = append(blocks, lines)
		total += len(lines) + 1
	}
	ncols := max(min(w/26, 4), 1)
	colW := w / ncols
	target := (total + ncols - 1) / ncols
	var cols [][]string
	var cur []string
	for _, bl := range blocks {
		if len(cur) > 0 && len(cur)+len(bl) > target && len(cols) < ncols-1 {
			cols = append(cols, cur)
			cur = nil
		}
		if len(cur) > 0 {
			cur = append(cur, "")
		}
		cur = append(cur, bl...)
	}
	cols = append(cols, cur)
	var out []string
	for row := 0; ; row++ {
		any := false
		var line strings.Builder
		for _, c := range cols {
			cell := ""
			if row < len(c) {
				cell = c[row]
				any = true
			}
			line.WriteString(fit(cell, colW))
		}
		if !any {
			break
		}
		out = append(out, strings.TrimRight(line.String(), " "))
	}
	m.helpOffset = min(m.helpOffset, max(len(out)-h, 0))
	return padLines(strings.Join(out[m.helpOffset:], "\n"), w, h)
}

// hint renders "key desc" pairs for the footer.
func (m *Model) hint(pairs ...string) string {
	var parts []string
	for i := 0; i+1 < len(pairs); i += 2 {
		parts = append(parts, m.st.key.Render(pairs[i])+" "+m.st.dim.Render(pairs[i+1]))
	}
	return strings.Join(parts, "  ")
}

// moveCursor applies the list keys (up, down, page up/down, top, bottom) to a cursor over n rows
// and keeps it on a row; it reports whether msg was one of them. The services, topics and groups
// views use it; logs, messages and gateway traffic scroll ring buffers their own way.
func (k keyMap) moveCursor(msg tea.KeyMsg, cursor *int, n int) bool {
	switch {
	case key.Matches(msg, k.Up):
		*cursor--
	case key.Matches(msg, k.Down):
		*cursor++
	case key.Matches(msg, k.PgUp):
		*cursor -= 10
	case key.Matches(msg, k.PgDown):
		*cursor += 10
	case key.Matches(msg, k.Top):
		*cursor = 0
	case key.Matches(msg, k.Bottom):
		*cursor = n - 1
	default:
		return false
	}
	*cursor = clampCursor(*cursor, n)
	return true
}

// clampCursor keeps a cursor on one of n rows (0 when there are none).
func clampCursor(c, n int) int { return min(max(c, 0), max(n-1, 0)) }
