package tui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/devstack-dev/devstack/internal/event"
)

type gatewayState struct {
	routes   []event.RouteStats
	loaded   bool
	err      string
	access   *ring[event.Access]
	cursor   uint64 // absolute index of the selected request
	follow   bool   // the cursor follows the newest request
	offsetUI int
}

func (g *gatewayState) applyRoutes(msg routesMsg) {
	if msg.err != nil {
		g.err = msg.err.Error()
		return
	}
	g.err, g.loaded, g.routes = "", true, msg.routes
}

func (g *gatewayState) push(a event.Access) {
	g.access.push(a)
	if g.follow {
		g.cursor = g.access.next() - 1
	} else if g.cursor < g.access.first() {
		g.cursor = g.access.first()
	}
}

func (m *Model) gatewayKey(msg tea.KeyMsg) tea.Cmd {
	g := &m.gw
	k := m.keys
	move := func(d int) {
		if g.access.len() == 0 {
			return
		}
		c := max(int64(g.cursor)+int64(d), int64(g.access.first()))
		last := int64(g.access.next() - 1)
		g.follow = c >= last
		g.cursor = uint64(min(c, last))
	}
	switch {
	case key.Matches(msg, k.Up):
		move(-1)
	case key.Matches(msg, k.Down):
		move(1)
	case key.Matches(msg, k.PgUp):
		move(-10)
	case key.Matches(msg, k.PgDown):
		move(10)
	case key.Matches(msg, k.Top):
		g.cursor, g.follow = g.access.first(), false
	case key.Matches(msg, k.Bottom), key.Matches(msg, k.Follow):
		move(g.access.len())
	case key.Matches(msg, k.JumpTrace):
		a, _ := g.access.abs(g.cursor)
		return m.jumpToTrace(a.TraceID, "this request has no trace id (the gateway traces requests when telemetry is on)")
	}
	return nil
}

func (m *Model) gatewayView(w, h int) string {
	g := &m.gw
	s := m.st
	var lines []string
	if g.err != "" {
		lines = append(lines, s.err.Render(" routes: "+g.err))
	}
	titles := []string{"ROUTE", "SERVICE", "REQ/s", "P50", "P99", "2xx", "4xx", "5xx", "UP"}
	widths := tableLayout(w, []int{12, 9, 6, 7, 7, 5, 5, 5, 5}, []int{1, 0, 0, 0, 0, 0, 0, 0, 0}, 10)
	right := map[int]bool{2: true, 3: true, 4: true, 5: true, 6: true, 7: true, 8: true}
	lines = append(lines, " "+renderCells(titles, widths, headerStyles(m, len(titles)), right))
	switch {
	case !g.loaded && g.err == "":
		lines = append(lines, s.dim.Render(" loading routes…"))
	case len(g.routes) == 0 && g.loaded:
		lines = append(lines, s.dim.Render(" no routes: add gateway.routes to devstack.yaml"))
	}
	routesH := min(len(g.routes), max(h/3, 2))
	for i := 0; i < routesH; i++ {
		r := g.routes[i]
		up, healthy := 0, 0
		for _, u := range r.Upstreams {
			up++
			if u.Healthy && u.Ready {
				healthy++
			}
		}
		upS := fmt.Sprintf("%d/%d", healthy, up)
		upStyle := s.ok
		if healthy < up || up == 0 {
			upStyle = s.err
		}
		c5 := r.Status["5xx"]
		st := []func(string) string{nil, nil, nil, nil, nil, nil, nil,
			func(c string) string {
				if c5 > 0 {
					return s.err.Render(c)
				}
				return c
			},
			func(c string) string { return upStyle.Render(c) }}
		cells := []string{r.Route, r.Service, rate(r.Rate), latency(r.P50), latency(r.P99),
			count(r.Status["2xx"]), count(r.Status["4xx"]), count(c5), upS}
		lines = append(lines, " "+renderCells(cells, widths, st, right))
	}
	if len(g.routes) > routesH {
		lines = append(lines, s.dim.Render(fmt.Sprintf(" … %d more routes (widen the terminal)", len(g.routes)-routesH)))
	}
	lines = append(lines, s.border.Render(strings.Repeat("─", w)))

	// recent requests, newest at the bottom
	rt := []string{"TIME", "METHOD", "CODE", "LATENCY", "PATH", "AUTH", "SUBJECT"}
	rw := tableLayout(w, []int{12, 6, 4, 8, 10, 10, 8}, []int{0, 0, 0, 0, 3, 2, 1}, 6)
	rright := map[int]bool{2: true, 3: true}
	lines = append(lines, " "+renderCells(rt, rw, headerStyles(m, len(rt)), rright))
	if g.access.len() == 0 {
		lines = append(lines, s.dim.Render(" no requests yet"))
		return strings.Join(lines, "\n")
	}
	bodyH := h - len(lines) - 2
	if bodyH < 1 {
		return strings.Join(lines, "\n")
	}
	ci := int(g.cursor - g.access.first())
	if ci < g.offsetUI {
		g.offsetUI = ci
	}
	if ci >= g.offsetUI+bodyH {
		g.offsetUI = ci - bodyH + 1
	}
	g.offsetUI = min(max(g.offsetUI, 0), max(g.access.len()-bodyH, 0))
	for i := g.offsetUI; i < g.access.len() && i < g.offsetUI+bodyH; i++ {
		a := g.access.ptr(i)
		code := a.Status
		st := []func(string) string{nil, nil, func(c string) string { return s.httpStatus(code).Render(c) }, nil, nil, m.authStyle(a.Auth)}
		path := a.Path
		if a.Host != "" && !strings.HasPrefix(a.Host, "127.0.0.1") && !strings.HasPrefix(a.Host, "localhost") {
			path = a.Host + path
		}
		cells := []string{m.fmtTime(a.Time, "15:04:05.000"), a.Method, strconv.Itoa(a.Status), latency(a.Latency), path, a.Auth, a.Subject}
		lines = append(lines, m.row(renderCells(cells, rw, st, rright), i == ci, w))
	}
	for len(lines) < h-1 {
		lines = append(lines, "")
	}
	if a, ok := g.access.abs(g.cursor); ok {
		d := fmt.Sprintf("id %s  route %s → %s %s  %s  from %s", a.RequestID, a.Route, a.Service, a.Upstream, humanBytes(uint64(max(a.Bytes, 0))), a.ClientIP)
		if a.TraceID != "" { // first: the request id and the route can be long
			d = "trace " + a.TraceID + " (T)  " + d
		}
		lines = append(lines, s.dim.Render(trunc(oneLine(d), w)))
	}
	return strings.Join(lines, "\n")
}

func (m *Model) authStyle(decision string) func(string) string {
	s := m.st
	return func(c string) string {
		switch {
		case strings.HasPrefix(decision, "ok"):
			return s.ok.Render(c)
		case decision == "" || decision == "none":
			return s.dim.Render(c)
		}
		return s.warn.Render(c)
	}
}
