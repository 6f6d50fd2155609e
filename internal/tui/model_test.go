package tui

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/muesli/termenv"

	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
)

// newTestModel returns a model that has "subscribed" to f's current state, sized w x h. Its
// commands are never run unless a test runs them: Update is exercised as a pure function.
func newTestModel(t *testing.T, f *fakeCtrl, c config, w, h int) *Model {
	t.Helper()
	if c.now == nil {
		c.now = func() time.Time { return fixedNow }
		c.loc = time.UTC
	}
	p := termenv.Ascii
	if c.profile == nil {
		c.profile = &p
	}
	m := newModel(context.Background(), f, Options{}, c)
	t.Cleanup(m.cancel)
	m.Init()
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	st, ch, cancel := f.bus.Subscribe(64)
	t.Cleanup(cancel)
	m.Update(subscribedMsg{gen: m.evGen, state: st, ch: ch})
	return m
}

func keyMsg(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "shift+tab":
		return tea.KeyMsg{Type: tea.KeyShiftTab}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "left":
		return tea.KeyMsg{Type: tea.KeyLeft}
	case "right":
		return tea.KeyMsg{Type: tea.KeyRight}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	case "ctrl+s":
		return tea.KeyMsg{Type: tea.KeyCtrlS}
	case "backspace":
		return tea.KeyMsg{Type: tea.KeyBackspace}
	case "space":
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

// press sends keys; a string of several runes that is not a named key is typed rune by rune.
func press(m *Model, keys ...string) tea.Cmd {
	var cmds []tea.Cmd
	for _, k := range keys {
		if len([]rune(k)) > 1 && keyMsg(k).Type == tea.KeyRunes {
			for _, r := range k {
				_, c := m.Update(keyMsg(string(r)))
				cmds = append(cmds, c)
			}
			continue
		}
		_, c := m.Update(keyMsg(k))
		cmds = append(cmds, c)
	}
	return tea.Batch(cmds...)
}

// await runs cmd's leaves concurrently and returns the first message of type T they produce.
// Leaves that block (timers, stream waits) are left running; the deadline bounds the wait.
func await[T any](t *testing.T, cmd tea.Cmd) T {
	t.Helper()
	out := make(chan tea.Msg, 64)
	var run func(tea.Cmd)
	run = func(c tea.Cmd) {
		if c == nil {
			return
		}
		go func() {
			msg := c()
			if b, ok := msg.(tea.BatchMsg); ok {
				for _, cc := range b {
					run(cc)
				}
				return
			}
			out <- msg
		}()
	}
	run(cmd)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case msg := <-out:
			if v, ok := msg.(T); ok {
				return v
			}
		case <-deadline:
			var zero T
			t.Fatalf("no %T message from the command", zero)
			return zero
		}
	}
}

func TestRing(t *testing.T) {
	tests := []struct {
		name      string
		capacity  int
		push      int
		wantLen   int
		wantFirst uint64
		wantOld   int // value of the oldest element
	}{
		{"empty", 3, 0, 0, 0, 0},
		{"partial", 3, 2, 2, 0, 0},
		{"full", 3, 3, 3, 0, 0},
		{"wrapped", 3, 7, 3, 4, 4},
		{"capacity one", 1, 5, 1, 4, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRing[int](tt.capacity)
			for i := range tt.push {
				r.push(i)
			}
			if r.len() != tt.wantLen || r.first() != tt.wantFirst {
				t.Fatalf("len %d first %d, want %d %d", r.len(), r.first(), tt.wantLen, tt.wantFirst)
			}
			if tt.wantLen > 0 && r.at(0) != tt.wantOld {
				t.Fatalf("oldest %d, want %d", r.at(0), tt.wantOld)
			}
			for i := 0; i < r.len(); i++ {
				v, ok := r.abs(r.first() + uint64(i))
				if !ok || v != int(r.first())+i {
					t.Fatalf("abs(%d) = %d %v", r.first()+uint64(i), v, ok)
				}
			}
			if _, ok := r.abs(r.next()); ok {
				t.Fatal("abs(next) should not exist")
			}
			if tt.push > tt.capacity {
				if _, ok := r.abs(r.first() - 1); ok {
					t.Fatal("an evicted element is still reachable")
				}
			}
		})
	}
}

func TestTabSwitching(t *testing.T) {
	tests := []struct {
		keys []string
		want tab
	}{
		{[]string{"2"}, tabLogs},
		{[]string{"3"}, tabTopics},
		{[]string{"4"}, tabMessages},
		{[]string{"5"}, tabGroups},
		{[]string{"6"}, tabGateway},
		{[]string{"7"}, tabTraces},
		{[]string{"6", "1"}, tabServices},
		{[]string{"tab"}, tabLogs},
		{[]string{"shift+tab"}, tabTraces},
		{[]string{"6", "tab"}, tabTraces},
		{[]string{"7", "tab"}, tabServices},
		{[]string{"L", "L", "H"}, tabLogs},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.keys, ","), func(t *testing.T) {
			m := newTestModel(t, fixture(), config{}, 80, 24)
			press(m, tt.keys...)
			if m.tab != tt.want {
				t.Fatalf("tab %v, want %v", tabNames[m.tab], tabNames[tt.want])
			}
			if !strings.Contains(m.View(), "["+fmt.Sprintf("%d %s", tt.want+1, tabNames[tt.want])) {
				t.Fatalf("the tab bar does not mark %s:\n%s", tabNames[tt.want], m.View())
			}
		})
	}
}

func TestTabFetchesOnlyWhatItShows(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, config{}, 80, 24)
	tm := await[topicsMsg](t, press(m, "3"))
	if len(tm.topics) != 3 {
		t.Fatalf("topics fetched: %d", len(tm.topics))
	}
	gm := await[groupsMsg](t, press(m, "5"))
	if len(gm.groups) != 2 {
		t.Fatalf("groups fetched: %d", len(gm.groups))
	}
	// a tick from a view no longer shown does nothing
	gen := m.tickGen
	press(m, "2")
	if cmd, _ := m.update(tickMsg{gen: gen}); cmd != nil {
		t.Fatal("stale tick re-armed a refresh")
	}
	// the logs view has no timer at all
	if cmd, _ := m.update(tickMsg{gen: m.tickGen}); cmd != nil {
		t.Fatal("logs view refreshed on a tick")
	}
}

func TestHelpAndQuit(t *testing.T) {
	m := newTestModel(t, fixture(), config{}, 80, 24)
	press(m, "?")
	v := m.View()
	for _, sec := range m.keys.sections() {
		for _, k := range sec.keys {
			if !strings.Contains(v, k.Help().Desc) {
				t.Errorf("help at 80x24 misses %q", k.Help().Desc)
			}
		}
	}
	if cmd := press(m, "q"); m.help || m.quitting {
		t.Fatalf("q in help should close help, not quit (help %v quitting %v, cmd %v)", m.help, m.quitting, cmd)
	}
	cmd := press(m, "q")
	if !m.quitting || m.ctx.Err() == nil {
		t.Fatal("q did not quit and cancel the streams")
	}
	if msg := await[tea.QuitMsg](t, cmd); !reflect.DeepEqual(msg, tea.QuitMsg{}) {
		t.Fatal("no QuitMsg")
	}
}

func TestCtrlCQuitsFromAModal(t *testing.T) {
	m := newTestModel(t, fixture(), config{}, 80, 24)
	press(m, "4", "P")
	if m.modal == nil {
		t.Fatal("P did not open the produce form")
	}
	press(m, "ctrl+c")
	if !m.quitting {
		t.Fatal("ctrl+c did not quit from inside a modal")
	}
}

func TestEventsUpdateStateAndResubscribe(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, config{}, 80, 24)
	sv := event.Service{Name: "users", Status: event.StatusFailed, Error: "boom: port 3001 in use"}
	gen := m.evGen
	m.Update(eventsMsg{gen: gen, events: []event.Event{{Kind: event.KindService, Service: &sv}, {Kind: event.KindStack, Level: "error", Message: "users crashed"}}})
	if s, _ := m.state.Service("users"); s.Status != event.StatusFailed {
		t.Fatalf("users status %s", s.Status)
	}
	v := m.View()
	for _, want := range []string{"2 failed", "boom: port 3001 in use", "users crashed"} {
		if !strings.Contains(v, want) {
			t.Errorf("frame misses %q:\n%s", want, v)
		}
	}
	// a stale generation is ignored
	old := event.Service{Name: "users", Status: event.StatusReady}
	m.Update(eventsMsg{gen: gen - 1, events: []event.Event{{Kind: event.KindService, Service: &old}}})
	if s, _ := m.state.Service("users"); s.Status != event.StatusFailed {
		t.Fatal("an event from an old subscription was applied")
	}
	// the bus dropped us: subscribe again and take the fresh snapshot
	_, cmd := m.Update(eventsMsg{gen: gen, closed: true})
	if m.evGen != gen+1 || !strings.Contains(m.connErr, "reconnecting") {
		t.Fatalf("gen %d connErr %q after the stream closed", m.evGen, m.connErr)
	}
	sub := await[subscribedMsg](t, cmd)
	if sub.err != nil || sub.gen != m.evGen {
		t.Fatalf("resubscribe: %+v", sub)
	}
	m.Update(sub)
	if m.connErr != "" || len(m.state.Services) != 3 {
		t.Fatalf("after resubscribe: connErr %q services %d", m.connErr, len(m.state.Services))
	}
}

func TestSubscribeErrorRetries(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, config{}, 80, 24)
	_, cmd := m.Update(subscribedMsg{gen: m.evGen, err: errors.New("control API at 127.0.0.1:7477: connection refused")})
	if !strings.Contains(m.View(), "connection refused") {
		t.Fatalf("the header does not say the stack is unreachable:\n%s", m.View())
	}
	r := await[retryMsg](t, cmd)
	if r.what != "events" || r.gen != m.evGen {
		t.Fatalf("retry %+v", r)
	}
	sub := await[subscribedMsg](t, m.retry(r))
	if sub.err != nil {
		t.Fatal(sub.err)
	}
}

func logLines(n int, src string) []event.LogLine {
	out := make([]event.LogLine, n)
	for i := range out {
		out[i] = event.LogLine{Seq: uint64(i + 1), Source: src, Time: fixedNow, Text: fmt.Sprintf("line %d", i)}
	}
	return out
}

func TestLogsRingIsBounded(t *testing.T) {
	m := newTestModel(t, newFake("x"), config{logCap: 100}, 80, 24)
	press(m, "2")
	for i := 0; i < 25; i++ {
		lines := logLines(1000, "users")[i*40 : i*40+40]
		m.Update(logsMsg{gen: m.logs.gen, lines: lines})
	}
	if m.logs.ring.len() != 100 || len(m.logs.matches) != 100 {
		t.Fatalf("ring %d matches %d, want 100 and 100", m.logs.ring.len(), len(m.logs.matches))
	}
	if e, _ := m.logs.ring.abs(m.logs.matches[0]); e.line.Text != "line 900" {
		t.Fatalf("oldest kept %q", e.line.Text)
	}
	if cap(m.logs.matches) > 400 {
		t.Fatalf("the match index grew to cap %d", cap(m.logs.matches))
	}
	if !strings.Contains(m.View(), "line 999") {
		t.Fatal("newest line not on screen while following")
	}
	// after a resubscribe the backlog repeats lines already held: they are skipped
	m.Update(logsSubscribedMsg{gen: m.logs.gen, past: logLines(1000, "users")[950:]})
	if m.logs.ring.len() != 100 || m.logs.lastSeq != 1000 {
		t.Fatalf("duplicate lines stored: len %d lastSeq %d", m.logs.ring.len(), m.logs.lastSeq)
	}
	if e := m.logs.ring.at(99); e.line.Text != "line 999" {
		t.Fatalf("newest %q", e.line.Text)
	}
}

func TestLogsFilter(t *testing.T) {
	lines := []event.LogLine{
		{Seq: 1, Source: "users", Text: "GET /api/users 200"},
		{Seq: 2, Source: "scorer", Text: "scored order 17 in 3ms"},
		{Seq: 3, Source: "users", Text: "ERROR cannot reach Postgres"},
		{Seq: 4, Source: "analytics", Text: "warning: slow query 1200ms"},
		{Seq: 5, Source: "gateway", Text: "POST /api/orders 201 service=users"},
		// lines that were JSON or logfmt
		{Seq: 6, Source: "scorer", Text: "scored", Severity: "info", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Fields: map[string]string{"order": "1042"}},
		{Seq: 7, Source: "scorer", Text: "window", Severity: "debug", Fields: map[string]string{"user": "u-9"}},
	}
	tests := []struct {
		name  string
		keys  []string
		want  []uint64 // Seqs listed
		input bool     // prompt still open
		err   string
	}{
		{"all", nil, []uint64{1, 2, 3, 4, 5, 6, 7}, false, ""},
		{"substring is case-insensitive", []string{"/", "postgres", "enter"}, []uint64{3}, false, ""},
		{"upper case makes it exact", []string{"/", "Api", "enter"}, nil, false, ""},
		{"live while typing", []string{"/", "api"}, []uint64{1, 5}, true, ""},
		{"regex", []string{"/", "tab", `\d+ms$`, "enter"}, []uint64{2, 4}, false, ""},
		{"bad regex keeps the prompt open", []string{"/", "tab", "(", "enter"}, []uint64{1, 2, 3, 4, 5, 6, 7}, true, "bad regexp"},
		{"substring treats ( literally", []string{"/", "(", "enter"}, nil, false, ""},
		{"text matches a structured line's fields too", []string{"/", "1042", "enter"}, []uint64{6}, false, ""},
		{"esc restores", []string{"/", "order", "enter", "/", "xyz", "esc"}, []uint64{2, 5, 6}, false, ""},
		{"esc clears an applied filter", []string{"/", "order", "enter", "esc"}, []uint64{1, 2, 3, 4, 5, 6, 7}, false, ""},
		{"level error", []string{"e"}, []uint64{3}, false, ""},
		{"level warn and up", []string{"e", "e"}, []uint64{3, 4}, false, ""},
		{"level info and up (a line with no level counts as info)", []string{"e", "e", "e"}, []uint64{1, 2, 3, 4, 5, 6}, false, ""},
		{"level debug and up", []string{"e", "e", "e", "e"}, []uint64{1, 2, 3, 4, 5, 6, 7}, false, ""},
		{"level cycles back to all", []string{"e", "e", "e", "e", "e"}, []uint64{1, 2, 3, 4, 5, 6, 7}, false, ""},
		{"field", []string{"/", "order=1042", "enter"}, []uint64{6}, false, ""},
		{"field and text", []string{"/", "user=u-9 win", "enter"}, []uint64{7}, false, ""},
		{"field that is no line's", []string{"/", "order=7", "enter"}, nil, false, ""},
		{"level as a field", []string{"/", "level=warning", "enter"}, []uint64{4}, false, ""},
		{"trace id as a field", []string{"/", "trace_id=4bf92f3577b34da6a3ce929d0e0e4736", "enter"}, []uint64{6}, false, ""},
		{"key=value in a plain line's text", []string{"/", "service=users", "enter"}, []uint64{5}, false, ""},
		{"field in regex mode is a regex", []string{"/", "tab", "order=1042", "enter"}, []uint64{6}, false, ""},
		{"next source", []string{"s"}, []uint64{1, 3}, false, ""},
		{"previous source wraps to the others", []string{"S"}, []uint64{5}, false, ""},
		{"all sources", []string{"s", "s", "a"}, []uint64{1, 2, 3, 4, 5, 6, 7}, false, ""},
		{"source and text", []string{"s", "/", "api", "enter"}, []uint64{1}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestModel(t, fixture(), config{}, 100, 30)
			m.logs = newLogsState(100)
			m.logs.gen = 1
			press(m, "2")
			m.Update(logsMsg{gen: 1, lines: lines})
			press(m, tt.keys...)
			var got []uint64
			for _, a := range m.logs.matches {
				e, _ := m.logs.ring.abs(a)
				got = append(got, e.line.Seq)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("listed %v, want %v", got, tt.want)
			}
			if (m.logs.input != nil) != tt.input {
				t.Fatalf("prompt open %v, want %v", m.logs.input != nil, tt.input)
			}
			if tt.err != "" && !strings.Contains(m.View(), tt.err) {
				t.Fatalf("frame does not show %q:\n%s", tt.err, m.View())
			}
		})
	}
}

func TestLogsPauseHoldsTheView(t *testing.T) {
	m := newTestModel(t, newFake("x"), config{logCap: 1000}, 80, 24)
	press(m, "2")
	all := logLines(300, "users")
	m.Update(logsMsg{gen: m.logs.gen, lines: all[:100]})
	press(m, "up", "up")
	if m.logs.follow {
		t.Fatal("scrolling up did not pause")
	}
	bottom := m.logs.pos
	m.Update(logsMsg{gen: m.logs.gen, lines: all[100:200]})
	if m.logs.pos != bottom || m.logs.follow {
		t.Fatal("new lines moved a paused view")
	}
	v := m.View()
	if !strings.Contains(v, "line 97") || strings.Contains(v, "line 199") || !strings.Contains(v, "102 newer") {
		t.Fatalf("paused frame wrong:\n%s", v)
	}
	press(m, "G")
	if !m.logs.follow || !strings.Contains(m.View(), "line 199") {
		t.Fatal("G did not resume following")
	}
	press(m, "space")
	if m.logs.follow {
		t.Fatal("space did not pause")
	}
	press(m, "f")
	if !m.logs.follow {
		t.Fatal("f did not resume")
	}
}

func TestLogsJSONAndWrap(t *testing.T) {
	m := newTestModel(t, newFake("x"), config{}, 80, 24)
	press(m, "2")
	m.Update(logsMsg{gen: m.logs.gen, lines: []event.LogLine{{Seq: 1, Source: "scorer", Text: `{"level":"info","msg":"scored","order":17}`}}})
	if strings.Contains(m.View(), `"msg": "scored"`) {
		t.Fatal("JSON pretty-printed before J")
	}
	press(m, "J")
	if !strings.Contains(m.View(), `"msg": "scored",`) {
		t.Fatalf("J did not pretty-print:\n%s", m.View())
	}
}

func TestLogsStructuredLineFields(t *testing.T) {
	m := newTestModel(t, newFake("x"), config{}, 80, 24)
	press(m, "2")
	m.Update(logsMsg{gen: m.logs.gen, lines: []event.LogLine{{Seq: 1, Source: "scorer", Text: "scored", Severity: "warn",
		Fields: map[string]string{"order": "17", "note": "two words"}}}})
	if v := m.View(); !strings.Contains(v, `WARN  scored  note="two words" order=17`) {
		t.Fatalf("structured line not shown as level, message, fields:\n%s", v)
	}
	press(m, "J") // one field a row
	if v := m.View(); !strings.Contains(v, "WARN  scored\n") || !strings.Contains(v, "    order=17") || !strings.Contains(v, `    note="two words"`) {
		t.Fatalf("J did not put the fields one a row:\n%s", v)
	}
}

func TestServicesShowStructuredOutput(t *testing.T) {
	f := newFake("x")
	f.bus.SetService(event.Service{Name: "scorer", Status: event.StatusReady, Replicas: 1})
	m := newTestModel(t, f, config{}, 120, 30)
	m.Update(logsMsg{gen: m.logs.gen, lines: []event.LogLine{{Seq: 1, Source: "scorer", Stream: "stderr", Text: "slow score",
		Severity: "warn", Fields: map[string]string{"order": "1043"}}}})
	if v := m.View(); !strings.Contains(v, "WARN  slow score  order=1043") {
		t.Fatalf("the service's latest output does not show level, message and fields:\n%s", v)
	}
}

func TestServicesActions(t *testing.T) {
	tests := []struct {
		name   string
		status event.Status
		keys   []string
		want   string
	}{
		{"restart", event.StatusReady, []string{"r"}, "restart users"},
		{"rebuild", event.StatusReady, []string{"b"}, "rebuild users"},
		{"stop a running service", event.StatusReady, []string{"s"}, "stop users"},
		{"start a stopped one", event.StatusStopped, []string{"s"}, "start users"},
		{"start a failed one", event.StatusFailed, []string{"s"}, "start users"},
		{"second row", event.StatusReady, []string{"j", "r"}, "restart scorer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fixture()
			f.bus.UpdateService("users", func(s *event.Service) { s.Status = tt.status })
			m := newTestModel(t, f, config{}, 80, 24)
			msg := await[actionMsg](t, press(m, tt.keys...))
			if msg.err != nil || msg.what != tt.want {
				t.Fatalf("action %+v, want %q", msg, tt.want)
			}
			f.mu.Lock()
			calls := slices.Clone(f.calls)
			f.mu.Unlock()
			if !slices.Equal(calls, []string{tt.want}) {
				t.Fatalf("controller calls %v", calls)
			}
			m.Update(msg)
			if !strings.Contains(m.View(), tt.want+": done") {
				t.Fatalf("no confirmation in the footer:\n%s", m.View())
			}
		})
	}
}

func TestServicesActionErrorIsShown(t *testing.T) {
	m := newTestModel(t, fixture(), config{}, 80, 24)
	m.Update(actionMsg{what: "restart users", err: fmt.Errorf("service %q: %w", "users", control.ErrNotFound)})
	if !strings.Contains(m.View(), `restart users: service "users": not found`) {
		t.Fatalf("error not shown:\n%s", m.View())
	}
}

func TestEnterOpensServiceLogs(t *testing.T) {
	m := newTestModel(t, fixture(), config{}, 80, 24)
	press(m, "j", "j", "enter")
	if m.tab != tabLogs || m.logs.source != "analytics" {
		t.Fatalf("tab %s source %q", tabNames[m.tab], m.logs.source)
	}
}

func TestRecordsRingIsBoundedAndCursorFollows(t *testing.T) {
	m := newTestModel(t, fixture(), config{msgCap: 50}, 80, 24)
	press(m, "4")
	cmd := m.rec.setTopic(m, "orders.placed")
	if cmd == nil {
		t.Fatal("no tap opened")
	}
	gen := m.rec.gen
	m.Update(tapOpenedMsg{gen: gen, ch: make(chan event.Message)})
	for i := 0; i < 10; i++ {
		batch := make([]event.Message, 30)
		for j := range batch {
			batch[j] = event.Message{Topic: "orders.placed", Offset: int64(i*30 + j), Value: []byte(fmt.Sprintf(`{"n":%d}`, i*30+j))}
		}
		m.Update(recordsMsg{gen: gen, msgs: batch})
	}
	if m.rec.ring.len() != 50 {
		t.Fatalf("ring holds %d, want 50", m.rec.ring.len())
	}
	cur, _ := m.rec.ring.abs(m.rec.cursor)
	if cur.Offset != 299 {
		t.Fatalf("cursor on offset %d, want the newest", cur.Offset)
	}
	press(m, "up", "up")
	m.Update(recordsMsg{gen: gen, msgs: []event.Message{{Offset: 300}}})
	if cur, _ := m.rec.ring.abs(m.rec.cursor); cur.Offset != 297 {
		t.Fatalf("held cursor moved to %d", cur.Offset)
	}
	// records from a replaced tap are ignored
	m.Update(recordsMsg{gen: gen - 1, msgs: []event.Message{{Offset: 9999}}})
	if last := m.rec.ring.at(m.rec.ring.len() - 1); last.Offset != 300 {
		t.Fatal("a stale tap's record was stored")
	}
}

func TestTapOnMissingTopicWaits(t *testing.T) {
	f := newFake("x")
	m := newTestModel(t, f, config{}, 80, 24)
	press(m, "4")
	opened := await[tapOpenedMsg](t, m.rec.setTopic(m, "later"))
	_, cmd := m.Update(opened)
	if !strings.Contains(m.View(), "does not exist yet") {
		t.Fatalf("missing topic not explained:\n%s", m.View())
	}
	retry := await[retryMsg](t, cmd)
	_ = f.Produce(context.Background(), "later", []event.Message{{Value: []byte("hello")}})
	opened = await[tapOpenedMsg](t, m.retry(retry))
	if opened.err != nil {
		t.Fatal(opened.err)
	}
	_, cmd = m.Update(opened)
	recs := await[recordsMsg](t, cmd)
	m.Update(recs)
	if !strings.Contains(m.View(), "hello") {
		t.Fatalf("record not shown after the topic appeared:\n%s", m.View())
	}
}

func TestProduceFromTheUI(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, config{}, 100, 30)
	press(m, "4")
	m.rec.topic = "orders.placed"
	press(m, "P")
	if m.modal == nil {
		t.Fatal("P did not open the form")
	}
	// value is focused first when a topic is chosen; go back to key and headers (the subject stays empty)
	press(m, "shift+tab", "shift+tab", "shift+tab", "k-1", "tab", "trace=abc, kind=test", "tab", "tab", `{"hello":"world"}`)
	cmd := press(m, "ctrl+s")
	if m.modal != nil {
		t.Fatal("form still open after ctrl+s")
	}
	msg := await[actionMsg](t, cmd)
	if msg.err != nil || msg.what != "produce to orders.placed" {
		t.Fatalf("produce: %+v", msg)
	}
	f.mu.Lock()
	recs := f.topics["orders.placed"].records[0]
	f.mu.Unlock()
	got := recs[len(recs)-1]
	if string(got.Key) != "k-1" || string(got.Value) != `{"hello":"world"}` || len(got.Headers) != 2 || got.Headers[0].Key != "trace" || string(got.Headers[1].Value) != "test" {
		t.Fatalf("produced %+v", got)
	}
}

func TestProduceFormValidates(t *testing.T) {
	m := newTestModel(t, fixture(), config{}, 100, 30)
	press(m, "4", "P", "ctrl+s")
	if m.modal == nil || !strings.Contains(m.View(), "topic is empty") {
		t.Fatalf("empty topic accepted:\n%s", m.View())
	}
	press(m, "t1", "tab", "tab", "novalue", "ctrl+s")
	if m.modal == nil || !strings.Contains(m.View(), `header "novalue"`) {
		t.Fatalf("bad header accepted:\n%s", m.View())
	}
	press(m, "esc")
	if m.modal != nil {
		t.Fatal("esc did not close the form")
	}
}

func TestParseSeek(t *testing.T) {
	now := fixedNow
	tests := []struct {
		in     string
		from   string
		offset int64
		since  time.Time
		err    bool
	}{
		{"", "last", 0, time.Time{}, false},
		{"beginning", "beginning", 0, time.Time{}, false},
		{"END", "end", 0, time.Time{}, false},
		{"1234", "offset", 1234, time.Time{}, false},
		{"10m", "time", 0, now.Add(-10 * time.Minute), false},
		{"-2h", "time", 0, now.Add(-2 * time.Hour), false},
		{"2026-03-14T09:00:00Z", "time", 0, time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC), false},
		{"yesterday", "", 0, time.Time{}, true},
		{"-5", "", 0, time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			from, off, since, err := parseSeek(tt.in, now)
			if (err != nil) != tt.err {
				t.Fatalf("err %v", err)
			}
			if from != tt.from || off != tt.offset || !since.Equal(tt.since) {
				t.Fatalf("got %s %d %v", from, off, since)
			}
		})
	}
}

func TestSeekOpensBoundedRead(t *testing.T) {
	m := newTestModel(t, fixture(), config{}, 100, 30)
	press(m, "4")
	m.rec.setTopic(m, "orders.placed")
	cmd := press(m, "o", "beginning", "enter")
	if m.rec.live || m.rec.from != "beginning" {
		t.Fatalf("live %v from %s", m.rec.live, m.rec.from)
	}
	opened := await[tapOpenedMsg](t, cmd)
	_, cmd = m.Update(opened)
	recs := await[recordsMsg](t, cmd)
	for !recs.closed {
		m.Update(recs)
		recs = await[recordsMsg](t, waitRecords(recs.gen, m.rec.ch))
	}
	m.Update(recs)
	if !m.rec.ended || m.rec.ring.len() != 2 || !strings.Contains(m.View(), "end of range") {
		t.Fatalf("ended %v len %d:\n%s", m.rec.ended, m.rec.ring.len(), m.View())
	}
}

func TestResetGroupAsksFirst(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, config{}, 100, 30)
	m.Update(await[groupsMsg](t, press(m, "5")))
	press(m, "j", "R") // scorer
	if m.modal == nil {
		t.Fatal("R did not open the reset dialog")
	}
	if !strings.Contains(m.View(), "2 active members") {
		t.Fatalf("no warning about live members:\n%s", m.View())
	}
	press(m, "down", "right", "right", "backspace", "42", "enter")
	if !strings.Contains(m.View(), "Reset scorer on orders.placed to offset 42?") {
		t.Fatalf("no confirmation:\n%s", m.View())
	}
	press(m, "n")
	f.mu.Lock()
	n := len(f.resets)
	f.mu.Unlock()
	if n != 0 || m.modal == nil {
		t.Fatal("n should go back without resetting")
	}
	cmd := press(m, "enter", "y")
	msg := await[actionMsg](t, cmd)
	if msg.err != nil {
		t.Fatal(msg.err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	want := []control.ResetRequest{{Group: "scorer", Topic: "orders.placed", To: "offset", Offset: 42}}
	if !reflect.DeepEqual(f.resets, want) {
		t.Fatalf("resets %+v", f.resets)
	}
}

func TestSmallAndResizedTerminal(t *testing.T) {
	m := newTestModel(t, fixture(), config{}, 80, 24)
	for _, sz := range [][2]int{{80, 24}, {120, 40}, {60, 15}, {200, 60}, {30, 8}} {
		m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		for tb := tab(0); tb < numTabs; tb++ {
			m.tab = tb
			m.dirty = true
			v := m.View()
			lines := strings.Split(v, "\n")
			if len(lines) != sz[1] {
				t.Fatalf("%dx%d %s: %d lines", sz[0], sz[1], tabNames[tb], len(lines))
			}
			for i, l := range lines {
				if w := width(l); w > sz[0] {
					t.Fatalf("%dx%d %s line %d is %d wide: %q", sz[0], sz[1], tabNames[tb], i, w, l)
				}
			}
		}
	}
}

func TestViewIsCachedUntilSomethingVisibleChanges(t *testing.T) {
	m := newTestModel(t, fixture(), config{}, 80, 24)
	press(m, "2")
	first := m.View()
	if m.dirty {
		t.Fatal("still dirty after View")
	}
	// records for a hidden view do not invalidate the frame
	m.Update(recordsMsg{gen: m.rec.gen, msgs: []event.Message{{Value: []byte("x")}}})
	if m.dirty {
		t.Fatal("a hidden view's data marked the frame dirty")
	}
	m.Update(logsMsg{gen: m.logs.gen, lines: []event.LogLine{{Seq: 99, Source: "users", Text: "fresh line"}}})
	if !m.dirty || m.View() == first || !strings.Contains(m.View(), "fresh line") {
		t.Fatal("a visible change was not rendered")
	}
}

// blockingCtrl never answers: every call waits for its context. The UI must stay usable.
type blockingCtrl struct{ *fakeCtrl }

func (b blockingCtrl) Subscribe(ctx context.Context) (event.State, <-chan event.Event, error) {
	<-ctx.Done()
	return event.State{}, nil, ctx.Err()
}
func (b blockingCtrl) Logs(ctx context.Context, _ control.LogQuery) ([]event.LogLine, <-chan event.LogLine, error) {
	<-ctx.Done()
	return nil, nil, ctx.Err()
}
func (b blockingCtrl) Restart(ctx context.Context, _ string) error { <-ctx.Done(); return ctx.Err() }
func (b blockingCtrl) Stop(ctx context.Context, _ string) error    { <-ctx.Done(); return ctx.Err() }
func (b blockingCtrl) Start(ctx context.Context, _ string) error   { <-ctx.Done(); return ctx.Err() }
func (b blockingCtrl) Rebuild(ctx context.Context, _ string) error { <-ctx.Done(); return ctx.Err() }
func (b blockingCtrl) Topics(ctx context.Context) ([]event.TopicInfo, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (b blockingCtrl) Groups(ctx context.Context) ([]event.GroupInfo, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (b blockingCtrl) Routes(ctx context.Context) ([]event.RouteStats, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (b blockingCtrl) Traces(ctx context.Context, _ event.TraceQuery) ([]event.TraceSummary, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (b blockingCtrl) Trace(ctx context.Context, _ string) ([]event.Span, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (b blockingCtrl) Messages(ctx context.Context, _ control.MessageQuery) (<-chan event.Message, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (b blockingCtrl) Produce(ctx context.Context, _ string, _ []event.Message) error {
	<-ctx.Done()
	return ctx.Err()
}
func (b blockingCtrl) ResetGroup(ctx context.Context, _ control.ResetRequest) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestUpdateNeverWaitsForTheStack drives every key in every view against a controller that never
// answers; if any I/O ran inside Update, the loop would hang and the deadline would fail the test.
func TestUpdateNeverWaitsForTheStack(t *testing.T) {
	f := fixture()
	m := newModel(context.Background(), blockingCtrl{f}, Options{}, testConfig(termenv.Ascii))
	t.Cleanup(m.cancel)
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Init()
		m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
		st := f.bus.Snapshot()
		m.Update(subscribedMsg{gen: m.evGen, state: st, ch: make(chan event.Event)})
		keys := []string{"r", "b", "s", "enter", "1", "j", "k", "/", "x", "enter", "e", "w", "J", "c", "3", "enter", "i",
			"4", "t", "orders", "enter", "o", "10m", "enter", "p", "P", "ctrl+s", "esc", "x", "f", "5", "R", "esc", "6", "G", "T", "6", "?", "esc", "M", "7", "s", "e", "d", "a", "enter", "j", "enter", "esc", "esc"}
		for range 3 {
			for _, k := range keys {
				press(m, k)
				_ = m.View()
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Update blocked on the controller")
	}
}

func TestExpandedRecordScrolls(t *testing.T) {
	m := newTestModel(t, newFake("x"), config{}, 80, 24)
	press(m, "4")
	m.rec.setTopic(m, "big")
	var b strings.Builder
	b.WriteString("{")
	for i := range 60 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"field%02d":%d`, i, i)
	}
	b.WriteString("}")
	m.Update(tapOpenedMsg{gen: m.rec.gen, ch: make(chan event.Message)})
	m.Update(recordsMsg{gen: m.rec.gen, msgs: []event.Message{{Topic: "big", Value: []byte(b.String())}}})
	press(m, "enter")
	if v := m.View(); !strings.Contains(v, `"field00": 0`) || strings.Contains(v, `"field40"`) || !strings.Contains(v, "↓ scrolls") {
		t.Fatalf("expanded record:\n%s", v)
	}
	press(m, "G") // G is "newest record", which it already is; ↓ scrolls the record
	for range 40 {
		press(m, "down")
	}
	if v := m.View(); !strings.Contains(v, `"field40"`) || strings.Contains(v, `"field00"`) {
		t.Fatalf("scrolled record:\n%s", v)
	}
	press(m, "esc")
	if m.rec.expanded || m.rec.detailOff != 0 {
		t.Fatal("esc did not collapse the record")
	}
}

func TestRecordsFilterFollowsAnOrderAcrossTopics(t *testing.T) {
	m := newTestModel(t, newFake("x"), config{msgCap: 100}, 100, 30)
	press(m, "4")
	m.rec.setTopic(m, "orders.placed")
	m.Update(tapOpenedMsg{gen: m.rec.gen, ch: make(chan event.Message)})
	var recs []event.Message
	for i := range 30 {
		recs = append(recs, event.Message{Topic: "orders.placed", Offset: int64(i), Value: []byte(fmt.Sprintf(`{"orderId":%d}`, 1000+i)),
			Headers: []event.Header{{Key: "correlation-id", Value: []byte(fmt.Sprintf("c-%d", i))}}})
	}
	m.Update(recordsMsg{gen: m.rec.gen, msgs: recs})
	press(m, "/", "1017")
	if m.rec.input == nil || len(m.rec.matches) != 1 {
		t.Fatalf("live filter: input %v matches %d", m.rec.input != nil, len(m.rec.matches))
	}
	press(m, "enter")
	if cur, _ := m.rec.ring.abs(m.rec.cursor); cur.Offset != 17 || !strings.Contains(m.View(), "1/30 records") {
		t.Fatalf("cursor on %d:\n%s", cur.Offset, m.View())
	}
	// headers match too
	press(m, "/", "backspace", "backspace", "backspace", "backspace", "c-2", "enter")
	if len(m.rec.matches) != 11 { // c-2, c-20 … c-29
		t.Fatalf("header filter listed %d", len(m.rec.matches))
	}
	// a new record that matches is listed and, while following, selected; others are not
	m.Update(recordsMsg{gen: m.rec.gen, msgs: []event.Message{{Offset: 30, Value: []byte("x"), Headers: []event.Header{{Key: "correlation-id", Value: []byte("c-2")}}}, {Offset: 31, Value: []byte("y")}}})
	if cur, _ := m.rec.ring.abs(m.rec.cursor); cur.Offset != 30 || len(m.rec.matches) != 12 {
		t.Fatalf("cursor %d matches %d", cur.Offset, len(m.rec.matches))
	}
	// the filter survives a change of topic
	m.rec.setTopic(m, "orders.scored")
	m.Update(tapOpenedMsg{gen: m.rec.gen, ch: make(chan event.Message)})
	m.Update(recordsMsg{gen: m.rec.gen, msgs: []event.Message{{Topic: "orders.scored", Value: []byte(`{"score":1}`), Headers: []event.Header{{Key: "correlation-id", Value: []byte("c-2")}}}, {Topic: "orders.scored", Value: []byte("other")}}})
	if len(m.rec.matches) != 1 || !strings.Contains(m.View(), "filter: c-2") {
		t.Fatalf("after topic change: %d matches\n%s", len(m.rec.matches), m.View())
	}
	press(m, "esc")
	if m.rec.filter != "" || len(m.rec.matches) != 2 {
		t.Fatal("esc did not clear the filter")
	}
}

func TestKeysReadTogetherAreTakenOneByOne(t *testing.T) {
	tests := []struct {
		name  string
		burst string
		check func(m *Model) bool
	}{
		{"tab then dialog", "4P", func(m *Model) bool { _, ok := m.modal.(*produceModal); return m.tab == tabMessages && ok }},
		{"prompt takes the rest", "2/err", func(m *Model) bool { return m.logs.input != nil && m.logs.input.Value() == "err" }},
		{"records filter", "4/c-1", func(m *Model) bool { return m.rec.input != nil && m.rec.filter == "c-1" }},
		{"view keys", "2ew", func(m *Model) bool { return m.logs.level == "error" && !m.logs.wrap }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestModel(t, fixture(), config{}, 100, 30)
			m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(tt.burst)})
			if !tt.check(m) {
				t.Fatalf("burst %q not taken key by key:\n%s", tt.burst, m.View())
			}
		})
	}
	// a paste into the logs view is not a sequence of commands
	m := newTestModel(t, fixture(), config{}, 100, 30)
	press(m, "2")
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("qq"), Paste: true})
	if m.quitting {
		t.Fatal("a paste quit the UI")
	}
}

// A schema file the registry refused shows with the registry component: in its row and, selected, in
// the detail pane, every line.
func TestComponentProblemsAreShown(t *testing.T) {
	f := fixture()
	f.bus.SetComponent(event.Component{Name: "registry", Status: event.StatusReady, Addr: "127.0.0.1:8081", Detail: "2 subjects, 1 refused",
		Problems: []string{"schemas/orders.avsc: subject orders-value: incompatible: field total has no default", "schemas/orders.avsc: subject orders-value: incompatible: type of id changed"}})
	m := newTestModel(t, f, config{}, 140, 30)
	if v := m.View(); !strings.Contains(v, "2 subjects, 1 refused · schemas/orders.avsc: subject") {
		t.Fatalf("the registry row does not show the refusal:\n%s", v)
	}
	press(m, "j", "j", "j", "j", "j", "j") // past the three services to the fourth component
	v := m.View()
	for _, want := range []string{"! schemas/orders.avsc: subject orders-value: incompatible: field total has no default", "! schemas/orders.avsc: subject orders-value: incompatible: type of id changed"} {
		if !strings.Contains(v, want) {
			t.Errorf("the detail pane lacks %q:\n%s", want, v)
		}
	}
}
