package schemas

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustAvro(t *testing.T, text string) *AvroSchema {
	t.Helper()
	p, err := Parse(Schema{Type: Avro, Text: text})
	if err != nil {
		t.Fatalf("parse %s: %v", text, err)
	}
	return p.(*AvroSchema)
}

func TestParseAvroErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		text      string
		line, col int
		msg       string
	}{
		{"malformed JSON", "{\n  \"type\": \"record\",\n  \"name\": \"R\"\n  \"fields\": []\n}", 4, 3, "invalid JSON"},
		{"unterminated", "{\"type\": \"record\",\n \"name\": \"R\",", 2, 13, "unexpected end of input"},
		{"trailing data", "\"int\" \"long\"", 1, 7, "unexpected data after the schema"},
		{"not a schema", "42", 1, 1, "JSON string, object or array"},
		{"empty", "", 1, 1, "unexpected end of input"},
		{"unknown type", "{\"type\": \"record\", \"name\": \"R\", \"fields\": [\n  {\"name\": \"a\", \"type\": \"foo\"}\n]}", 2, 25, `unknown type "foo"`},
		{"unknown primitive", `"integer"`, 1, 1, `unknown type "integer"`},
		{"missing fields", `{"type": "record", "name": "R"}`, 0, 0, "fields"},
		{"bad default", "{\"type\": \"record\", \"name\": \"R\", \"fields\": [\n  {\"name\": \"a\", \"type\": \"int\", \"default\": \"x\"}]}", 2, 4, `field "a": the default is not a valid int value`},
		{"bad union default", `{"type": "record", "name": "R", "fields": [{"name": "a", "type": ["null", "int"], "default": 1}]}`, 1, 45, `field "a": the default is not a valid value of the union's first type`},
		{"bad order", `{"type": "record", "name": "R", "fields": [{"name": "a", "type": "int", "order": "up"}]}`, 1, 45, `field "a": order "up" is not one of`},
		{"no type", `{"name": "R", "fields": []}`, 0, 0, `a schema object needs a "type" attribute`},
		{"attribute case", `{"type": "record", "name": "R", "fields": [{"Name": "a", "type": "int"}]}`, 1, 45, `attribute "Name": Avro's attribute names are case-sensitive`},
		{"missing name", `{"type": "record", "fields": []}`, 0, 0, `a "name" is required`},
		{"wrong attribute type", `{"type": "fixed", "name": "F", "size": "4"}`, 0, 0, "'size' expected type 'int', got unconvertible type 'string'"},
		{"non-integer int default", "{\"type\": \"record\", \"name\": \"R\", \"fields\": [\n{\"name\": \"a\", \"type\": \"int\", \"default\": 1.5}]}", 2, 10, `field "a": default 1.5 is not an int`},
		{"long default out of range", `{"type": "record", "name": "R", "fields": [{"name": "a", "type": "long", "default": 1e30}]}`, 1, 53, "not a long"},
		{"duplicate field", `{"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}, {"name": "a", "type": "int"}]}`, 1, 83, `duplicate field name "a"`},
		{"type defined twice", `{"type": "record", "name": "R", "fields": [{"name": "a", "type": {"type": "enum", "name": "R", "symbols": ["A"]}}]}`, 1, 91, `type "R" is defined twice`},
		{"union duplicate", `["int", {"type": "int", "logicalType": "date"}]`, 0, 0, "union has two branches of type int"},
		{"named after a primitive", `{"type": "fixed", "name": "long", "size": 8}`, 1, 27, "named after a primitive"},
		{"deep nesting", strings.Repeat("[", 300) + strings.Repeat("]", 300), 0, 0, "nests deeper than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(Schema{Type: Avro, Text: tc.text})
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v (%T), want a *ParseError", err, err)
			}
			if pe.Line != tc.line || pe.Col != tc.col || !strings.Contains(pe.Msg, tc.msg) {
				t.Errorf("err = %d:%d %q, want %d:%d and %q", pe.Line, pe.Col, pe.Msg, tc.line, tc.col, tc.msg)
			}
		})
	}
}

func TestParseAvroReferences(t *testing.T) {
	address := `{"type": "record", "name": "Address", "namespace": "com.acme", "fields": [{"name": "city", "type": "string"}, {"name": "country", "type": "com.acme.Country"}]}`
	country := `{"type": "enum", "name": "Country", "namespace": "com.acme", "symbols": ["FR", "NL"]}`
	order := `{"type": "record", "name": "Order", "namespace": "com.acme", "fields": [{"name": "ship_to", "type": "Address"}, {"name": "bill_to", "type": "com.acme.Address"}]}`
	refs := []Reference{{Name: "com.acme.Address", Subject: "address", Version: 1}}
	// Deps is flattened: Address needs Country, whatever order the map gives.
	p, err := Parse(Schema{Type: Avro, Text: order, References: refs, Deps: map[string]string{"com.acme.Address": address, "com.acme.Country": country}})
	if err != nil {
		t.Fatalf("parse with references: %v", err)
	}
	// The normalized form names the referenced types (it does not copy them in): it is registered with
	// the same references.
	if n, want := p.Normalized(), `{"name":"com.acme.Order","type":"record","fields":[{"name":"ship_to","type":"com.acme.Address"},{"name":"bill_to","type":"com.acme.Address"}]}`; n != want {
		t.Errorf("normalized form\n  %s\nwant\n  %s", n, want)
	}

	t.Run("missing from Deps", func(t *testing.T) {
		_, err := Parse(Schema{Type: Avro, Text: order, References: refs})
		if !errors.Is(err, ErrUnresolved) || !strings.Contains(err.Error(), `"com.acme.Address"`) {
			t.Fatalf("err = %v, want ErrUnresolved naming com.acme.Address", err)
		}
	})
	t.Run("a dependency's own reference missing", func(t *testing.T) {
		_, err := Parse(Schema{Type: Avro, Text: order, References: refs, Deps: map[string]string{"com.acme.Address": address}})
		if !errors.Is(err, ErrUnresolved) {
			t.Fatalf("err = %v, want ErrUnresolved", err)
		}
	})
	t.Run("malformed dependency", func(t *testing.T) {
		_, err := Parse(Schema{Type: Avro, Text: order, References: refs, Deps: map[string]string{"com.acme.Address": "{\n\"type\":"}})
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Line != 2 || !strings.Contains(pe.Msg, `referenced schema "com.acme.Address"`) {
			t.Fatalf("err = %v, want a ParseError at 2:x naming the reference", err)
		}
	})
	t.Run("no leak between parses", func(t *testing.T) {
		// Address was parsed above; a schema naming it without the reference must not find it.
		_, err := Parse(Schema{Type: Avro, Text: order})
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(pe.Msg, `unknown type "Address"`) {
			t.Fatalf("err = %v, want unknown type Address", err)
		}
	})
}

func TestAvroCanonical(t *testing.T) {
	base := `{"type":"record","name":"R","namespace":"a","doc":"an R","fields":[{"name":"x","type":"int","default":1,"aliases":["y"]},{"name":"t","type":{"type":"long","logicalType":"timestamp-millis"}}]}`
	for _, tc := range []struct {
		name string
		text string
		same bool
	}{
		{"identical", base, true},
		{"whitespace and key order", "{\n  \"namespace\": \"a\", \"name\": \"R\",\n  \"type\": \"record\", \"doc\": \"an R\",\n  \"fields\": [\n    {\"default\": 1, \"type\": \"int\", \"name\": \"x\", \"aliases\": [\"y\"]},\n    {\"name\": \"t\", \"type\": {\"logicalType\": \"timestamp-millis\", \"type\": \"long\"}}\n  ]\n}\n", true},
		{"doc differs", strings.Replace(base, "an R", "the R", 1), false},
		{"default differs", strings.Replace(base, `"default":1`, `"default":2`, 1), false},
		{"alias differs", strings.Replace(base, `["y"]`, `["z"]`, 1), false},
		{"logical type dropped", strings.Replace(base, `{"type":"long","logicalType":"timestamp-millis"}`, `"long"`, 1), false},
		{"field order", `{"type":"record","name":"R","namespace":"a","doc":"an R","fields":[{"name":"t","type":{"type":"long","logicalType":"timestamp-millis"}},{"name":"x","type":"int","default":1,"aliases":["y"]}]}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := mustAvro(t, base).Canonical(), mustAvro(t, tc.text).Canonical()
			if (a == b) != tc.same {
				t.Errorf("canonical forms equal = %v, want %v\n  %s\n  %s", a == b, tc.same, a, b)
			}
		})
	}
}

func TestAvroNormalized(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b string
		same bool
	}{
		{"primitive as object", `"int"`, `{"type":"int"}`, true},
		{"namespace attribute or full name", `{"type":"record","name":"R","namespace":"a.b","fields":[{"name":"x","type":{"type":"enum","name":"E","symbols":["A"]}}]}`, `{"type":"record","name":"a.b.R","fields":[{"name":"x","type":{"type":"enum","name":"a.b.E","symbols":["A"]}}]}`, true},
		{"docs and custom properties", `{"type":"record","name":"R","doc":"x","owner":"team-a","fields":[{"name":"x","type":"int","doc":"y"}]}`, `{"type":"record","name":"R","fields":[{"name":"x","type":"int"}]}`, true},
		{"alias order", `{"type":"record","name":"R","aliases":["P","Q"],"fields":[]}`, `{"type":"record","name":"R","aliases":["Q","P"],"fields":[]}`, true},
		{"default key order", `{"type":"record","name":"R","fields":[{"name":"m","type":{"type":"map","values":"int"},"default":{"a":1,"b":2}}]}`, `{"type":"record","name":"R","fields":[{"name":"m","type":{"type":"map","values":"int"},"default":{"b":2,"a":1}}]}`, true},
		{"default differs", `{"type":"record","name":"R","fields":[{"name":"x","type":"int","default":1}]}`, `{"type":"record","name":"R","fields":[{"name":"x","type":"int","default":2}]}`, false},
		{"default dropped", `{"type":"record","name":"R","fields":[{"name":"x","type":"int","default":1}]}`, `{"type":"record","name":"R","fields":[{"name":"x","type":"int"}]}`, false},
		{"field alias dropped", `{"type":"record","name":"R","fields":[{"name":"x","type":"int","aliases":["y"]}]}`, `{"type":"record","name":"R","fields":[{"name":"x","type":"int"}]}`, false},
		{"logical type", `{"type":"long","logicalType":"timestamp-millis"}`, `"long"`, false},
		{"decimal scale", `{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}`, `{"type":"bytes","logicalType":"decimal","precision":9,"scale":3}`, false},
		{"enum default", `{"type":"enum","name":"E","symbols":["A","B"],"default":"A"}`, `{"type":"enum","name":"E","symbols":["A","B"]}`, false},
		{"namespace", `{"type":"fixed","name":"F","namespace":"a","size":4}`, `{"type":"fixed","name":"F","size":4}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := mustAvro(t, tc.a).Normalized(), mustAvro(t, tc.b).Normalized()
			if (a == b) != tc.same {
				t.Errorf("normalized forms equal = %v, want %v\n  %s\n  %s", a == b, tc.same, a, b)
			}
		})
	}
	// The normalized form is itself a schema that parses to the same normalized form.
	// Defaults are the schema's own (hamba/avro turns bytes and fixed defaults into byte slices).
	n := mustAvro(t, `{"type":"record","name":"Node","namespace":"a","fields":[{"name":"v","type":"int","default":1},{"name":"b","type":"bytes","default":"\u00ff"},{"name":"f","type":{"type":"fixed","name":"F","size":2},"default":"ab"},{"name":"next","type":["null","Node"],"default":null}]}`).Normalized()
	if again := mustAvro(t, n).Normalized(); again != n {
		t.Errorf("normalizing the normalized form changed it:\n  %s\n  %s", n, again)
	}
	if !strings.Contains(n, `"default":"ÿ"`) || !strings.Contains(n, `"default":"ab"`) {
		t.Errorf("normalized form lost the bytes or fixed default: %s", n)
	}
}

// TestAvroCheckMessages is what a user sees when a new version is refused: the level's direction, each
// problem with its place in the schema.
func TestAvroCheckMessages(t *testing.T) {
	v1 := mustAvro(t, `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"qty","type":"int"},{"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID","SHIPPED"]}}]}`)
	for _, tc := range []struct {
		name  string
		level Level
		v2    string
		want  []string
	}{
		{"add a field with a default", Backward, `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"qty","type":"int"},{"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID","SHIPPED"]}},{"name":"note","type":["null","string"],"default":null}]}`, nil},
		{"add a field without a default", Backward, `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"qty","type":"int"},{"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID","SHIPPED"]}},{"name":"note","type":"string"}]}`,
			[]string{`READER_FIELD_MISSING_DEFAULT_VALUE at /fields/3: field "note" is not in the writer's record Order and has no default`}},
		{"widen int to long", Backward, `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"qty","type":"long"},{"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID","SHIPPED"]}}]}`, nil},
		{"widen int to long, forward", Forward, `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"qty","type":"long"},{"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID","SHIPPED"]}}]}`,
			[]string{"TYPE_MISMATCH at /fields/1/type: the reader's int cannot read the writer's long"}},
		{"drop an enum symbol and change a type", Backward, `{"type":"record","name":"Order","fields":[{"name":"id","type":"int"},{"name":"qty","type":"int"},{"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID"]}}]}`,
			[]string{"TYPE_MISMATCH at /fields/0/type: the reader's int cannot read the writer's string", "MISSING_ENUM_SYMBOLS at /fields/2/type/symbols: the reader's enum Status lacks the writer's symbols SHIPPED and has no default symbol"}},
		{"drop an enum symbol with an enum default", Backward, `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"qty","type":"int"},{"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID"],"default":"NEW"}}]}`, nil},
		{"rename the record", Full, `{"type":"record","name":"Purchase","fields":[{"name":"id","type":"string"},{"name":"qty","type":"int"},{"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID","SHIPPED"]}}]}`,
			[]string{"NAME_MISMATCH at /name: the reader's record Purchase does not match the writer's Order (name or reader alias)", "NAME_MISMATCH at /name: the reader's record Order does not match the writer's Purchase (name or reader alias)"}},
		{"rename the record with an alias", Backward, `{"type":"record","name":"Purchase","aliases":["Order"],"fields":[{"name":"id","type":"string"},{"name":"qty","type":"int"},{"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID","SHIPPED"]}}]}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(tc.level, mustAvro(t, tc.v2), []Parsed{v1})
			if !slices.Equal(got, tc.want) {
				t.Errorf("Check(%s) =\n  %q\nwant\n  %q", tc.level, got, tc.want)
			}
		})
	}
}

func TestAvroCompatibleRecursive(t *testing.T) {
	list := func(value string) *AvroSchema {
		return mustAvro(t, `{"type":"record","name":"Node","fields":[{"name":"value","type":"`+value+`"},{"name":"next","type":["null","Node"],"default":null}]}`)
	}
	if got := avroCompatible(list("long"), list("int")); len(got) != 0 {
		t.Errorf("long list reading int list: %q", got)
	}
	if got := avroCompatible(list("int"), list("long")); len(got) != 1 || !strings.HasPrefix(got[0], "TYPE_MISMATCH at /fields/0/type") {
		t.Errorf("int list reading long list: %q, want one TYPE_MISMATCH at /fields/0/type", got)
	}
}

// TestParseAvroHuge: a 1 MiB schema parses and checks in well under a second or two (the registry
// accepts bodies that large).
func TestParseAvroHuge(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"type":"record","name":"Big","fields":[`)
	for i := 0; b.Len() < 1<<20; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"name":"f%d","type":["null","string",{"type":"map","values":"long"}],"default":null,"doc":"a field with a doc"}`, i)
	}
	b.WriteString("]}")
	start := time.Now()
	p := mustAvro(t, b.String())
	if got := avroCompatible(p, p); len(got) != 0 {
		t.Fatalf("a schema is not compatible with itself: %q", got[:1])
	}
	if d := time.Since(start); d > 10*time.Second { // ~1 s here, 3 s under -race; quadratic field matching took 4 s (20 s under -race)
		t.Errorf("parsing and checking a %d-byte schema took %v", b.Len(), d)
	}
	// The same, broken at its end: the error says where.
	_, err := Parse(Schema{Type: Avro, Text: strings.TrimSuffix(b.String(), "]}")})
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 1 || pe.Col < 1<<20 {
		t.Errorf("err = %v, want a ParseError at 1:%d+", err, 1<<20)
	}
}
