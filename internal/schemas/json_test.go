package schemas

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseJSONErrors(t *testing.T) {
	tests := []parseErrorCase{
		{name: "malformed", text: "{\n  \"type\": \"object\",\n  \"properties\": {\n    \"a\": {\"type\": \"string\"},,\n  }\n}", line: 4, col: 29, want: "invalid character ','"},
		{name: "unterminated", text: "{\"type\": \"object\"", line: 1, col: 18, want: "unexpected EOF"},
		{name: "trailing data", text: "{\"type\": \"object\"}\n{}", line: 2, col: 1, want: "data after"},
		{name: "empty", text: "  ", want: "empty"},
		{name: "bad keyword value", text: `{"type": "strin"}`, line: 1, col: 10, want: "invalid JSON Schema"},
		{name: "bad minLength", text: "{\n  \"properties\": {\n    \"a\": {\"type\": \"string\", \"minLength\": -1}\n  }\n}", line: 3, col: 42, want: "invalid JSON Schema: at '/properties/a/minLength': minimum: got -1, want 0"},
		{name: "bad in array", text: "{\"allOf\": [{}, {\"required\": [\"a\", \"a\"]}]}", line: 1, col: 29, want: "invalid JSON Schema: at '/allOf/1/required'"},
		{name: "unresolved relative ref", text: "{\n  \"properties\": {\"c\": {\"$ref\": \"customer.json\"}}\n}", unresolved: true, want: "2:32: unresolved reference: $ref \"customer.json\""},
		{name: "unresolved http ref", text: `{"$ref": "http://example.com/customer.json"}`, unresolved: true, want: "example.com/customer.json"},
		{name: "no file loading", text: `{"$ref": "file:///etc/passwd"}`, unresolved: true},
		{name: "missing local definition", text: "{\"definitions\": {\"a\": {}},\n \"items\": [{\"$ref\": \"#/definitions/a\"}, {\"$ref\": \"#/definitions/nope\"}]}", line: 2, col: 50, want: "#/definitions/nope"},
		{name: "unknown metaschema", text: "{\n  \"$schema\": \"https://example.com/my-meta\",\n  \"type\": \"string\"\n}", line: 2, col: 14, want: "is not a draft the registry knows"},
		{name: "malformed reference", text: `{"$ref": "customer.json"}`, deps: map[string]string{"customer.json": "{"}, want: `reference "customer.json"`},
	}
	var huge strings.Builder
	huge.WriteString(`{"type": "object", "properties": {`)
	for i := range 30_000 {
		fmt.Fprintf(&huge, `"field_%d": {"type": "string"},`, i)
	}
	huge.WriteString(`"last": {}}}`)
	tests = append(tests, parseErrorCase{name: "1 MiB", text: huge.String(), want: "30003 JSON objects"})
	testParseErrors(t, JSON, tests)
}

func TestParseJSONReferences(t *testing.T) {
	customer := `{"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}`
	tests := []struct {
		name string
		text string
		deps map[string]string
	}{
		{name: "relative name", text: `{"properties": {"c": {"$ref": "customer.json"}}}`, deps: map[string]string{"customer.json": customer}},
		{name: "absolute URL", text: `{"properties": {"c": {"$ref": "https://example.com/schemas/customer.json"}}}`, deps: map[string]string{"https://example.com/schemas/customer.json": customer}},
		{name: "relative to $id", text: `{"$id": "https://example.com/schemas/order.json", "properties": {"c": {"$ref": "customer.json"}}}`, deps: map[string]string{"customer.json": customer}},
		{name: "by $id", text: `{"properties": {"c": {"$ref": "https://example.com/schemas/customer.json"}}}`, deps: map[string]string{"customer": `{"$id": "https://example.com/schemas/customer.json", ` + customer[1:]}},
		{name: "transitive", text: `{"properties": {"c": {"$ref": "wrapper.json"}}}`, deps: map[string]string{"wrapper.json": `{"$ref": "customer.json"}`, "customer.json": customer}},
		{name: "fragment", text: `{"properties": {"c": {"$ref": "defs.json#/definitions/customer"}}}`, deps: map[string]string{"defs.json": `{"definitions": {"customer": ` + customer + `}}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustJSON(t, tt.text, tt.deps)
			if err := s.Schema.Validate(map[string]any{"c": map[string]any{"name": "x"}}); err != nil {
				t.Errorf("valid instance rejected: %v", err)
			}
			if err := s.Schema.Validate(map[string]any{"c": map[string]any{"name": 1.0}}); err == nil {
				t.Error("instance with a number for the referenced schema's string accepted: the reference was not used")
			}
		})
	}
}

func TestParseJSONDrafts(t *testing.T) {
	tests := []struct {
		name, text string
		// valid is an instance valid only under the draft the schema names.
		valid any
	}{
		// draft-07 ignores a $ref's siblings; 2019-09 and 2020-12 apply them.
		{name: "default is draft-07", text: `{"definitions": {"s": {"type": "string"}}, "$ref": "#/definitions/s", "maxLength": 1}`, valid: "long"},
		{name: "2019-09", text: `{"$schema": "https://json-schema.org/draft/2019-09/schema", "dependentRequired": {"a": ["b"]}}`, valid: map[string]any{"a": 1.0, "b": 1.0}},
		{name: "2020-12 prefixItems", text: `{"$schema": "https://json-schema.org/draft/2020-12/schema", "prefixItems": [{"type": "string"}], "items": false}`, valid: []any{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustJSON(t, tt.text, nil)
			if err := s.Schema.Validate(tt.valid); err != nil {
				t.Errorf("rejected %v: %v", tt.valid, err)
			}
		})
	}
	s := mustJSON(t, `{"$schema": "https://json-schema.org/draft/2020-12/schema", "prefixItems": [{"type": "string"}], "items": false}`, nil)
	if err := s.Schema.Validate([]any{"a", "b"}); err == nil {
		t.Error("2020-12 items:false accepted an extra item")
	}
}

func TestJSONCanonical(t *testing.T) {
	a := mustJSON(t, "{\n  \"type\": \"object\",\n  \"required\": [\"b\", \"a\"],\n  \"properties\": {\"b\": {\"type\": \"string\", \"description\": \"<b>\"}, \"a\": {\"type\": [\"string\", \"null\"]}}\n}", nil)
	b := mustJSON(t, `{"properties":{"a":{"type":["null","string"]},"b":{"description":"<b>","type":"string"}},"required":["a","b"],"type":"object"}`, nil)
	if want := `{"properties":{"a":{"type":["string","null"]},"b":{"description":"<b>","type":"string"}},"required":["b","a"],"type":"object"}`; a.Canonical() != want {
		t.Errorf("canonical\n got %s\nwant %s", a.Canonical(), want)
	}
	if a.Canonical() == b.Canonical() {
		t.Error("canonical forms equal; want the required/type order kept")
	}
	if a.Normalized() != b.Normalized() {
		t.Errorf("normalized forms differ:\n%s\n%s", a.Normalized(), b.Normalized())
	}
	// A property named "required" keeps its schema.
	c := mustJSON(t, `{"properties": {"required": {"type": "boolean"}}}`, nil)
	if !strings.Contains(c.Normalized(), `"required":{"type":"boolean"}`) {
		t.Errorf("normalized %s", c.Normalized())
	}
	// Numbers exactly as written.
	d := mustJSON(t, `{"type": "number", "maximum": 1.50, "minimum": 100000000000000000000001}`, nil)
	if want := `{"maximum":1.50,"minimum":100000000000000000000001,"type":"number"}`; d.Canonical() != want {
		t.Errorf("canonical %s; want %s", d.Canonical(), want)
	}
}
