package testreport

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
)

// GoJSONText is a writer that passes output through, except lines that are `go test -json` events
// (test2json), which it replaces by their Output text: what `go test -v` would have printed. So a
// tests: entry may run `go test -json` and still show readable output.
type GoJSONText struct {
	mu      sync.Mutex
	w       io.Writer
	midLine bool         // inside a line that is passed through as it comes
	buf     bytes.Buffer // a line starting with '{', held until its end
}

// NewGoJSONText writes to w.
func NewGoJSONText(w io.Writer) *GoJSONText { return &GoJSONText{w: w} }

func (g *GoJSONText) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		switch {
		case g.buf.Len() > 0:
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				g.buf.Write(p)
				return n, nil
			}
			g.buf.Write(p[:i+1])
			p = p[i+1:]
			if err := g.flushLine(); err != nil {
				return n, err
			}
		case !g.midLine && p[0] == '{':
			g.buf.WriteByte('{')
			p = p[1:]
		default:
			i := bytes.IndexByte(p, '\n')
			chunk := p
			if i >= 0 {
				chunk = p[:i+1]
			}
			if _, err := g.w.Write(chunk); err != nil {
				return n, err
			}
			p = p[len(chunk):]
			g.midLine = i < 0
		}
	}
	return n, nil
}

type testEvent struct {
	Action string
	Output *string
}

func (g *GoJSONText) flushLine() error {
	line := g.buf.Bytes()
	defer g.buf.Reset()
	var ev testEvent
	if json.Unmarshal(line, &ev) == nil && ev.Action != "" {
		if ev.Output == nil {
			return nil
		}
		_, err := io.WriteString(g.w, *ev.Output)
		return err
	}
	_, err := g.w.Write(line)
	return err
}

// Close writes out a held partial line.
func (g *GoJSONText) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.buf.Len() == 0 {
		return nil
	}
	return g.flushLine()
}
