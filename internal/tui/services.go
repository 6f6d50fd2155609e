package tui

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/devstack-dev/devstack/internal/event"
)

// servicesState is the Services view: services then infrastructure components, one selectable
// item each; a service with several replicas shows one sub-row per instance.
type servicesState struct {
	cursor int
	offset int // first display row shown
}

func (s *servicesState) clamp(m *Model) {
	s.cursor = clampCursor(s.cursor, len(m.state.Services)+len(m.state.Components))
}

// selectedService returns the service under the cursor, if the cursor is on a service.
func (m *Model) selectedService() (event.Service, bool) {
	if m.svc.cursor < len(m.state.Services) {
		return m.state.Services[m.svc.cursor], true
	}
	return event.Service{}, false
}

func (m *Model) selectedComponent() (event.Component, bool) {
	i := m.svc.cursor - len(m.state.Services)
	if i >= 0 && i < len(m.state.Components) {
		return m.state.Components[i], true
	}
	return event.Component{}, false
}

func (m *Model) servicesKey(msg tea.KeyMsg) tea.Cmd {
	k := m.keys
	n := len(m.state.Services) + len(m.state.Components)
	if k.moveCursor(msg, &m.svc.cursor, n) {
		return m.fetchSelectedMetrics()
	}
	switch {
	case key.Matches(msg, k.Restart, k.Rebuild, k.StopStart):
		sv, ok := m.selectedService()
		if !ok {
			if c, ok := m.selectedComponent(); ok {
				return m.setFlash(c.Name+" is part of devstack itself: restart devstack to restart it", true)
			}
			return nil
		}
		name := sv.Name
		var verb string
		var fn func(context.Context, string) error
		switch {
		case key.Matches(msg, k.Restart):
			verb, fn = "restart", m.ctrl.Restart
		case key.Matches(msg, k.Rebuild):
			verb, fn = "rebuild", m.ctrl.Rebuild
		case sv.Status == event.StatusStopped || sv.Status == event.StatusFailed || sv.Status == event.StatusCompleted:
			verb, fn = "start", m.ctrl.Start
		default:
			verb, fn = "stop", m.ctrl.Stop
		}
		what := verb + " " + name
		return tea.Batch(m.setFlash(what+"…", false), action(m.ctx, what, func(ctx context.Context) error { return fn(ctx, name) }))
	case key.Matches(msg, k.OpenLogs):
		if sv, ok := m.selectedService(); ok {
			m.logs.setSource(m, sv.Name)
		} else if c, ok := m.selectedComponent(); ok {
			m.logs.setSource(m, c.Name)
		}
		return m.switchTab(tabLogs)
	}
	m.svc.clamp(m)
	return nil
}

// svcRow is one display row of the services table.
type svcRow struct {
	item  int // selectable item this row belongs to
	cells []string
	style []func(string) string // per cell, may be nil
}

func (m *Model) serviceRows() []svcRow {
	now := m.now()
	s := m.st
	var rows []svcRow
	statusCell := func(st event.Status) func(string) string {
		return func(c string) string { return s.status(st).Render(c) }
	}
	for i, sv := range m.state.Services {
		readyN, cpu, rss := 0, 0.0, uint64(0)
		for _, in := range sv.Instances {
			if in.Ready {
				readyN++
			}
			cpu += in.CPU
			rss += in.RSS
		}
		replicas := sv.Replicas
		if replicas == 0 {
			replicas = len(sv.Instances)
		}
		pid, port, up := "", "", ""
		if len(sv.Instances) == 1 {
			in := sv.Instances[0]
			pid, port = num(in.PID), num(in.Port)
			if running(in.Status) && !in.StartedAt.IsZero() {
				up = humanDuration(now.Sub(in.StartedAt))
			}
		} else if len(sv.Instances) > 1 {
			pid = fmt.Sprintf("%d inst", len(sv.Instances))
		}
		reload, reloadStyle := "-", (func(string) string)(nil)
		if r := sv.LastReload; r != nil {
			if r.OK {
				reload = "✓ " + m.ago(r.At)
			} else {
				reload = "✗ failed " + m.ago(r.At)
				reloadStyle = func(c string) string { return s.err.Render(c) }
			}
		}
		cpuS, rssS := "", ""
		if len(sv.Instances) > 0 && running(sv.Status) {
			cpuS, rssS = fmt.Sprintf("%.0f%%", cpu), humanBytes(rss)
			if rss == 0 {
				rssS = "-"
			}
		}
		rows = append(rows, svcRow{
			item:  i,
			cells: []string{sv.Name, string(sv.Status), fmt.Sprintf("%d/%d", readyN, replicas), pid, port, strconv.Itoa(sv.Restarts), up, cpuS, rssS, reload},
			style: []func(string) string{func(c string) string { return s.bold.Render(c) }, statusCell(sv.Status), nil, nil, nil, nil, nil, nil, nil, reloadStyle},
		})
		if len(sv.Instances) > 1 {
			for _, in := range sv.Instances {
				up := ""
				if running(in.Status) && !in.StartedAt.IsZero() {
					up = humanDuration(now.Sub(in.StartedAt))
				}
				ready := ""
				if in.Ready {
					ready = "✓"
				}
				rssS := "-"
				if in.RSS > 0 {
					rssS = humanBytes(in.RSS)
				}
				rows = append(rows, svcRow{
					item:  i,
					cells: []string{fmt.Sprintf("  └ #%d", in.Replica), string(in.Status), ready, num(in.PID), num(in.Port), strconv.Itoa(in.Restarts), up, fmt.Sprintf("%.0f%%", in.CPU), rssS, ""},
					style: []func(string) string{func(c string) string { return s.dim.Render(c) }, statusCell(in.Status)},
				})
			}
		}
	}
	for j, c := range m.state.Components {
		port := ""
		if _, p, err := net.SplitHostPort(c.Addr); err == nil {
			port = p
		}
		detail := c.Detail
		if detail == "" && c.StartedIn > 0 {
			detail = "started in " + humanDuration(c.StartedIn)
		}
		if c.Error != "" {
			detail = c.Error
		} else if len(c.Problems) > 0 {
			detail += " · " + c.Problems[0]
		}
		rows = append(rows, svcRow{
			item:  len(m.state.Services) + j,
			cells: []string{c.Name, string(c.Status), "", "", port, "", "", "", "", strings.TrimSpace(detail)},
			style: []func(string) string{func(c string) string { return s.dim.Render(c) }, statusCell(c.Status)},
		})
	}
	return rows
}

func running(st event.Status) bool {
	return st == event.StatusReady || st == event.StatusStarting || st == event.StatusStopping
}

func num(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// tableLayout gives the widths of columns, growing the flex ones into the room left.
// flex weights: 0 fixed, else the share of the remaining width.
func tableLayout(w int, fixed []int, flex []int, minFlex int) []int {
	out := make([]int, len(fixed))
	used := 1 + len(fixed) - 1 // marker plus separators
	totalWeight := 0
	for i, f := range fixed {
		used += f
		totalWeight += flex[i]
		out[i] = f
	}
	room := max(w-used, 0)
	left := room
	for i := range out {
		if flex[i] == 0 {
			continue
		}
		add := room * flex[i] / totalWeight
		out[i] += add
		left -= add
	}
	for i := range out { // rounding leftovers to the first flex column
		if flex[i] > 0 {
			out[i] += left
			break
		}
	}
	for i := range out {
		if flex[i] > 0 && out[i] < minFlex {
			out[i] = minFlex
		}
	}
	return out
}

// renderCells fits cells into widths and joins them; right-aligned columns are listed in right.
func renderCells(cells []string, widths []int, style []func(string) string, right map[int]bool) string {
	parts := make([]string, len(widths))
	for i, wd := range widths {
		c := ""
		if i < len(cells) {
			c = cells[i]
		}
		if right[i] {
			c = fitRight(oneLine(c), wd)
		} else {
			c = fit(oneLine(c), wd)
		}
		if i < len(style) && style[i] != nil && strings.TrimSpace(c) != "" {
			c = style[i](c)
		}
		parts[i] = c
	}
	return strings.Join(parts, " ")
}

func (m *Model) servicesView(w, h int) string {
	if !m.haveState {
		return m.st.dim.Render(" waiting for the stack…")
	}
	if len(m.state.Services)+len(m.state.Components) == 0 {
		return m.st.dim.Render(" no services configured")
	}
	titles := []string{"NAME", "STATUS", "READY", "PID", "PORT", "RST", "UPTIME", "CPU", "RSS", "LAST RELOAD"}
	widths := tableLayout(w, []int{8, 9, 5, 7, 5, 3, 7, 5, 6, 8}, []int{1, 0, 0, 0, 0, 0, 0, 0, 0, 2}, 8)
	widths[0] = min(widths[0], 24)
	widths[len(widths)-1] = max(w-1-(len(widths)-1)-sum(widths[:len(widths)-1]), 4)
	right := map[int]bool{3: true, 4: true, 5: true, 6: true, 7: true, 8: true}

	rows := m.serviceRows()
	detailMin := 8
	tableH := min(len(rows)+1, max(h-detailMin, h/2))
	bodyH := tableH - 1
	// keep the selected item's rows on screen
	first, last := -1, -1
	for i, r := range rows {
		if r.item == m.svc.cursor {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first >= 0 {
		if first < m.svc.offset {
			m.svc.offset = first
		}
		if last >= m.svc.offset+bodyH {
			m.svc.offset = max(last-bodyH+1, 0)
		}
	}
	m.svc.offset = min(m.svc.offset, max(len(rows)-bodyH, 0))

	var b strings.Builder
	hdr := make([]func(string) string, len(titles))
	for i := range hdr {
		hdr[i] = func(c string) string { return m.st.header.Render(c) }
	}
	b.WriteString(" " + renderCells(titles, widths, hdr, right))
	for i := m.svc.offset; i < len(rows) && i < m.svc.offset+bodyH; i++ {
		r := rows[i]
		sel := r.item == m.svc.cursor && i == first
		line := renderCells(r.cells, widths, r.style, right)
		b.WriteString("\n" + m.row(line, sel, w))
	}
	for i := 1 + min(len(rows)-m.svc.offset, bodyH); i < tableH; i++ {
		b.WriteString("\n")
	}
	if tableH < h {
		b.WriteString("\n" + m.st.border.Render(strings.Repeat("─", w)))
	}
	detailH := h - tableH - 1
	if detailH > 0 {
		b.WriteString("\n" + m.serviceDetail(w, detailH))
	}
	return b.String()
}

func sum(xs []int) int {
	t := 0
	for _, x := range xs {
		t += x
	}
	return t
}

// serviceDetail explains the selected item: why it failed, its last reload and its latest output.
func (m *Model) serviceDetail(w, h int) string {
	s := m.st
	var lines []string
	add := func(l string) { lines = append(lines, wrapLines(l, w)...) }
	if c, ok := m.selectedComponent(); ok {
		add(s.bold.Render(c.Name) + "  " + s.status(c.Status).Render(string(c.Status)) + "  " + c.Addr)
		if c.Detail != "" {
			add(c.Detail)
		}
		if c.StartedIn > 0 {
			add(s.dim.Render("started in " + humanDuration(c.StartedIn)))
		}
		if c.Error != "" {
			add(s.err.Render("error: " + c.Error))
		}
		for _, p := range c.Problems {
			add(s.err.Render("! " + p))
		}
		return strings.Join(lines, "\n")
	}
	sv, ok := m.selectedService()
	if !ok {
		return ""
	}
	head := s.bold.Render(sv.Name) + "  " + s.status(sv.Status).Render(string(sv.Status))
	if sv.StartedIn > 0 {
		head += s.dim.Render("  started in " + humanDuration(sv.StartedIn))
	}
	if sv.Restarts > 0 {
		head += s.warn.Render(fmt.Sprintf("  %d restarts", sv.Restarts))
	}
	for _, in := range sv.Instances {
		if in.ExitCode != 0 {
			head += s.err.Render(fmt.Sprintf("  #%d exited %d", in.Replica, in.ExitCode))
		}
	}
	add(head)
	if r := sv.LastReload; r != nil {
		trig := ""
		if r.Trigger != "" {
			trig = " (" + r.Trigger + ")"
		}
		if r.OK {
			add(s.dim.Render(fmt.Sprintf("last reload %s: ok in %s%s", m.fmtTime(r.At, "15:04:05"), humanDuration(r.Duration), trig)))
		} else {
			add(s.err.Render(fmt.Sprintf("last reload %s FAILED after %s%s", m.fmtTime(r.At, "15:04:05"), humanDuration(r.Duration), trig)))
		}
	}
	if sv.Error != "" {
		for _, l := range strings.Split(strings.TrimRight(sv.Error, "\n"), "\n") {
			add(s.err.Render(stripANSI(l)))
		}
	}
	if r := sv.LastReload; r != nil && !r.OK && r.Error != "" {
		// the build output: its end is what explains the failure
		out := strings.Split(strings.TrimRight(r.Error, "\n"), "\n")
		room := max(h-len(lines), 3)
		if len(out) > room {
			out = append([]string{s.dim.Render(fmt.Sprintf("… %d more lines of build output", len(out)-room+1))}, out[len(out)-room+1:]...)
		}
		for _, l := range out {
			add(s.err.Render(stripANSI(l)))
		}
	}
	lines = append(lines, m.metricLines(sv.Name, w)...)
	if room := h - len(lines) - 1; room > 0 {
		recent := m.logs.recent(sv.Name, room, 4000)
		if len(recent) > 0 {
			lines = append(lines, s.dim.Render("latest output (enter: all logs)"))
			for _, e := range recent {
				t := oneLine(stripANSI(e.line.Text))
				if structuredLine(&e.line) {
					t = levelTag(e.line.Severity) + t
				}
				l := s.dim.Render(m.fmtTime(e.line.Time, "15:04:05")) + " " + t
				if st, ok := s.level(e.level); ok {
					l = s.dim.Render(m.fmtTime(e.line.Time, "15:04:05")) + " " + st.Render(t)
				}
				if f := fieldsText(&e.line); f != "" {
					l += "  " + s.dim.Render(f)
				}
				lines = append(lines, trunc(l, w))
			}
		}
	}
	if len(lines) > h {
		lines = lines[:h]
	}
	return strings.Join(lines, "\n")
}
