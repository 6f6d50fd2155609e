package schemas

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// FuzzParseJSON: any text parses or fails with a *ParseError / ErrUnresolved, never a panic; what
// parses has a canonical form that parses again to the same canonical form, and checks against
// itself as compatible.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		`{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": false}`,
		`{"$schema": "https://json-schema.org/draft/2020-12/schema", "prefixItems": [{"type": "integer"}], "items": false}`,
		`{"definitions": {"n": {"type": "object", "properties": {"next": {"$ref": "#/definitions/n"}}}}, "$ref": "#/definitions/n"}`,
		`{"oneOf": [{"type": "string", "maxLength": 3}, {"type": "number", "multipleOf": 0.5}], "not": {"const": 1}}`,
		`{"$ref": "dep.json"}`, `true`, `{`, `[]`, `{"type": 1}`, `{"enum": [1, "a", null]}`,
		`{"dependencies": {"a": ["b"], "c": {"required": ["d"]}}, "patternProperties": {"^x": {}}}`,
	} {
		f.Add(s)
	}
	dep := map[string]string{"dep.json": `{"type": "object", "properties": {"a": {"$ref": "#"}}}`}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := Parse(Schema{Type: JSON, Text: text, Deps: dep})
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) && !errors.Is(err, ErrUnresolved) {
				t.Fatalf("error %T %v: want *ParseError or ErrUnresolved", err, err)
			}
			return
		}
		again, err := Parse(Schema{Type: JSON, Text: p.Canonical(), Deps: dep})
		if err != nil {
			t.Fatalf("canonical form %s does not parse: %v", p.Canonical(), err)
		}
		if again.Canonical() != p.Canonical() {
			t.Fatalf("canonical form not stable:\n%s\n%s", p.Canonical(), again.Canonical())
		}
		if msgs := Check(Full, p, []Parsed{again}); len(msgs) > 0 {
			t.Fatalf("schema incompatible with itself: %q", msgs)
		}
	})
}

// FuzzParseProto: any text compiles or fails with a *ParseError / ErrUnresolved, never a panic; what
// compiles is compatible with itself and its messages' indexes lead back to them.
func FuzzParseProto(f *testing.F) {
	for _, s := range []string{
		"syntax = \"proto3\";\npackage p;\nmessage A { string a = 1; map<string, B> m = 2; oneof o { int32 x = 3; bytes y = 4; } message N {} }\nmessage B { repeated A a = 1; }\nenum E { Z = 0; }",
		"syntax = \"proto2\";\nmessage A { required int32 a = 1; optional group G = 2 { optional int32 b = 3; } extensions 100 to 200; }",
		"syntax = \"proto3\";\nimport \"google/protobuf/timestamp.proto\";\nimport \"dep.proto\";\nmessage A { google.protobuf.Timestamp t = 1; d.D d = 2; }",
		"edition = \"2023\";\nmessage A { int32 a = 1; }",
		"syntax = \"proto3\";\nservice S { rpc M (A) returns (A); }\nmessage A {}",
		"message {", "", "syntax = \"proto3\";\nmessage A { A a = 1; }",
	} {
		f.Add(s)
	}
	dep := map[string]string{"dep.proto": "syntax = \"proto3\";\npackage d;\nmessage D { string s = 1; }"}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := Parse(Schema{Type: Protobuf, Text: text, Deps: dep})
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) && !errors.Is(err, ErrUnresolved) {
				t.Fatalf("error %T %v: want *ParseError or ErrUnresolved", err, err)
			}
			return
		}
		ps := p.(*ProtoSchema)
		if msgs := Check(Full, p, []Parsed{p}); len(msgs) > 0 {
			t.Fatalf("schema incompatible with itself: %q", msgs)
		}
		walkMessages(ps.File.Messages(), func(m protoreflect.MessageDescriptor) {
			idx, err := ps.Indexes(string(m.FullName()))
			if err != nil {
				t.Fatalf("Indexes(%s): %v", m.FullName(), err)
			}
			back, err := ps.MessageByIndexes(idx)
			if err != nil || back.FullName() != m.FullName() {
				t.Fatalf("MessageByIndexes(%v) = %v, %v; want %s", idx, back, err, m.FullName())
			}
		})
		_, _ = ps.Canonical(), ps.Normalized()
	})
}
