package tui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/devstack-dev/devstack/internal/event"
)

// fit truncates s (which may hold ANSI styling) to w cells with an ellipsis, then pads it to w.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		return ansi.Truncate(s, w, "…")
	}
	return s + strings.Repeat(" ", w-sw)
}

// fitRight is fit with right alignment.
func fitRight(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		return ansi.Truncate(s, w, "…")
	}
	return strings.Repeat(" ", w-sw) + s
}

// trunc cuts s to w cells without padding.
func trunc(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// padLines makes s exactly h lines (cutting or padding with empty lines), each cut to w cells.
func padLines(s string, w, h int) string {
	if h <= 0 {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		lines[i] = trunc(l, w)
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// oneLine replaces control characters (newlines, tabs, escapes) so s renders on one row.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\t':
			b.WriteString("  ")
		case r == '\n' || r == '\r':
			b.WriteString("⏎")
		case r < 0x20 || r == 0x7f:
			b.WriteRune('�')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// stripANSI removes escape sequences a service printed (colours), so our own styling stays intact.
func stripANSI(s string) string {
	if !strings.Contains(s, "\x1b") {
		return s
	}
	return ansi.Strip(s)
}

// humanDuration prints d compactly: 850ms, 12s, 3m04s, 2h05m, 3d4h.
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

// scrollOffset is the first of n rows a body of bodyH rows shows so that the cursor's row is in it:
// offset moved as little as it can, and never so far that the body ends before the rows do.
func scrollOffset(offset, cursor, bodyH, n int) int {
	if cursor < offset {
		offset = cursor
	}
	if cursor >= offset+bodyH {
		offset = cursor - bodyH + 1
	}
	return min(offset, max(n-bodyH, 0))
}

// latency prints a request latency: 0.4ms, 12ms, 1.2s.
func latency(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return event.ShortDuration(d)
}

// humanBytes prints a byte count with a binary unit: 512B, 12K, 340M, 1.2G.
func humanBytes(b uint64) string {
	const k = 1024
	switch {
	case b < k:
		return fmt.Sprintf("%dB", b)
	case b < k*k:
		return fmt.Sprintf("%dK", b/k)
	case b < k*k*k:
		return fmt.Sprintf("%dM", b/(k*k))
	}
	return fmt.Sprintf("%.1fG", float64(b)/float64(k*k*k))
}

// rate prints a per-second rate: 0, 0.4, 12, 1.2k, 10k.
func rate(r float64) string {
	switch {
	case r <= 0:
		return "0"
	case r < 10:
		return strconv.FormatFloat(r, 'f', 1, 64)
	case r < 1000:
		return strconv.FormatFloat(r, 'f', 0, 64)
	case r < 10000:
		return strconv.FormatFloat(r/1000, 'f', 1, 64) + "k"
	}
	return strconv.FormatFloat(r/1000, 'f', 0, 64) + "k"
}

// count prints an integer compactly: 999, 12.3k, 4.5M.
func count(n int64) string {
	switch {
	case n < 10000:
		return strconv.FormatInt(n, 10)
	case n < 1_000_000:
		return strconv.FormatFloat(float64(n)/1000, 'f', 1, 64) + "k"
	}
	return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + "M"
}

// printable reports whether b is valid UTF-8 text without control characters other than whitespace.
func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if r == '\n' || r == '\r' || r == '\t' {
			continue
		}
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// prettyJSON indents b if it is a JSON object or array; ok is false otherwise.
func prettyJSON(b []byte) (string, bool) {
	t := bytes.TrimSpace(b)
	if len(t) < 2 || (t[0] != '{' && t[0] != '[') || !json.Valid(t) {
		return "", false
	}
	var out bytes.Buffer
	if err := json.Indent(&out, t, "", "  "); err != nil {
		return "", false
	}
	return out.String(), true
}

// compactJSON returns b on one line if it is JSON, else ok false.
func compactJSON(b []byte) (string, bool) {
	t := bytes.TrimSpace(b)
	if len(t) < 2 || (t[0] != '{' && t[0] != '[') || !json.Valid(t) {
		return "", false
	}
	var out bytes.Buffer
	if err := json.Compact(&out, t); err != nil {
		return "", false
	}
	return out.String(), true
}

// hexDump renders b like `hexdump -C`, at most max bytes.
func hexDump(b []byte, max int) string {
	var sb strings.Builder
	n := len(b)
	if max > 0 && n > max {
		n = max
	}
	for off := 0; off < n; off += 16 {
		end := min(off+16, n)
		fmt.Fprintf(&sb, "%08x  ", off)
		for i := off; i < off+16; i++ {
			if i < end {
				fmt.Fprintf(&sb, "%02x ", b[i])
			} else {
				sb.WriteString("   ")
			}
			if i == off+7 {
				sb.WriteByte(' ')
			}
		}
		sb.WriteString(" |")
		for i := off; i < end; i++ {
			c := b[i]
			if c < 0x20 || c > 0x7e {
				c = '.'
			}
			sb.WriteByte(c)
		}
		sb.WriteString("|\n")
	}
	if n < len(b) {
		fmt.Fprintf(&sb, "… %d more bytes\n", len(b)-n)
	}
	return strings.TrimSuffix(sb.String(), "\n")
}

// preview renders a record key or value on one line: text as is, JSON compacted, binary as hex.
func preview(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := compactJSON(b); ok {
		return s
	}
	if printable(b) {
		return oneLine(string(b))
	}
	const maxHex = 24
	n := min(len(b), maxHex)
	s := fmt.Sprintf("0x%x", b[:n])
	if n < len(b) {
		s += "…"
	}
	return s
}

// wrapLines hard-wraps every line of s at w cells.
func wrapLines(s string, w int) []string {
	if w <= 0 {
		return nil
	}
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if ansi.StringWidth(l) <= w {
			out = append(out, l)
			continue
		}
		out = append(out, strings.Split(ansi.Wrap(l, w, ""), "\n")...)
	}
	return out
}

// joinCols joins pre-fitted cells with one space.
func joinCols(cells ...string) string { return strings.Join(cells, " ") }

// width of s in cells.
func width(s string) int { return lipgloss.Width(s) }
