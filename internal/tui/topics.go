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

type topicsState struct {
	list         []event.TopicInfo
	loaded       bool
	err          string
	cursor       int
	offset       int
	showInternal bool
}

func (t *topicsState) apply(msg topicsMsg) {
	if msg.err != nil {
		t.err = msg.err.Error()
		return
	}
	t.err, t.loaded = "", true
	t.list = msg.topics
	sort.Slice(t.list, func(i, j int) bool { return t.list[i].Name < t.list[j].Name })
	t.cursor = min(t.cursor, max(len(t.visible())-1, 0))
}

func internalTopic(ti event.TopicInfo) bool { return ti.Internal || strings.HasPrefix(ti.Name, "__") }

func (t *topicsState) visible() []event.TopicInfo {
	if t.showInternal {
		return t.list
	}
	out := make([]event.TopicInfo, 0, len(t.list))
	for _, ti := range t.list {
		if !internalTopic(ti) {
			out = append(out, ti)
		}
	}
	return out
}

func (m *Model) topicsKey(msg tea.KeyMsg) tea.Cmd {
	t := &m.topics
	k := m.keys
	vis := t.visible()
	if k.moveCursor(msg, &t.cursor, len(vis)) {
		return nil
	}
	switch {
	case key.Matches(msg, k.Internal):
		t.showInternal = !t.showInternal
		vis = t.visible()
	case key.Matches(msg, k.OpenTopic):
		if t.cursor < len(vis) {
			cmd := m.rec.setTopic(m, vis[t.cursor].Name)
			return tea.Batch(m.switchTab(tabMessages), cmd)
		}
	}
	t.cursor = clampCursor(t.cursor, len(vis))
	return nil
}

func (m *Model) topicsView(w, h int) string {
	t := &m.topics
	s := m.st
	var lines []string
	if t.err != "" {
		lines = append(lines, s.err.Render(" topics: "+t.err))
	}
	vis := t.visible()
	if !t.loaded {
		return strings.Join(append(lines, s.dim.Render(" loading topics…")), "\n")
	}
	if len(vis) == 0 {
		hidden := len(t.list) - len(vis)
		msg := " no topics yet: they appear when a service or `devstack produce` first writes"
		if hidden > 0 {
			msg += fmt.Sprintf(" (%d internal hidden, i shows them)", hidden)
		}
		return strings.Join(append(lines, s.dim.Render(msg)), "\n")
	}
	titles := []string{"TOPIC", "PARTS", "MESSAGES", "IN/s", "OUT/s", "END OFFSETS"}
	widths := tableLayout(w, []int{10, 5, 9, 7, 7, 12}, []int{2, 0, 0, 0, 0, 1}, 8)
	right := map[int]bool{1: true, 2: true, 3: true, 4: true}
	hdr := headerStyles(m, len(titles))
	lines = append(lines, " "+renderCells(titles, widths, hdr, right))

	detailH := min(max(h/3, 4), 10)
	bodyH := max(h-len(lines)-detailH-1, 3)
	t.offset = scrollOffset(t.offset, t.cursor, bodyH, len(vis))
	for i := t.offset; i < len(vis) && i < t.offset+bodyH; i++ {
		ti := vis[i]
		ends := make([]string, 0, len(ti.Partitions))
		for _, p := range ti.Partitions {
			ends = append(ends, fmt.Sprintf("%d:%d", p.Partition, p.EndOffset))
		}
		cells := []string{ti.Name, strconv.Itoa(len(ti.Partitions)), count(ti.Messages), rate(ti.RateIn), rate(ti.RateOut), strings.Join(ends, " ")}
		var st []func(string) string
		if ti.RateIn > 0 {
			st = []func(string) string{nil, nil, nil, func(c string) string { return s.ok.Render(c) }}
		}
		lines = append(lines, m.row(renderCells(cells, widths, st, right), i == t.cursor, w))
	}
	for len(lines) < h-detailH {
		lines = append(lines, "")
	}
	lines = append(lines, s.border.Render(strings.Repeat("─", w)))
	if t.cursor < len(vis) {
		ti := vis[t.cursor]
		d := []string{s.bold.Render(ti.Name) + s.dim.Render(fmt.Sprintf("  %d partitions, %d messages kept  (enter: tail it)", len(ti.Partitions), ti.Messages))}
		for _, p := range ti.Partitions {
			d = append(d, fmt.Sprintf("  partition %-3d offsets %d … %d  (%d kept)", p.Partition, p.StartOffset, p.EndOffset, p.EndOffset-p.StartOffset))
		}
		if len(ti.Configs) > 0 {
			keys := make([]string, 0, len(ti.Configs))
			for k := range ti.Configs {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var cf []string
			for _, k := range keys {
				cf = append(cf, k+"="+ti.Configs[k])
			}
			d = append(d, s.dim.Render("  configs: "+strings.Join(cf, " ")))
		}
		lines = append(lines, d...)
	}
	return strings.Join(lines, "\n")
}

func headerStyles(m *Model, n int) []func(string) string {
	out := make([]func(string) string, n)
	for i := range out {
		out[i] = func(c string) string { return m.st.header.Render(c) }
	}
	return out
}
