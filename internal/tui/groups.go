package tui

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/devstack-dev/devstack/internal/event"
)

type groupsState struct {
	list   []event.GroupInfo
	loaded bool
	err    string
	cursor int
	offset int
}

func (g *groupsState) apply(msg groupsMsg) {
	if msg.err != nil {
		g.err = msg.err.Error()
		return
	}
	g.err, g.loaded = "", true
	g.list = msg.groups
	sort.Slice(g.list, func(i, j int) bool { return g.list[i].Name < g.list[j].Name })
	for i := range g.list {
		o := g.list[i].Offsets
		sort.Slice(o, func(a, b int) bool {
			if o[a].Topic != o[b].Topic {
				return o[a].Topic < o[b].Topic
			}
			return o[a].Partition < o[b].Partition
		})
	}
	g.cursor = min(g.cursor, max(len(g.list)-1, 0))
}

func (m *Model) groupsKey(msg tea.KeyMsg) tea.Cmd {
	g := &m.groups
	k := m.keys
	if k.moveCursor(msg, &g.cursor, len(g.list)) {
		return nil
	}
	switch {
	case key.Matches(msg, k.Reset):
		if g.cursor < len(g.list) {
			m.modal = newResetModal(m, g.list[g.cursor])
		}
	}
	g.cursor = clampCursor(g.cursor, len(g.list))
	return nil
}

func groupTopics(gi event.GroupInfo) []string {
	var ts []string
	seen := map[string]bool{}
	for _, o := range gi.Offsets {
		if !seen[o.Topic] {
			seen[o.Topic] = true
			ts = append(ts, o.Topic)
		}
	}
	for _, mb := range gi.Members {
		for t := range mb.Assignment {
			if !seen[t] {
				seen[t] = true
				ts = append(ts, t)
			}
		}
	}
	sort.Strings(ts)
	return ts
}

func (m *Model) groupsView(w, h int) string {
	g := &m.groups
	s := m.st
	var lines []string
	if g.err != "" {
		lines = append(lines, s.err.Render(" consumer groups: "+g.err))
	}
	if !g.loaded {
		return strings.Join(append(lines, s.dim.Render(" loading consumer groups…")), "\n")
	}
	if len(g.list) == 0 {
		return strings.Join(append(lines, s.dim.Render(" no consumer groups yet: they appear when a service joins one")), "\n")
	}
	titles := []string{"GROUP", "STATE", "MEMBERS", "LAG", "TOPICS"}
	widths := tableLayout(w, []int{10, 12, 7, 8, 10}, []int{1, 0, 0, 0, 1}, 8)
	right := map[int]bool{2: true, 3: true}
	lines = append(lines, " "+renderCells(titles, widths, headerStyles(m, len(titles)), right))
	listH := min(len(g.list), max(h/3, 3))
	if g.cursor < g.offset {
		g.offset = g.cursor
	}
	if g.cursor >= g.offset+listH {
		g.offset = g.cursor - listH + 1
	}
	for i := g.offset; i < len(g.list) && i < g.offset+listH; i++ {
		gi := g.list[i]
		lagStyle := s.ok
		if gi.Lag > 0 {
			lagStyle = s.warn
		}
		st := []func(string) string{nil, nil, nil, func(c string) string { return lagStyle.Render(c) }}
		cells := []string{gi.Name, gi.State, strconv.Itoa(len(gi.Members)), count(gi.Lag), strings.Join(groupTopics(gi), " ")}
		lines = append(lines, m.row(renderCells(cells, widths, st, right), i == g.cursor, w))
	}
	lines = append(lines, s.border.Render(strings.Repeat("─", w)))
	if g.cursor >= len(g.list) {
		return strings.Join(lines, "\n")
	}
	gi := g.list[g.cursor]
	head := s.bold.Render(gi.Name) + "  " + gi.State
	if gi.Protocol != "" {
		head += s.dim.Render("  protocol " + gi.Protocol)
	}
	head += fmt.Sprintf("  total lag %d", gi.Lag)
	lines = append(lines, head)
	// offsets per partition, the heart of the view
	ow := tableLayout(w, []int{10, 4, 10, 10, 8}, []int{1, 0, 0, 0, 0}, 8)
	ow[0] = min(ow[0], 40)
	oright := map[int]bool{1: true, 2: true, 3: true, 4: true}
	lines = append(lines, " "+renderCells([]string{"TOPIC", "PART", "COMMITTED", "END", "LAG"}, ow, headerStyles(m, 5), oright))
	for _, o := range gi.Offsets {
		lagStyle := s.ok
		if o.Lag > 0 {
			lagStyle = s.warn
		}
		committed := strconv.FormatInt(o.Committed, 10)
		if o.Committed < 0 {
			committed = "-"
		}
		cells := []string{o.Topic, strconv.Itoa(int(o.Partition)), committed, strconv.FormatInt(o.End, 10), strconv.FormatInt(o.Lag, 10)}
		lines = append(lines, " "+renderCells(cells, ow, []func(string) string{nil, nil, nil, nil, func(c string) string { return lagStyle.Render(c) }}, oright))
	}
	if len(gi.Members) == 0 {
		lines = append(lines, s.dim.Render(" no active members (R resets its offsets)"))
	} else {
		lines = append(lines, s.bold.Render(" members"))
		for _, mb := range gi.Members {
			var as []string
			ts := make([]string, 0, len(mb.Assignment))
			for t := range mb.Assignment {
				ts = append(ts, t)
			}
			sort.Strings(ts)
			for _, t := range ts {
				ps := make([]string, 0, len(mb.Assignment[t]))
				for _, p := range mb.Assignment[t] {
					ps = append(ps, strconv.Itoa(int(p)))
				}
				as = append(as, t+"["+strings.Join(ps, ",")+"]")
			}
			who := mb.ClientID
			if who == "" {
				who = mb.ID
			}
			lines = append(lines, trunc(fmt.Sprintf("  %s %s  %s", who, s.dim.Render(mb.Host), strings.Join(as, " ")), w))
		}
	}
	return strings.Join(lines, "\n")
}
