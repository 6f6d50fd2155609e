// Package tui is devstack's terminal UI: a bubbletea program that shows a running stack's services,
// logs, topics, messages, consumer groups and gateway traffic live, and steers it.
//
// It reads the stack only through control.Controller (a state snapshot plus an event subscription, a
// log stream, and calls for topics, groups, messages and routes), so the same UI runs in-process under
// `devstack up` and attached to a running stack from another terminal under `devstack tui`.
//
// It is built on bubbletea v1 (with bubbles v1 and lipgloss v1), the stable line that teatest and most
// of the ecosystem's components target. Update never blocks: every call to the Controller runs in a
// tea.Cmd returning a typed message, streams are read by wait commands re-armed after each batch, and
// the only timer is a one-second refresh for data that has no event (topics, groups, routes, uptimes),
// armed only while a view that shows such data is visible. Logs, records and gateway requests live in
// ring buffers, so memory stays flat however chatty the stack is.
package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/devstack-dev/devstack/internal/control"
)

// Options tune the UI.
type Options struct {
	// NoColor renders plain text, without colour or other styling (the selection is shown by a ›
	// marker, which is always there). NO_COLOR in the environment or a terminal without colour has
	// the same effect.
	NoColor bool
	// Version is shown in the help screen.
	Version string
}

// Run shows the full-screen UI on the terminal until the user quits (q or ctrl+c) or ctx ends.
func Run(ctx context.Context, ctrl control.Controller, o Options) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m := newModel(ctx, ctrl, o, config{output: os.Stdout})
	if o.NoColor {
		// the text inputs of bubbles style themselves with lipgloss's default renderer
		lipgloss.SetColorProfile(termenv.Ascii)
	}
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithAltScreen())
	_, err := p.Run()
	m.cancel()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // the caller ended it: not an error
	}
	if err != nil {
		return fmt.Errorf("terminal UI: %w", err)
	}
	return nil
}

// New returns the UI's model for driving it in tests or embedding it in another program. Its
// streams stop when the model quits.
func New(ctrl control.Controller, o Options) tea.Model {
	return newModel(context.Background(), ctrl, o, config{output: os.Stdout})
}

// config holds what tests pin down: the colour profile, the clock and the time zone.
type config struct {
	output  io.Writer
	profile *termenv.Profile
	now     func() time.Time
	loc     *time.Location
	logCap  int
	msgCap  int
}

func (c config) renderer(noColor bool) *lipgloss.Renderer {
	out := c.output
	if out == nil {
		out = io.Discard
	}
	r := lipgloss.NewRenderer(out)
	switch {
	case noColor:
		r.SetColorProfile(termenv.Ascii)
	case c.profile != nil:
		r.SetColorProfile(*c.profile)
	}
	return r
}
