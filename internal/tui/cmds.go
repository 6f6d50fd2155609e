package tui

import (
	"context"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
)

// Every piece of I/O runs in a tea.Cmd that returns one of these typed messages. Streams are read by
// a wait command that blocks for one item, then drains whatever is already queued (up to maxBatch)
// so a burst costs one Update and one View, not thousands. The wait command is re-armed by Update
// after each batch. gen fields let Update ignore messages from a stream it has since replaced.

const (
	maxBatch      = 2048
	callTimeout   = 30 * time.Second
	retryDelay    = time.Second
	refreshPeriod = time.Second
)

type (
	subscribedMsg struct {
		gen   int
		state event.State
		ch    <-chan event.Event
		err   error
	}
	eventsMsg struct {
		gen    int
		events []event.Event
		closed bool
	}
	logsSubscribedMsg struct {
		gen  int
		past []event.LogLine
		ch   <-chan event.LogLine
		err  error
	}
	logsMsg struct {
		gen    int
		lines  []event.LogLine
		closed bool
	}
	tapOpenedMsg struct {
		gen int
		ch  <-chan event.Message
		err error
	}
	recordsMsg struct {
		gen    int
		msgs   []event.Message
		closed bool
	}
	retryMsg struct {
		what string // "events", "logs", "tap"
		gen  int
	}
	tickMsg   struct{ gen int }
	topicsMsg struct {
		topics []event.TopicInfo
		err    error
	}
	groupsMsg struct {
		groups []event.GroupInfo
		err    error
	}
	routesMsg struct {
		routes []event.RouteStats
		err    error
	}
	// actionMsg reports a Controller call the user asked for (restart, produce, reset …).
	actionMsg struct {
		what string
		err  error
	}
	clearFlashMsg struct{ id int }
)

func subscribeCmd(ctx context.Context, c control.Controller, gen int) tea.Cmd {
	return func() tea.Msg {
		st, ch, err := c.Subscribe(ctx)
		return subscribedMsg{gen: gen, state: st, ch: ch, err: err}
	}
}

func waitEvents(gen int, ch <-chan event.Event) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return eventsMsg{gen: gen, closed: true}
		}
		evs := []event.Event{ev}
		for len(evs) < maxBatch {
			select {
			case ev, ok := <-ch:
				if !ok {
					return eventsMsg{gen: gen, events: evs, closed: true}
				}
				evs = append(evs, ev)
			default:
				return eventsMsg{gen: gen, events: evs}
			}
		}
		return eventsMsg{gen: gen, events: evs}
	}
}

func subscribeLogsCmd(ctx context.Context, c control.Controller, gen, backlog int) tea.Cmd {
	return func() tea.Msg {
		past, ch, err := c.Logs(ctx, control.LogQuery{Tail: backlog, Follow: true})
		return logsSubscribedMsg{gen: gen, past: past, ch: ch, err: err}
	}
}

func waitLogs(gen int, ch <-chan event.LogLine) tea.Cmd {
	return func() tea.Msg {
		l, ok := <-ch
		if !ok {
			return logsMsg{gen: gen, closed: true}
		}
		lines := []event.LogLine{l}
		for len(lines) < maxBatch {
			select {
			case l, ok := <-ch:
				if !ok {
					return logsMsg{gen: gen, lines: lines, closed: true}
				}
				lines = append(lines, l)
			default:
				return logsMsg{gen: gen, lines: lines}
			}
		}
		return logsMsg{gen: gen, lines: lines}
	}
}

func openTapCmd(ctx context.Context, c control.Controller, gen int, q control.MessageQuery) tea.Cmd {
	return func() tea.Msg {
		ch, err := c.Messages(ctx, q)
		return tapOpenedMsg{gen: gen, ch: ch, err: err}
	}
}

func waitRecords(gen int, ch <-chan event.Message) tea.Cmd {
	return func() tea.Msg {
		r, ok := <-ch
		if !ok {
			return recordsMsg{gen: gen, closed: true}
		}
		msgs := []event.Message{r}
		for len(msgs) < maxBatch {
			select {
			case r, ok := <-ch:
				if !ok {
					return recordsMsg{gen: gen, msgs: msgs, closed: true}
				}
				msgs = append(msgs, r)
			default:
				return recordsMsg{gen: gen, msgs: msgs}
			}
		}
		return recordsMsg{gen: gen, msgs: msgs}
	}
}

func retryCmd(what string, gen int) tea.Cmd {
	return tea.Tick(retryDelay, func(time.Time) tea.Msg { return retryMsg{what: what, gen: gen} })
}

func tickCmd(gen int) tea.Cmd {
	return tea.Tick(refreshPeriod, func(time.Time) tea.Msg { return tickMsg{gen: gen} })
}

func fetchTopics(ctx context.Context, c control.Controller) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		t, err := c.Topics(ctx)
		return topicsMsg{topics: t, err: err}
	}
}

func fetchGroups(ctx context.Context, c control.Controller) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		g, err := c.Groups(ctx)
		return groupsMsg{groups: g, err: err}
	}
}

func fetchRoutes(ctx context.Context, c control.Controller) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		r, err := c.Routes(ctx)
		return routesMsg{routes: r, err: err}
	}
}

// action runs one Controller call and reports it as an actionMsg.
func action(ctx context.Context, what string, fn func(context.Context) error) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		return actionMsg{what: what, err: fn(ctx)}
	}
}
