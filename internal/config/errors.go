package config

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a file: 1-based line and column.
type Pos struct {
	Line, Col int
}

// Error is one problem found in a config file. Its text is
// "FILE:LINE:COL: PATH: MESSAGE", e.g.
// "devstack.yaml:14:14: services.orders.restart.policy: must be one of no|on-failure|always".
type Error struct {
	File string // the file name as the user gave it, e.g. "devstack.yaml" or "sub/x.yaml"
	Pos         // where the offending key or value is (never zero)
	Path string // dotted key path, e.g. "gateway.routes[2].path"; "syntax error" for YAML syntax errors
	Msg  string // what is wrong and, where useful, what to do
}

func (e *Error) Error() string {
	line, col := e.Line, e.Col
	if line < 1 {
		line = 1
	}
	if col < 1 {
		col = 1
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", e.File, line, col, oneLine(e.Path), oneLine(e.Msg))
}

// oneLine keeps every error on a single line whatever text the file contained.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// Errors is every problem found while loading a config, sorted by position. Load returns it (as an
// error) when the file is invalid; use errors.As to get the individual errors.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap lets errors.As and errors.Is see each *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// sortErrors orders by file, line, column, then path and message, and drops exact duplicates.
func sortErrors(es []*Error) Errors {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Msg < b.Msg
	})
	out := make(Errors, 0, len(es))
	for _, e := range es {
		if n := len(out); n > 0 && *out[n-1] == *e {
			continue
		}
		out = append(out, e)
	}
	return out
}
