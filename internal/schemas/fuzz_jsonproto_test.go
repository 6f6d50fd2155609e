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
		// base64 FileDescriptorProtos (package shop, message Order with a nested message and a map,
		// importing google/protobuf/timestamp.proto; proto2 with required and oneof)
		"CgxzY2hlbWEucHJvdG8SBHNob3AaH2dvb2dsZS9wcm90b2J1Zi90aW1lc3RhbXAucHJvdG8i7wEKBU9yZGVyEhkKCG9yZGVyX2lkGAEgASgJUgdvcmRlcklkEjcKCXBsYWNlZF9hdBgCIAEoCzIaLmdvb2dsZS5wcm90b2J1Zi5UaW1lc3RhbXBSCHBsYWNlZEF0EiwKBWxpbmVzGAMgAygLMhYuc2hvcC5PcmRlci5MaW5lc0VudHJ5UgVsaW5lcxoYCgRMaW5lEhAKA3NrdRgBIAEoCVIDc2t1GkoKCkxpbmVzRW50cnkSEAoDa2V5GAEgASgJUgNrZXkSJgoFdmFsdWUYAiABKAsyEC5zaG9wLk9yZGVyLkxpbmVSBXZhbHVlOgI4AWIGcHJvdG8z",
		"CgxzY2hlbWEucHJvdG8iJgoBQRIMCgFhGAEgAigFUgFhEg4KAXMYAiABKAlIAFIBc0IDCgFv",
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

// FuzzCheckJSON: the compatibility check of any two JSON Schemas that parse ends (never a panic) at
// every level.
func FuzzCheckJSON(f *testing.F) {
	seeds := []string{
		`{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": false}`,
		`{"type": "object", "properties": {"a": {"type": ["string", "null"]}, "b": {"$ref": "#"}}, "patternProperties": {"^x": {"type": "integer"}}}`,
		`{"type": "array", "items": [{"type": "string"}, {"enum": [1, 2]}], "additionalItems": {"type": "number", "multipleOf": 0.5}}`,
		`{"oneOf": [{"type": "string", "pattern": "^a"}, {"allOf": [{"type": "number"}, {"maximum": 3}]}], "not": {"const": 1}}`,
		`{"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "maxLength": 2}`,
		`{"dependencies": {"a": ["b"], "c": {"required": ["d"]}}, "minProperties": 1}`,
		`true`, `false`, `{}`,
	}
	fuzzCheck(f, JSON, seeds)
}

// FuzzCheckProto: the compatibility check of any two Protobuf schemas that compile ends (never a
// panic) at every level.
func FuzzCheckProto(f *testing.F) {
	seeds := []string{
		"syntax = \"proto3\";\npackage p;\nmessage A { string a = 1; map<string, B> m = 2; oneof o { int32 x = 3; bytes y = 4; } message N {} }\nmessage B { repeated A a = 1; }\nenum E { Z = 0; }",
		"syntax = \"proto3\";\npackage p;\nmessage A { int64 a = 1; map<int32, B> m = 2; int32 x = 3; oneof o { bytes y = 4; string z = 5; } }\nmessage B { A a = 1; }",
		"syntax = \"proto2\";\npackage q;\nmessage A { required int32 a = 1; optional group G = 2 { optional int32 b = 3; } }",
		"syntax = \"proto3\";\nmessage A { A a = 1; repeated sint32 s = 2; }",
	}
	fuzzCheck(f, Protobuf, seeds)
}

// fuzzCheck checks pairs of typ schemas (seeded with each seed and the next) at every level; texts
// that do not parse are passed over.
func fuzzCheck(f *testing.F, typ Type, seeds []string) {
	for i, a := range seeds {
		f.Add(a, seeds[(i+1)%len(seeds)])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		pa, err := Parse(Schema{Type: typ, Text: a})
		if err != nil {
			return
		}
		pb, err := Parse(Schema{Type: typ, Text: b})
		if err != nil {
			return
		}
		for _, l := range Levels {
			Check(l, pa, []Parsed{pb, pa})
		}
	})
}
