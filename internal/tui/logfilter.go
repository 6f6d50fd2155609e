package tui

import (
	"regexp"
	"sort"
	"strings"
	"unicode"

	"github.com/devstack-dev/devstack/internal/event"
)

// The Logs view's level filter: e cycles through showing every line, then lines at error, at least
// warn, at least info, at least debug. A line without a level (plain text that names none) counts
// as info.
var logLevels = []string{"", "error", "warn", "info", "debug"}

func levelRank(l string) int {
	switch l {
	case "error":
		return 4
	case "warn":
		return 3
	case "debug":
		return 1
	}
	return 2
}

// nextLevel is the level filter after cur in the cycle.
func nextLevel(cur string) string {
	for i, l := range logLevels {
		if l == cur {
			return logLevels[(i+1)%len(logLevels)]
		}
	}
	return ""
}

// fieldTerm is a key=value word of the filter: it matches a line whose field key is value (level,
// trace_id and span_id match the line's severity and trace context), or whose text has the word.
type fieldTerm struct {
	key, value, word string
	fold             bool // no upper-case letter in the word: compare case-insensitively (smart case)
}

var fieldTermRe = regexp.MustCompile(`^[A-Za-z_@][A-Za-z0-9_.@-]*=\S*$`)

// parseLogQuery splits a substring filter into its key=value words and the rest, which is matched
// as text (see compileFilter). A regular expression is all text.
func parseLogQuery(q string, regex bool) (*regexp.Regexp, []fieldTerm, error) {
	if regex {
		re, err := compileFilter(q, true)
		return re, nil, err
	}
	var terms []fieldTerm
	var rest []string
	for _, w := range strings.Fields(q) {
		if fieldTermRe.MatchString(w) {
			k, v, _ := strings.Cut(w, "=")
			terms = append(terms, fieldTerm{key: k, value: v, word: w, fold: !strings.ContainsFunc(w, unicode.IsUpper)})
			continue
		}
		rest = append(rest, w)
	}
	text := strings.TrimSpace(q)
	if len(terms) > 0 {
		text = strings.Join(rest, " ")
	}
	re, err := compileFilter(text, false)
	return re, terms, err
}

func (t fieldTerm) match(l *event.LogLine) bool {
	var v string
	var ok bool
	switch t.key {
	case "level":
		if want := event.NormalizeLevel(t.value); want != "" {
			got := l.Severity
			if got == "" {
				got = l.Level()
			}
			return got == want || want == "debug" && got == "trace"
		}
	case "trace_id", "trace":
		v, ok = l.TraceID, l.TraceID != ""
	case "span_id", "span":
		v, ok = l.SpanID, l.SpanID != ""
	default:
		v, ok = l.Fields[t.key]
	}
	if ok {
		if t.fold {
			return strings.EqualFold(v, t.value)
		}
		return v == t.value
	}
	if t.fold {
		return strings.Contains(strings.ToLower(l.Text), t.word)
	}
	return strings.Contains(l.Text, t.word)
}

// fieldsText is a structured line's fields as "key=value …", sorted, then its trace context.
func fieldsText(l *event.LogLine) string {
	return strings.Join(fieldItems(l), " ")
}

// fieldItems is a structured line's fields as "key=value" items (a value with a space, a quote or an
// equals sign quoted), sorted by key, then "trace=<the trace id's first 8 digits>".
func fieldItems(l *event.LogLine) []string {
	if len(l.Fields) == 0 && l.TraceID == "" {
		return nil
	}
	keys := make([]string, 0, len(l.Fields))
	for k := range l.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	items := make([]string, 0, len(keys)+1)
	for _, k := range keys {
		v := l.Fields[k]
		if v == "" || strings.ContainsAny(v, " \"=") {
			v = `"` + strings.ReplaceAll(v, `"`, `\"`) + `"`
		}
		items = append(items, oneLine(k+"="+v))
	}
	if l.TraceID != "" {
		items = append(items, "trace="+l.TraceID[:min(8, len(l.TraceID))])
	}
	return items
}

// structuredLine reports whether a line came parsed (JSON, logfmt, OTLP).
func structuredLine(l *event.LogLine) bool {
	return l.Severity != "" || len(l.Fields) > 0 || l.TraceID != ""
}

// levelTag is the level a structured line shows before its message: "WARN ", "INFO ".
func levelTag(sev string) string {
	if sev == "" {
		return ""
	}
	t := strings.ToUpper(sev)
	return t + strings.Repeat(" ", max(0, 5-len(t))) + " "
}
