package tui

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textarea"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/serde"
)

// modal is a dialog that takes every key until it closes (by setting m.modal to nil).
type modal interface {
	update(m *Model, msg tea.KeyMsg) tea.Cmd
	view(m *Model, w, h int) string
	hint(m *Model) string
	passthrough(m *Model, msg tea.Msg) tea.Cmd
}

func newInput(placeholder, value string) textinput.Model {
	ti := textinput.New()
	ti.Prompt = ""
	ti.Placeholder = placeholder
	ti.Cursor.SetMode(cursor.CursorStatic)
	ti.SetValue(value)
	return ti
}

// box draws a dialog centred in the content area.
func (m *Model) box(title, body string, w, h int) string {
	bw := min(w-2, max(60, min(w*3/4, 100)))
	inner := bw - 4
	lines := append([]string{m.st.bold.Render(trunc(title, inner)), ""}, wrapLines(body, inner)...)
	if len(lines) > h-2 {
		lines = lines[:max(h-2, 1)]
	}
	b := m.st.modal.Width(inner + 2).Render(strings.Join(lines, "\n"))
	return lipgloss.Place(w, h, lipgloss.Center, lipgloss.Center, b)
}

// ---- picker: choose one of a list, or type a new name ----

type picker struct {
	title  string
	items  []string
	input  textinput.Model
	cursor int
	onPick func(*Model, string) tea.Cmd
}

func newPicker(title string, items []string, onPick func(*Model, string) tea.Cmd) *picker {
	p := &picker{title: title, items: items, input: newInput("type to filter", ""), onPick: onPick}
	p.input.Focus()
	return p
}

func (p *picker) matches() []string {
	q := strings.ToLower(p.input.Value())
	var out []string
	for _, it := range p.items {
		if strings.Contains(strings.ToLower(it), q) {
			out = append(out, it)
		}
	}
	return out
}

func (p *picker) update(m *Model, msg tea.KeyMsg) tea.Cmd {
	ms := p.matches()
	switch msg.Type {
	case tea.KeyEsc:
		m.modal = nil
		return nil
	case tea.KeyUp, tea.KeyCtrlP:
		p.cursor--
	case tea.KeyDown, tea.KeyCtrlN:
		p.cursor++
	case tea.KeyEnter:
		choice := strings.TrimSpace(p.input.Value())
		if p.cursor < len(ms) {
			choice = ms[p.cursor]
		}
		if choice == "" {
			return nil
		}
		m.modal = nil
		return p.onPick(m, choice)
	default:
		var cmd tea.Cmd
		p.input, cmd = p.input.Update(msg)
		p.cursor = 0
		return cmd
	}
	p.cursor = min(max(p.cursor, 0), max(len(ms)-1, 0))
	return nil
}

func (p *picker) passthrough(m *Model, msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	p.input, cmd = p.input.Update(msg)
	return cmd
}

func (p *picker) view(m *Model, w, h int) string {
	// the picker lists topics known when it opened; refresh them as they arrive
	if len(p.items) == 0 && len(m.topics.list) > 0 {
		for _, t := range m.topics.list {
			if !internalTopic(t) {
				p.items = append(p.items, t.Name)
			}
		}
	}
	var b strings.Builder
	b.WriteString(m.st.key.Render("> ") + p.input.View())
	ms := p.matches()
	room := max(h-8, 3)
	start := max(0, p.cursor-room+1)
	for i := start; i < len(ms) && i < start+room; i++ {
		b.WriteString("\n" + m.marker(i == p.cursor) + " " + ms[i])
	}
	if len(ms) == 0 {
		if v := strings.TrimSpace(p.input.Value()); v != "" {
			b.WriteString("\n" + m.st.dim.Render("enter: use "+strconv.Quote(v)))
		} else {
			b.WriteString("\n" + m.st.dim.Render("(none yet)"))
		}
	}
	return m.box(p.title, b.String(), w, h)
}

func (p *picker) hint(m *Model) string {
	return m.hint("↑↓", "select", "enter", "choose", "esc", "cancel")
}

// ---- seek: where the Messages view reads from ----

type seekModal struct {
	input textinput.Model
	err   string
}

func newSeekModal(m *Model) *seekModal {
	s := &seekModal{input: newInput("beginning | end | last | 1234 (offset) | 10m (ago) | 2026-01-02T15:04:05Z", "")}
	s.input.Focus()
	return s
}

// parseSeek turns what the user typed into a read position.
func parseSeek(v string, now time.Time) (from string, offset int64, since time.Time, err error) {
	v = strings.TrimSpace(strings.ToLower(v))
	switch v {
	case "", "last", "tail":
		return "last", 0, time.Time{}, nil
	case "beginning", "start", "earliest", "0":
		return "beginning", 0, time.Time{}, nil
	case "end", "latest", "new":
		return "end", 0, time.Time{}, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		return "offset", n, time.Time{}, nil
	}
	if d, err := time.ParseDuration(strings.TrimPrefix(v, "-")); err == nil && d > 0 {
		return "time", 0, now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, strings.ToUpper(v), time.Local); err == nil {
			return "time", 0, t, nil
		}
	}
	return "", 0, time.Time{}, fmt.Errorf("%q: want beginning, end, last, an offset, a duration like 10m, or a time like 2026-01-02T15:04:05Z", v)
}

func (s *seekModal) update(m *Model, msg tea.KeyMsg) tea.Cmd {
	switch msg.Type {
	case tea.KeyEsc:
		m.modal = nil
		return nil
	case tea.KeyEnter:
		from, off, since, err := parseSeek(s.input.Value(), m.now())
		if err != nil {
			s.err = err.Error()
			return nil
		}
		m.modal = nil
		r := &m.rec
		r.from, r.offset, r.since = from, off, since
		r.live = from == "last" || from == "end"
		return r.openTap(m, true)
	}
	var cmd tea.Cmd
	s.input, cmd = s.input.Update(msg)
	s.err = ""
	return cmd
}

func (s *seekModal) passthrough(m *Model, msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	s.input, cmd = s.input.Update(msg)
	return cmd
}

func (s *seekModal) view(m *Model, w, h int) string {
	body := m.st.key.Render("from: ") + s.input.View() + "\n\n" + m.st.dim.Render(
		"beginning / end / last: where to start\n1234: that offset (of each partition shown)\n10m, 2h: records newer than that\n2026-01-02T15:04:05Z: records since that time\nA bounded read shows up to "+strconv.Itoa(m.rec.ring.cap())+" records; f goes back to the live tail.")
	if s.err != "" {
		body += "\n\n" + m.st.err.Render(s.err)
	}
	return m.box("Browse "+m.rec.topic+" from…", body, w, h)
}

func (s *seekModal) hint(m *Model) string { return m.hint("enter", "read", "esc", "cancel") }

// ---- produce: write one record from the UI ----

type produceModal struct {
	fields [4]textinput.Model // topic, key, headers, subject
	value  textarea.Model
	focus  int // 0..3 fields, 4 value
	err    string
	busy   bool
}

// produceValue is the focus index of the value.
const produceValue = 4

func newProduceModal(m *Model, topic string) *produceModal {
	p := &produceModal{}
	p.fields[0] = newInput("topic", topic)
	p.fields[1] = newInput("optional key", "")
	p.fields[2] = newInput("optional headers: name=value, name2=value2", "")
	p.fields[3] = newInput("optional: encode the JSON value with this registry subject (S, or S@VERSION)", "")
	ta := textarea.New()
	ta.ShowLineNumbers = false
	ta.Prompt = ""
	ta.Placeholder = `{"id": 1, "note": "JSON or any text"}`
	ta.Cursor.SetMode(cursor.CursorStatic)
	ta.SetHeight(6)
	ta.CharLimit = 1 << 20
	p.value = ta
	if topic == "" {
		p.setFocus(0)
	} else {
		p.setFocus(produceValue)
	}
	return p
}

func (p *produceModal) setFocus(i int) {
	p.focus = (i + produceValue + 1) % (produceValue + 1)
	for j := range p.fields {
		if j == p.focus {
			p.fields[j].Focus()
		} else {
			p.fields[j].Blur()
		}
	}
	if p.focus == produceValue {
		p.value.Focus()
	} else {
		p.value.Blur()
	}
}

func parseHeaders(s string) ([]event.Header, error) {
	var out []event.Header
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("header %q: write name=value", part)
		}
		out = append(out, event.Header{Key: strings.TrimSpace(k), Value: []byte(strings.TrimSpace(v))})
	}
	return out, nil
}

func (p *produceModal) update(m *Model, msg tea.KeyMsg) tea.Cmd {
	switch msg.Type {
	case tea.KeyEsc:
		m.modal = nil
		return nil
	case tea.KeyTab:
		p.setFocus(p.focus + 1)
		return nil
	case tea.KeyShiftTab:
		p.setFocus(p.focus - 1)
		return nil
	case tea.KeyCtrlS:
		if p.busy {
			return nil
		}
		return p.send(m)
	case tea.KeyEnter:
		if p.focus < produceValue {
			p.setFocus(p.focus + 1)
			return nil
		}
	}
	p.err = ""
	var cmd tea.Cmd
	if p.focus == produceValue {
		p.value, cmd = p.value.Update(msg)
	} else {
		p.fields[p.focus], cmd = p.fields[p.focus].Update(msg)
	}
	return cmd
}

// subjectResolver finds a subject's version (-1: the latest); the registry client is one.
type subjectResolver interface {
	BySubject(ctx context.Context, subject string, version int) (*serde.Resolved, error)
}

// produceEncodedMsg is a value encoded with a subject (or why it was not).
type produceEncodedMsg struct {
	rec        event.Message
	err        error
	subjectErr bool // the subject, not the value, is wrong
}

// parseSubjectField reads "S" or "S@VERSION".
func parseSubjectField(s string) (string, int, error) {
	subject, v, ok := strings.Cut(strings.TrimSpace(s), "@")
	if !ok || strings.EqualFold(v, "latest") {
		return subject, -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return "", 0, fmt.Errorf("subject %q: write SUBJECT or SUBJECT@VERSION (a number from 1)", s)
	}
	return subject, n, nil
}

func (p *produceModal) send(m *Model) tea.Cmd {
	topic := strings.TrimSpace(p.fields[0].Value())
	if topic == "" {
		p.err = "topic is empty"
		p.setFocus(0)
		return nil
	}
	hs, err := parseHeaders(p.fields[2].Value())
	if err != nil {
		p.err = err.Error()
		p.setFocus(2)
		return nil
	}
	rec := event.Message{Topic: topic, Partition: -1, Value: []byte(p.value.Value()), Headers: hs, Timestamp: m.now()}
	if k := p.fields[1].Value(); k != "" {
		rec.Key = []byte(k)
	}
	if strings.TrimSpace(p.fields[3].Value()) == "" {
		return p.produce(m, rec)
	}
	subject, version, err := parseSubjectField(p.fields[3].Value())
	if err != nil {
		p.err = err.Error()
		p.setFocus(3)
		return nil
	}
	res, ok := m.registry().(subjectResolver)
	if !ok {
		p.err = "this stack runs no schema registry: clear the subject to send the value as it is"
		p.setFocus(3)
		return nil
	}
	p.busy, p.err = true, ""
	ctx := m.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		r, err := res.BySubject(ctx, subject, version)
		if err != nil {
			return produceEncodedMsg{err: err, subjectErr: true}
		}
		b, err := serde.Encode(r, rec.Value, "")
		if err != nil {
			return produceEncodedMsg{err: fmt.Errorf("the value does not match %s version %d: %w", r.Subject, r.Version, err)}
		}
		rec.Value = b
		return produceEncodedMsg{rec: rec}
	}
}

// produce sends rec and closes the dialog.
func (p *produceModal) produce(m *Model, rec event.Message) tea.Cmd {
	topic := rec.Topic
	m.modal = nil
	what := "produce to " + topic
	cmds := []tea.Cmd{action(m.ctx, what, func(ctx context.Context) error {
		return m.ctrl.Produce(ctx, topic, []event.Message{rec})
	})}
	// watch it arrive: tail the topic we wrote to
	if m.rec.topic != topic || !m.rec.live {
		cmds = append(cmds, m.rec.setTopic(m, topic))
	}
	return tea.Batch(cmds...)
}

func (p *produceModal) passthrough(m *Model, msg tea.Msg) tea.Cmd {
	if e, ok := msg.(produceEncodedMsg); ok {
		p.busy = false
		if e.err != nil {
			p.err = e.err.Error()
			if e.subjectErr {
				p.setFocus(3)
			} else {
				p.setFocus(produceValue)
			}
			return nil
		}
		return p.produce(m, e.rec)
	}
	var cmd tea.Cmd
	if p.focus == produceValue {
		p.value, cmd = p.value.Update(msg)
	} else {
		p.fields[p.focus], cmd = p.fields[p.focus].Update(msg)
	}
	return cmd
}

func (p *produceModal) view(m *Model, w, h int) string {
	s := m.st
	inner := min(w-2, max(60, min(w*3/4, 100))) - 4
	labels := []string{"topic", "key", "headers", "subject"}
	var b strings.Builder
	for i, l := range labels {
		lab := fit(l, 8)
		if p.focus == i {
			lab = s.key.Render(lab)
		} else {
			lab = s.dim.Render(lab)
		}
		p.fields[i].Width = inner - 10
		b.WriteString(m.marker(p.focus == i) + lab + " " + p.fields[i].View() + "\n")
	}
	lab := "value"
	if p.focus == produceValue {
		lab = s.key.Render(lab)
	} else {
		lab = s.dim.Render(lab)
	}
	b.WriteString(m.marker(p.focus == produceValue) + lab + "\n")
	p.value.SetWidth(inner)
	p.value.SetHeight(max(min(h-15, 10), 2))
	b.WriteString(p.value.View())
	switch {
	case p.busy:
		b.WriteString("\n" + s.dim.Render("encoding with the subject…"))
	case p.err != "":
		b.WriteString("\n" + s.err.Render(p.err))
	}
	return m.box("Produce a message", b.String(), w, h)
}

func (p *produceModal) hint(m *Model) string {
	return m.hint("ctrl+s", "send", "tab", "next field", "esc", "cancel")
}

// ---- reset a consumer group's offsets, with confirmation ----

type resetModal struct {
	group   event.GroupInfo
	topics  []string // "" first: every topic
	topic   int
	target  int // index in resetTargets
	offset  textinput.Model
	confirm bool
	err     string
}

var resetTargets = []string{"earliest", "latest", "offset"}

func newResetModal(m *Model, g event.GroupInfo) *resetModal {
	r := &resetModal{group: g, topics: append([]string{""}, groupTopics(g)...), offset: newInput("offset", "0")}
	return r
}

func (r *resetModal) request() (control.ResetRequest, error) {
	req := control.ResetRequest{Group: r.group.Name, Topic: r.topics[r.topic], To: resetTargets[r.target]}
	if req.To == "offset" {
		n, err := strconv.ParseInt(strings.TrimSpace(r.offset.Value()), 10, 64)
		if err != nil || n < 0 {
			return req, fmt.Errorf("offset %q: want a number ≥ 0", r.offset.Value())
		}
		req.Offset = n
	}
	return req, nil
}

func (r *resetModal) update(m *Model, msg tea.KeyMsg) tea.Cmd {
	if r.confirm {
		switch msg.String() {
		case "y", "Y":
			req, _ := r.request()
			m.modal = nil
			what := "reset group " + req.Group
			return tea.Batch(action(m.ctx, what, func(ctx context.Context) error { return m.ctrl.ResetGroup(ctx, req) }), m.fetch("groups"))
		default:
			r.confirm = false
		}
		return nil
	}
	switch msg.Type {
	case tea.KeyEsc:
		m.modal = nil
		return nil
	case tea.KeyUp, tea.KeyShiftTab:
		r.topic = (r.topic - 1 + len(r.topics)) % len(r.topics)
		return nil
	case tea.KeyDown, tea.KeyTab:
		r.topic = (r.topic + 1) % len(r.topics)
		return nil
	case tea.KeyLeft:
		r.target = (r.target - 1 + len(resetTargets)) % len(resetTargets)
		r.syncFocus()
		return nil
	case tea.KeyRight:
		r.target = (r.target + 1) % len(resetTargets)
		r.syncFocus()
		return nil
	case tea.KeyEnter:
		if _, err := r.request(); err != nil {
			r.err = err.Error()
			return nil
		}
		r.confirm = true
		return nil
	}
	if resetTargets[r.target] == "offset" {
		var cmd tea.Cmd
		r.offset, cmd = r.offset.Update(msg)
		r.err = ""
		return cmd
	}
	return nil
}

func (r *resetModal) syncFocus() {
	if resetTargets[r.target] == "offset" {
		r.offset.Focus()
	} else {
		r.offset.Blur()
	}
}

func (r *resetModal) passthrough(m *Model, msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	r.offset, cmd = r.offset.Update(msg)
	return cmd
}

func (r *resetModal) view(m *Model, w, h int) string {
	s := m.st
	var b strings.Builder
	b.WriteString(s.bold.Render("topic   "))
	for i, t := range r.topics {
		name := t
		if t == "" {
			name = "every topic"
		}
		if i == r.topic {
			b.WriteString(m.marker(true) + s.key.Render(name) + " ")
		} else {
			b.WriteString(" " + s.dim.Render(name) + " ")
		}
	}
	b.WriteString("\n" + s.bold.Render("to      "))
	for i, t := range resetTargets {
		if i == r.target {
			b.WriteString(m.marker(true) + s.key.Render(t) + " ")
		} else {
			b.WriteString(" " + s.dim.Render(t) + " ")
		}
	}
	if resetTargets[r.target] == "offset" {
		b.WriteString("\n" + s.bold.Render("offset  ") + r.offset.View())
	}
	if len(r.group.Members) > 0 {
		b.WriteString("\n\n" + s.warn.Render(fmt.Sprintf("The group has %d active members: stop its consumers first (the broker refuses to reset a live group).", len(r.group.Members))))
	}
	if r.err != "" {
		b.WriteString("\n\n" + s.err.Render(r.err))
	}
	if r.confirm {
		req, _ := r.request()
		topic := req.Topic
		if topic == "" {
			topic = "every topic"
		}
		to := req.To
		if to == "offset" {
			to = "offset " + strconv.FormatInt(req.Offset, 10)
		}
		b.WriteString("\n\n" + s.err.Render(fmt.Sprintf("Reset %s on %s to %s? y to confirm, any other key to go back", req.Group, topic, to)))
	}
	return m.box("Reset offsets of consumer group "+r.group.Name, b.String(), w, h)
}

func (r *resetModal) hint(m *Model) string {
	if r.confirm {
		return m.hint("y", "reset", "any key", "back")
	}
	return m.hint("↑↓", "topic", "←→", "target", "enter", "continue", "esc", "cancel")
}
