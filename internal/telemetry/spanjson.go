package telemetry

import (
	"time"
	"unicode/utf8"

	"github.com/devstack-dev/devstack/internal/event"
)

// appendSpanJSON appends s as one line of JSON that encoding/json decodes back into the same event.Span
// (the segment format). It is written by hand because the store's goroutine encodes every span it
// keeps: encoding/json's reflection and sorted map keys cost several times more.
func appendSpanJSON(b []byte, s *event.Span) []byte {
	b = append(b, `{"trace_id":`...)
	b = appendJSONString(b, s.TraceID)
	b = append(b, `,"span_id":`...)
	b = appendJSONString(b, s.SpanID)
	if s.ParentID != "" {
		b = append(b, `,"parent_id":`...)
		b = appendJSONString(b, s.ParentID)
	}
	b = append(b, `,"service":`...)
	b = appendJSONString(b, s.Service)
	if s.Instance != "" {
		b = append(b, `,"instance":`...)
		b = appendJSONString(b, s.Instance)
	}
	b = append(b, `,"name":`...)
	b = appendJSONString(b, s.Name)
	if s.Kind != "" {
		b = append(b, `,"kind":`...)
		b = appendJSONString(b, s.Kind)
	}
	b = append(b, `,"start":`...)
	b = appendJSONTime(b, s.Start)
	b = append(b, `,"end":`...)
	b = appendJSONTime(b, s.End)
	if s.Status != "" {
		b = append(b, `,"status":`...)
		b = appendJSONString(b, s.Status)
	}
	if s.StatusMessage != "" {
		b = append(b, `,"status_message":`...)
		b = appendJSONString(b, s.StatusMessage)
	}
	if len(s.Attrs) > 0 {
		b = append(b, `,"attrs":`...)
		b = appendJSONMap(b, s.Attrs)
	}
	if len(s.Events) > 0 {
		b = append(b, `,"events":[`...)
		for i := range s.Events {
			e := &s.Events[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"time":`...)
			b = appendJSONTime(b, e.Time)
			b = append(b, `,"name":`...)
			b = appendJSONString(b, e.Name)
			if len(e.Attrs) > 0 {
				b = append(b, `,"attrs":`...)
				b = appendJSONMap(b, e.Attrs)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(s.Links) > 0 {
		b = append(b, `,"links":[`...)
		for i := range s.Links {
			l := &s.Links[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"trace_id":`...)
			b = appendJSONString(b, l.TraceID)
			b = append(b, `,"span_id":`...)
			b = appendJSONString(b, l.SpanID)
			if len(l.Attrs) > 0 {
				b = append(b, `,"attrs":`...)
				b = appendJSONMap(b, l.Attrs)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}', '\n')
}

func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendJSONMap(b []byte, m map[string]string) []byte {
	b = append(b, '{')
	first := true
	for k, v := range m {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, v)
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string: quotes, backslashes and control characters escaped,
// invalid UTF-8 replaced by U+FFFD (as encoding/json does).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
