package tui

import (
	"hash/fnv"

	"github.com/charmbracelet/lipgloss"

	"github.com/devstack-dev/devstack/internal/event"
)

// styles uses the 16 basic ANSI colours only, so the UI follows the user's terminal theme (dark or
// light) without querying the terminal, and degrades to plain text on terminals without colour.
type styles struct {
	r *lipgloss.Renderer

	title, dim, bold, header, selected, tabActive, tabIdle, key, border lipgloss.Style
	ok, warn, err, info, debug, accent, highlight, flashInfo, flashErr  lipgloss.Style
	sourcePalette                                                       []lipgloss.Style
	modal                                                               lipgloss.Style
}

func newStyles(r *lipgloss.Renderer) styles {
	c := func(n string) lipgloss.Style { return r.NewStyle().Foreground(lipgloss.Color(n)) }
	s := styles{
		r:         r,
		title:     r.NewStyle().Bold(true),
		dim:       c("8"),
		bold:      r.NewStyle().Bold(true),
		header:    r.NewStyle().Bold(true).Underline(true),
		selected:  r.NewStyle().Reverse(true),
		tabActive: r.NewStyle().Bold(true).Reverse(true).Padding(0, 1),
		tabIdle:   r.NewStyle().Padding(0, 1),
		key:       c("6").Bold(true),
		border:    c("8"),
		ok:        c("2"),
		warn:      c("3"),
		err:       c("1").Bold(true),
		info:      c("4"),
		debug:     c("8"),
		accent:    c("5"),
		highlight: r.NewStyle().Reverse(true).Bold(true),
		flashInfo: c("6"),
		flashErr:  c("1").Bold(true),
		modal:     r.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(lipgloss.Color("6")).Padding(0, 1),
	}
	for _, n := range []string{"6", "5", "4", "2", "3", "14", "13", "12", "10", "11"} {
		s.sourcePalette = append(s.sourcePalette, c(n))
	}
	return s
}

// source gives each log source a stable colour.
func (s styles) source(name string) lipgloss.Style {
	switch name {
	case "devstack":
		return s.bold
	case "gateway", "broker", "postgres":
		return s.dim
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return s.sourcePalette[int(h.Sum32())%len(s.sourcePalette)]
}

// level colours a whole log line by its guessed level.
func (s styles) level(l string) (lipgloss.Style, bool) {
	switch l {
	case "error":
		return s.err, true
	case "warn":
		return s.warn, true
	case "debug":
		return s.debug, true
	}
	return lipgloss.Style{}, false
}

// status colours a lifecycle status.
func (s styles) status(st event.Status) lipgloss.Style {
	switch st {
	case event.StatusReady, event.StatusCompleted:
		return s.ok
	case event.StatusFailed:
		return s.err
	case event.StatusBackoff:
		return s.warn
	case event.StatusStopped, event.StatusPending:
		return s.dim
	}
	return s.info // setup, building, starting, stopping
}

// dot is the glyph for a status in the header.
func (s styles) dot(st event.Status) string {
	switch st {
	case event.StatusReady, event.StatusCompleted:
		return s.ok.Render("●")
	case event.StatusFailed:
		return s.err.Render("✗")
	case event.StatusStopped:
		return s.dim.Render("○")
	case event.StatusBackoff:
		return s.warn.Render("●")
	}
	return s.info.Render("◌")
}

// httpStatus colours an HTTP status code.
func (s styles) httpStatus(code int) lipgloss.Style {
	switch {
	case code >= 500:
		return s.err
	case code >= 400:
		return s.warn
	case code >= 300:
		return s.info
	}
	return s.ok
}
