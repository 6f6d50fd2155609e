package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/muesli/termenv"

	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
)

type tab int

const (
	tabServices tab = iota
	tabLogs
	tabTopics
	tabMessages
	tabGroups
	tabGateway
	tabTraces
	numTabs
)

var tabNames = [numTabs]string{"Services", "Logs", "Topics", "Messages", "Groups", "Gateway", "Traces"}

const (
	defaultLogCap = 10000 // log lines kept
	defaultMsgCap = 2000  // records kept in the Messages view
	accessCap     = 1000  // gateway requests kept
	tailRecords   = 200   // records shown when a topic tap starts
	flashFor      = 6 * time.Second
	minWidth      = 40
	minHeight     = 10
	chromeHeight  = 3 // header, tab bar, footer
)

// Model is the UI's state. Update and View are called by bubbletea on one goroutine.
type Model struct {
	ctrl   control.Controller
	opts   Options
	ctx    context.Context
	cancel context.CancelFunc
	now    func() time.Time
	loc    *time.Location
	st     styles
	plain  bool // no styling at all: markers carry the selection
	keys   keyMap

	width, height int
	tab           tab
	help          bool
	helpOffset    int
	mouse         bool
	quitting      bool

	state      event.State
	haveState  bool
	evGen      int
	evCh       <-chan event.Event
	evReceived bool   // the current subscription delivered at least one event
	connErr    string // why the event stream is down ("" while it is up)

	tickGen  int
	fetching map[string]bool

	svc    servicesState
	logs   logsState
	topics topicsState
	rec    recordsState
	groups groupsState
	gw     gatewayState
	otlp   otlpMetricsState // the selected service's OTLP metrics
	traces tracesState

	modal modal
	flash flash

	view  string // last rendered frame
	dirty bool   // the frame must be rendered again
}

type flash struct {
	text string
	err  bool
	id   int
}

func newModel(parent context.Context, ctrl control.Controller, o Options, c config) *Model {
	ctx, cancel := context.WithCancel(parent)
	r := c.renderer(o.NoColor)
	m := &Model{
		ctrl:     ctrl,
		opts:     o,
		ctx:      ctx,
		cancel:   cancel,
		now:      c.now,
		loc:      c.loc,
		st:       newStyles(r),
		plain:    r.ColorProfile() == termenv.Ascii,
		keys:     defaultKeys(),
		fetching: map[string]bool{},
		dirty:    true,
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.loc == nil {
		m.loc = time.Local
	}
	logCap, msgCap := c.logCap, c.msgCap
	if logCap <= 0 {
		logCap = defaultLogCap
	}
	if msgCap <= 0 {
		msgCap = defaultMsgCap
	}
	m.logs = newLogsState(logCap)
	m.rec = newRecordsState(msgCap)
	m.gw = gatewayState{access: newRing[event.Access](accessCap), follow: true}
	m.connErr = "connecting…"
	return m
}

// Init subscribes to state events and logs.
func (m *Model) Init() tea.Cmd {
	m.evGen, m.logs.gen = 1, 1
	return tea.Batch(
		subscribeCmd(m.ctx, m.ctrl, m.evGen),
		subscribeLogsCmd(m.ctx, m.ctrl, m.logs.gen, m.logs.ring.cap()),
		m.enterTab(),
	)
}

// Update applies one message. It never blocks: I/O is returned as commands.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd, changed := m.update(msg)
	if changed {
		m.dirty = true
	}
	return m, cmd
}

func (m *Model) update(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return nil, true
	case tea.KeyMsg:
		return m.handleKey(msg), true
	case tea.MouseMsg:
		return m.handleMouse(msg)

	case subscribedMsg:
		if msg.gen != m.evGen {
			return nil, false
		}
		if msg.err != nil {
			if m.ctx.Err() != nil {
				return nil, false
			}
			m.connErr = msg.err.Error()
			return retryCmd("events", msg.gen), true
		}
		m.state, m.haveState, m.connErr, m.evReceived = msg.state, true, "", false
		m.evCh = msg.ch
		m.svc.clamp(m)
		return waitEvents(msg.gen, msg.ch), true
	case eventsMsg:
		if msg.gen != m.evGen {
			return nil, false
		}
		flashID := m.flash.id
		changed := m.applyEvents(msg.events)
		var clear tea.Cmd
		if m.flash.id != flashID { // a stack notice: show it for a while
			id := m.flash.id
			clear = tea.Tick(flashFor, func(time.Time) tea.Msg { return clearFlashMsg{id: id} })
		}
		if len(msg.events) > 0 {
			m.evReceived = true
		}
		if msg.closed {
			if m.ctx.Err() != nil {
				return nil, changed
			}
			m.evGen++
			m.connErr = "reconnecting…"
			if m.evReceived {
				return tea.Batch(clear, subscribeCmd(m.ctx, m.ctrl, m.evGen)), true
			}
			return tea.Batch(clear, retryCmd("events", m.evGen)), true
		}
		return tea.Batch(clear, waitEvents(msg.gen, m.evCh)), changed
	case retryMsg:
		return m.retry(msg), false

	case logsSubscribedMsg, logsMsg:
		return m.updateLogsStream(msg)
	case tapOpenedMsg, recordsMsg, schemaMsg:
		return m.updateRecordsStream(msg)

	case tickMsg:
		if msg.gen != m.tickGen || !tabHasClock(m.tab) {
			return nil, false
		}
		return tea.Batch(m.refresh(), tickCmd(msg.gen)), tabHasClock(m.tab)
	case topicsMsg:
		m.fetching["topics"] = false
		m.topics.apply(msg)
		m.rec.topicsKnown(m.topics.list)
		return nil, m.tab == tabTopics || m.tab == tabMessages
	case groupsMsg:
		m.fetching["groups"] = false
		m.groups.apply(msg)
		return nil, m.tab == tabGroups
	case routesMsg:
		m.fetching["routes"] = false
		m.gw.applyRoutes(msg)
		return nil, m.tab == tabGateway
	case svcMetricsMsg:
		m.fetching["svcmetrics"] = false
		changed := m.otlp.apply(msg) && m.tab == tabServices
		if sv, ok := m.selectedService(); ok && sv.Name != msg.service && m.tab == tabServices {
			return m.fetchSelectedMetrics(), changed // the selection moved while this one was asked
		}
		return nil, changed
	case tracesMsg:
		return m.applyTraces(msg)
	case traceMsg:
		return m.applyTrace(msg)

	case actionMsg:
		if msg.err != nil {
			return m.setFlash(fmt.Sprintf("%s: %v", msg.what, msg.err), true), true
		}
		cmd := m.setFlash(msg.what+": done", false)
		// show the effect of the action at once rather than on the next tick
		return tea.Batch(cmd, m.refresh()), true
	case clearFlashMsg:
		if msg.id == m.flash.id && m.flash.text != "" {
			m.flash.text = ""
			return nil, true
		}
		return nil, false
	}
	// components inside modals (text inputs) may send their own messages
	if m.modal != nil {
		return m.modal.passthrough(m, msg), true
	}
	return nil, false
}

func (m *Model) retry(msg retryMsg) tea.Cmd {
	if m.ctx.Err() != nil {
		return nil
	}
	switch msg.what {
	case "events":
		if msg.gen == m.evGen {
			return subscribeCmd(m.ctx, m.ctrl, m.evGen)
		}
	case "logs":
		if msg.gen == m.logs.gen {
			return subscribeLogsCmd(m.ctx, m.ctrl, m.logs.gen, m.logs.ring.cap())
		}
	case "tap":
		if msg.gen == m.rec.gen {
			return m.reopenTap()
		}
	}
	return nil
}

// applyEvents folds state events into the snapshot; it reports whether the visible view changed.
func (m *Model) applyEvents(evs []event.Event) bool {
	changed := false
	for _, ev := range evs {
		switch ev.Kind {
		case event.KindService, event.KindComponent:
			// the header counts services and components on every view
			changed = m.state.Apply(ev) || changed
		case event.KindAccess:
			if ev.Access == nil {
				continue
			}
			m.gw.push(*ev.Access)
			changed = changed || m.tab == tabGateway
		case event.KindStack:
			m.flash = flash{text: ev.Message, err: ev.Level == "error", id: m.flash.id + 1}
			changed = true
		}
	}
	m.svc.clamp(m)
	return changed
}

func (m *Model) setFlash(text string, isErr bool) tea.Cmd {
	m.flash.id++
	m.flash.text, m.flash.err = text, isErr
	id := m.flash.id
	return tea.Tick(flashFor, func(time.Time) tea.Msg { return clearFlashMsg{id: id} })
}

// tabHasClock: views that show ages or polled data and so are re-rendered every second.
func tabHasClock(t tab) bool {
	return t == tabServices || t == tabTopics || t == tabGroups || t == tabGateway || t == tabTraces
}

// enterTab starts what the visible view needs: an immediate fetch and the refresh tick, if any.
// Changing tab invalidates the previous tick, so at most one timer runs and only for a view on screen.
func (m *Model) enterTab() tea.Cmd {
	m.tickGen++
	var cmds []tea.Cmd
	cmds = append(cmds, m.refresh())
	if m.tab == tabMessages {
		cmds = append(cmds, m.fetch("topics"))
	}
	if tabHasClock(m.tab) {
		cmds = append(cmds, tickCmd(m.tickGen))
	}
	return tea.Batch(cmds...)
}

// refresh fetches the polled data the visible view shows.
func (m *Model) refresh() tea.Cmd {
	switch m.tab {
	case tabTopics:
		return m.fetch("topics")
	case tabGroups:
		return m.fetch("groups")
	case tabGateway:
		return m.fetch("routes")
	case tabServices:
		return m.fetchSelectedMetrics()
	case tabTraces:
		if m.traces.wf.id != "" {
			return m.fetch("trace")
		}
		return m.fetch("traces")
	}
	return nil
}

// fetch starts one poll unless the previous one is still running.
func (m *Model) fetch(what string) tea.Cmd {
	if m.fetching[what] {
		return nil
	}
	m.fetching[what] = true
	switch what {
	case "topics":
		return fetchTopics(m.ctx, m.ctrl)
	case "groups":
		return fetchGroups(m.ctx, m.ctrl)
	case "routes":
		return fetchRoutes(m.ctx, m.ctrl)
	case "traces":
		return fetchTraces(m.ctx, m.ctrl, m.traces.query())
	case "trace":
		return fetchTrace(m.ctx, m.ctrl, m.traces.wf.id)
	}
	m.fetching[what] = false
	return nil
}

func (m *Model) switchTab(t tab) tea.Cmd {
	if t == m.tab {
		return nil
	}
	m.tab = t
	return m.enterTab()
}

func (m *Model) quit() tea.Cmd {
	m.quitting = true
	m.cancel()
	return tea.Quit
}

func (m *Model) handleKey(msg tea.KeyMsg) tea.Cmd {
	if msg.Type == tea.KeyCtrlC {
		return m.quit()
	}
	if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste && !m.typing() {
		// Keys typed faster than the terminal is read arrive as one message ("4P", "/err"): take them
		// one by one, and hand the rest whole to a prompt one of them opens.
		var cmds []tea.Cmd
		for i, r := range msg.Runes {
			if m.typing() {
				cmds = append(cmds, m.handleKey(tea.KeyMsg{Type: tea.KeyRunes, Runes: msg.Runes[i:], Alt: msg.Alt}))
				break
			}
			cmds = append(cmds, m.handleKey(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt}))
		}
		return tea.Batch(cmds...)
	}
	if m.modal != nil {
		return m.modal.update(m, msg)
	}
	if m.tab == tabLogs && m.logs.input != nil {
		return m.logsFilterKey(msg)
	}
	if m.tab == tabMessages && m.rec.input != nil {
		return m.recordsFilterKey(msg)
	}
	if m.help {
		switch {
		case key.Matches(msg, m.keys.Help, m.keys.Quit) || msg.Type == tea.KeyEsc:
			m.help = false
		case key.Matches(msg, m.keys.Up):
			m.helpOffset = max(m.helpOffset-1, 0)
		case key.Matches(msg, m.keys.Down):
			m.helpOffset++
		}
		return nil
	}
	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		return m.quit()
	case key.Matches(msg, k.Help):
		m.help = true
		return nil
	case key.Matches(msg, k.Tab1):
		return m.switchTab(tabServices)
	case key.Matches(msg, k.Tab2):
		return m.switchTab(tabLogs)
	case key.Matches(msg, k.Tab3):
		return m.switchTab(tabTopics)
	case key.Matches(msg, k.Tab4):
		return m.switchTab(tabMessages)
	case key.Matches(msg, k.Tab5):
		return m.switchTab(tabGroups)
	case key.Matches(msg, k.Tab6):
		return m.switchTab(tabGateway)
	case key.Matches(msg, k.Tab7):
		return m.switchTab(tabTraces)
	case key.Matches(msg, k.NextTab):
		return m.switchTab((m.tab + 1) % numTabs)
	case key.Matches(msg, k.PrevTab):
		return m.switchTab((m.tab + numTabs - 1) % numTabs)
	case key.Matches(msg, k.Mouse):
		m.mouse = !m.mouse
		if m.mouse {
			return tea.Batch(tea.EnableMouseCellMotion, m.setFlash("mouse on: wheel scrolls, click a tab; M again to select text", false))
		}
		return tea.Batch(tea.DisableMouse, m.setFlash("mouse off", false))
	}
	switch m.tab {
	case tabServices:
		return m.servicesKey(msg)
	case tabLogs:
		return m.logsKey(msg)
	case tabTopics:
		return m.topicsKey(msg)
	case tabMessages:
		return m.recordsKey(msg)
	case tabGroups:
		return m.groupsKey(msg)
	case tabGateway:
		return m.gatewayKey(msg)
	case tabTraces:
		return m.tracesKey(msg)
	}
	return nil
}

// typing reports whether keys go to a text field (a dialog or a filter prompt).
func (m *Model) typing() bool {
	return m.modal != nil || (m.tab == tabLogs && m.logs.input != nil) || (m.tab == tabMessages && m.rec.input != nil)
}

func (m *Model) handleMouse(msg tea.MouseMsg) (tea.Cmd, bool) {
	if m.modal != nil || m.help {
		return nil, false
	}
	ev := tea.MouseEvent(msg)
	switch {
	case ev.Action == tea.MouseActionPress && ev.Button == tea.MouseButtonWheelUp:
		return m.handleKey(tea.KeyMsg{Type: tea.KeyUp}), true
	case ev.Action == tea.MouseActionPress && ev.Button == tea.MouseButtonWheelDown:
		return m.handleKey(tea.KeyMsg{Type: tea.KeyDown}), true
	case ev.Action == tea.MouseActionRelease && ev.Y == 1:
		x := 0
		for t := tab(0); t < numTabs; t++ {
			w := width(m.tabLabel(t))
			if ev.X >= x && ev.X < x+w {
				return m.switchTab(t), true
			}
			x += w
		}
	}
	return nil, false
}

// View renders the whole screen; it reuses the last frame when nothing visible changed.
func (m *Model) View() string {
	if m.quitting {
		return ""
	}
	if !m.dirty && m.view != "" {
		return m.view
	}
	m.view = m.render()
	m.dirty = false
	return m.view
}

func (m *Model) render() string {
	if m.width == 0 || m.height == 0 {
		return "starting devstack UI…"
	}
	w, h := m.width, m.height
	if w < minWidth || h < minHeight {
		return padLines(fmt.Sprintf("terminal too small (%dx%d): devstack needs at least %dx%d", w, h, minWidth, minHeight), w, h)
	}
	ch := h - chromeHeight
	var body string
	switch {
	case m.help:
		body = m.helpView(w, ch)
	case m.modal != nil:
		body = m.modal.view(m, w, ch)
	default:
		switch m.tab {
		case tabServices:
			body = m.servicesView(w, ch)
		case tabLogs:
			body = m.logsView(w, ch)
		case tabTopics:
			body = m.topicsView(w, ch)
		case tabMessages:
			body = m.recordsView(w, ch)
		case tabGroups:
			body = m.groupsView(w, ch)
		case tabGateway:
			body = m.gatewayView(w, ch)
		case tabTraces:
			body = m.tracesView(w, ch)
		}
	}
	return m.headerView(w) + "\n" + m.tabsView(w) + "\n" + padLines(body, w, ch) + "\n" + m.footerView(w)
}

// headerView is the stack's health at a glance.
func (m *Model) headerView(w int) string {
	s := m.st
	var b strings.Builder
	name := m.state.Name
	if name == "" {
		name = "devstack"
	}
	b.WriteString(s.title.Render("◆ " + name))
	for _, c := range m.state.Components {
		b.WriteString("  " + s.dot(c.Status) + " " + c.Name)
	}
	if n := len(m.state.Services); n > 0 {
		ready, failed, busy := 0, 0, 0
		for _, sv := range m.state.Services {
			switch {
			case sv.Status == event.StatusFailed:
				failed++
			case sv.Ready():
				ready++
			case sv.Status != event.StatusStopped:
				busy++
			}
		}
		st := s.ok
		if ready < n {
			st = s.warn
		}
		b.WriteString("  │ " + st.Render(fmt.Sprintf("%d/%d ready", ready, n)))
		if failed > 0 {
			b.WriteString(" " + s.err.Render(fmt.Sprintf("%d failed", failed)))
		}
		if busy > 0 {
			b.WriteString(" " + s.info.Render(fmt.Sprintf("%d starting", busy)))
		}
	}
	left := b.String()
	var right string
	switch {
	case m.connErr != "":
		right = s.err.Render("✗ " + oneLine(m.connErr))
	case !m.state.StartedAt.IsZero():
		right = s.dim.Render("up " + humanDuration(m.now().Sub(m.state.StartedAt)))
	}
	gap := w - width(left) - width(right)
	if gap < 1 {
		// the connection state matters more than the last components
		left = trunc(left, max(w-width(right)-1, 0))
		gap = w - width(left) - width(right)
	}
	return trunc(left+strings.Repeat(" ", max(gap, 1))+right, w)
}

func (m *Model) tabLabel(t tab) string {
	label := fmt.Sprintf("%d %s", t+1, tabNames[t])
	if t == tabServices {
		for _, sv := range m.state.Services {
			if sv.Status == event.StatusFailed {
				label += " !"
				break
			}
		}
	}
	if t == m.tab {
		if m.plain {
			return "[" + label + "]"
		}
		return m.st.tabActive.Render(label)
	}
	if m.plain {
		return " " + label + " "
	}
	return m.st.tabIdle.Render(label)
}

func (m *Model) tabsView(w int) string {
	var b strings.Builder
	for t := tab(0); t < numTabs; t++ {
		b.WriteString(m.tabLabel(t))
	}
	right := m.st.dim.Render("? help")
	gap := w - width(b.String()) - width(right)
	if gap >= 1 {
		b.WriteString(strings.Repeat(" ", gap) + right)
	}
	return trunc(b.String(), w)
}

func (m *Model) footerView(w int) string {
	if m.flash.text != "" {
		st := m.st.flashInfo
		if m.flash.err {
			st = m.st.flashErr
		}
		return trunc(st.Render(oneLine(m.flash.text)), w)
	}
	if m.help {
		v := m.opts.Version
		if v == "" {
			v = "dev"
		}
		return trunc(m.hint("esc", "close help")+m.st.dim.Render("   devstack "+v), w)
	}
	if m.modal != nil {
		return trunc(m.modal.hint(m), w)
	}
	var h string
	switch m.tab {
	case tabServices:
		h = m.hint("↑↓", "select", "enter", "logs", "r", "restart", "b", "rebuild", "s", "stop/start", "q", "quit")
	case tabLogs:
		if m.logs.input != nil {
			h = m.hint("enter", "apply", "tab", "substring/regex", "esc", "cancel")
		} else {
			h = m.hint("/", "filter", "f", "follow", "s", "source", "e", "errors", "w", "wrap", "J", "json", "q", "quit")
		}
	case tabTopics:
		h = m.hint("↑↓", "select", "enter", "tail messages", "i", "internal", "q", "quit")
	case tabMessages:
		if m.rec.input != nil {
			h = m.hint("enter", "apply", "esc", "cancel")
		} else {
			h = m.hint("t", "topic", "/", "filter", "f", "follow", "o", "from", "p", "partition", "P", "produce", "enter", "expand")
		}
	case tabGroups:
		h = m.hint("↑↓", "select", "R", "reset offsets", "q", "quit")
	case tabGateway:
		h = m.hint("↑↓", "select request", "T", "its trace", "G", "follow", "q", "quit")
	case tabTraces:
		switch {
		case m.traces.wf.id == "":
			h = m.hint("↑↓", "select", "enter", "waterfall", "s", "service", "e", "status", "d", "min duration", "a", "any")
		case m.traces.wf.expanded:
			h = m.hint("↑↓", "scroll", "enter/esc", "back to the waterfall")
		default:
			h = m.hint("↑↓", "select span", "enter", "all its details", "esc", "back")
		}
	}
	return trunc(h, w)
}

// fmtTime prints a clock time in the UI's zone.
func (m *Model) fmtTime(t time.Time, layout string) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(m.loc).Format(layout)
}

// ago prints how long ago t was.
func (m *Model) ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return humanDuration(m.now().Sub(t)) + " ago"
}

// marker is the selection column: a › that shows the cursor even without styling.
func (m *Model) marker(sel bool) string {
	if sel {
		return "›"
	}
	return " "
}

// row renders a table row, reversed when selected.
func (m *Model) row(line string, sel bool, w int) string {
	line = m.marker(sel) + line
	if sel && !m.plain {
		return m.st.selected.Render(fit(stripANSI(line), w))
	}
	return trunc(line, w)
}
