package cli

import (
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// isTerminal reports whether w (a reader or writer) is a character device (a terminal).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// useColor is true for terminals unless NO_COLOR is set or TERM=dumb.
func useColor(w io.Writer) bool {
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	return isTerminal(w) || os.Getenv("FORCE_COLOR") != ""
}

var palette = []int{36, 33, 35, 32, 34, 96, 93, 95, 92, 94}

type painter struct{ on bool }

func (p painter) color(code int, s string) string {
	if !p.on {
		return s
	}
	return fmt.Sprintf("\x1b[%dm%s\x1b[0m", code, s)
}

func (p painter) source(name string) string {
	switch name {
	case "devstack", "broker", "postgres", "gateway", "control":
		return p.color(90, name)
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return p.color(palette[int(h.Sum32())%len(palette)], name)
}

func (p painter) green(s string) string  { return p.color(32, s) }
func (p painter) red(s string) string    { return p.color(31, s) }
func (p painter) yellow(s string) string { return p.color(33, s) }
func (p painter) dim(s string) string    { return p.color(90, s) }

// formatLogLine renders one log line as "source[replica] | text", padded to width.
func (p painter) formatLogLine(l event.LogLine, width int) string {
	src := l.Source
	if l.Replica > 0 {
		src = fmt.Sprintf("%s.%d", l.Source, l.Replica)
	}
	pad := ""
	if n := width - len(src); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	text := l.Text
	if l.Stream == "stderr" && p.on && l.Level() == "error" {
		text = p.red(text)
	}
	if l.Severity != "" || len(l.Fields) > 0 || l.TraceID != "" {
		text = p.structured(l)
	}
	return p.source(src) + pad + p.dim(" | ") + text
}

// structured renders a JSON or logfmt line as "WARN  message key=value …", the fields sorted and dimmed.
func (p painter) structured(l event.LogLine) string {
	var b strings.Builder
	if l.Severity != "" {
		lvl := fmt.Sprintf("%-5s", strings.ToUpper(l.Severity))
		switch l.Severity {
		case "error":
			lvl = p.red(lvl)
		case "warn":
			lvl = p.yellow(lvl)
		case "debug", "trace":
			lvl = p.dim(lvl)
		}
		b.WriteString(lvl + " ")
	}
	b.WriteString(l.Text)
	keys := make([]string, 0, len(l.Fields))
	for k := range l.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var f strings.Builder
	for _, k := range keys {
		f.WriteString(" " + k + "=" + logfmtValue(l.Fields[k]))
	}
	if l.TraceID != "" {
		f.WriteString(" trace_id=" + l.TraceID)
	}
	if l.SpanID != "" {
		f.WriteString(" span_id=" + l.SpanID)
	}
	if f.Len() > 0 {
		b.WriteString(p.dim(f.String()))
	}
	return b.String()
}

// logfmtValue quotes a value that has spaces, quotes, an equals sign or control characters.
func logfmtValue(v string) string {
	if v == "" || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == '"' || r == '=' || r == 0x7f }) {
		return strconv.Quote(v)
	}
	return v
}

func statusMark(p painter, st event.Status) string {
	switch st {
	case event.StatusReady, event.StatusCompleted:
		return p.green("✓")
	case event.StatusFailed:
		return p.red("✗")
	case event.StatusStopped:
		return p.dim("■")
	default:
		return p.yellow("…")
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}

func fmtBytes(n uint64) string {
	switch {
	case n == 0:
		return "-"
	case n < 1<<20:
		return fmt.Sprintf("%dK", n>>10)
	case n < 1<<30:
		return fmt.Sprintf("%.0fM", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.1fG", float64(n)/(1<<30))
	}
}
