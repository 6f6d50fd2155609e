package schemas

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// mustParse parses text of type typ (with deps) or fails the test.
func mustParse[P Parsed](t *testing.T, typ Type, text string, deps map[string]string) P {
	t.Helper()
	p, err := Parse(Schema{Type: typ, Text: text, Deps: deps})
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, text)
	}
	return p.(P)
}

func mustJSON(t *testing.T, text string, deps map[string]string) *JSONSchema {
	t.Helper()
	return mustParse[*JSONSchema](t, JSON, text, deps)
}

func mustProto(t *testing.T, text string, deps map[string]string) *ProtoSchema {
	t.Helper()
	return mustParse[*ProtoSchema](t, Protobuf, text, deps)
}

// parseErrorCase is a text that must not parse: a *ParseError at line:col, or (unresolved) an
// ErrUnresolved; either way its message contains want.
type parseErrorCase struct {
	name       string
	text       string
	deps       map[string]string
	line, col  int
	unresolved bool
	want       string
}

// testParseErrors parses each case's text as typ, each within 5 seconds.
func testParseErrors(t *testing.T, typ Type, tests []parseErrorCase) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := Parse(Schema{Type: typ, Text: tt.text, Deps: tt.deps})
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
			if err == nil {
				t.Fatal("parsed; want an error")
			}
			if tt.unresolved != errors.Is(err, ErrUnresolved) {
				t.Fatalf("errors.Is(err, ErrUnresolved) = %v; err = %v", !tt.unresolved, err)
			}
			if !tt.unresolved {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("err %T %v; want *ParseError", err, err)
				}
				if pe.Line != tt.line || pe.Col != tt.col {
					t.Errorf("at %d:%d; want %d:%d (%v)", pe.Line, pe.Col, tt.line, tt.col, err)
				}
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %q; want it to contain %q", err, tt.want)
			}
		})
	}
}

// compatCase is a BACKWARD check: reader is the new schema (it must read what writer, the registered
// version, allowed); rule is what the incompatibility is reported as ("" when compatible), at path
// ("" for anywhere).
type compatCase struct {
	name, reader, writer, rule, path string
}

// testBackward checks each case, parsing both sides with parse.
func testBackward[P Parsed](t *testing.T, parse func(t *testing.T, text string, deps map[string]string) P, tests []compatCase) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parse(t, tt.reader, nil)
			w := parse(t, tt.writer, nil)
			msgs := Check(Backward, r, []Parsed{w})
			if tt.rule == "" {
				if len(msgs) > 0 {
					t.Fatalf("incompatible; want compatible:\n%s", strings.Join(msgs, "\n"))
				}
				return
			}
			found := false
			for _, m := range msgs {
				if strings.HasPrefix(m, tt.rule+" at ") && (tt.path == "" || strings.HasPrefix(m, tt.rule+" at "+tt.path+":")) {
					found = true
				}
			}
			if !found {
				t.Fatalf("messages %q; want one %s at %s", msgs, tt.rule, tt.path)
			}
		})
	}
}
