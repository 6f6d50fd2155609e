package schemas

import (
	"strings"
	"testing"
)

// TestJSONCompatibility: one compatible and one incompatible case per rule. reader is the new schema
// under BACKWARD (it must read what writer, the registered version, allowed); rule is the rule the
// incompatibility is reported as, "" when compatible.
func TestJSONCompatibility(t *testing.T) {
	const (
		obj       = `{"type": "object", "properties": {"a": {"type": "string"}}}`
		objClosed = `{"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false}`
	)
	tests := []compatCase{
		{name: "identical", reader: obj, writer: obj},
		{name: "annotations changed", reader: `{"type": "string", "title": "t2", "description": "d2", "default": "x"}`, writer: `{"type": "string", "title": "t"}`},
		{name: "anything to empty schema", reader: `{}`, writer: obj},
		{name: "empty to anything", reader: obj, writer: `{}`, rule: "SCHEMA_ADDED"},
		{name: "true to false", reader: `false`, writer: `true`, rule: "SCHEMA_REMOVED"},

		{name: "type changed", reader: `{"type": "string"}`, writer: `{"type": "integer"}`, rule: "TYPE_CHANGED"},
		{name: "integer widened to number", reader: `{"type": "number"}`, writer: `{"type": "integer"}`},
		{name: "number narrowed to integer", reader: `{"type": "integer"}`, writer: `{"type": "number"}`, rule: "TYPE_NARROWED"},
		{name: "type extended", reader: `{"type": ["string", "null"]}`, writer: `{"type": "string"}`},
		{name: "type narrowed", reader: `{"type": "string"}`, writer: `{"type": ["string", "null"]}`, rule: "TYPE_NARROWED"},
		{name: "nested type changed", reader: `{"type": "object", "properties": {"a": {"type": "integer"}}}`, writer: obj, rule: "TYPE_CHANGED", path: "#/properties/a"},

		{name: "property removed from open model", reader: `{"type": "object", "properties": {}}`, writer: obj},
		{name: "property removed from closed model", reader: `{"type": "object", "properties": {}, "additionalProperties": false}`, writer: objClosed, rule: "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", path: "#/properties/a"},
		{name: "property removed, covered by partial model", reader: `{"type": "object", "properties": {}, "additionalProperties": {"type": "string"}}`, writer: objClosed},
		{name: "property removed, not covered by partial model", reader: `{"type": "object", "properties": {}, "additionalProperties": {"type": "integer"}}`, writer: objClosed, rule: "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"},
		{name: "property removed, covered by patternProperties", reader: `{"type": "object", "patternProperties": {"^a": {"type": "string"}}, "additionalProperties": false}`, writer: objClosed},
		{name: "property added to closed model", reader: `{"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "additionalProperties": false}`, writer: objClosed},
		{name: "property added to open model", reader: `{"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}`, writer: obj, rule: "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", path: "#/properties/b"},
		{name: "empty-schema property added to open model", reader: `{"type": "object", "properties": {"a": {"type": "string"}, "b": {}}}`, writer: obj},
		{name: "property added, covered by partial model", reader: `{"type": "object", "properties": {"b": {"type": "number"}}, "additionalProperties": {"type": "number"}}`, writer: `{"type": "object", "additionalProperties": {"type": "integer"}}`},
		{name: "property added, not covered by partial model", reader: `{"type": "object", "properties": {"b": {"type": "string"}}, "additionalProperties": {"type": "number"}}`, writer: `{"type": "object", "additionalProperties": {"type": "number"}}`, rule: "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"},
		{name: "required property added to closed model", reader: `{"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["b"], "additionalProperties": false}`, writer: objClosed, rule: "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"},
		{name: "required property with default added to closed model", reader: `{"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer", "default": 0}}, "required": ["b"], "additionalProperties": false}`, writer: objClosed},

		{name: "required removed", reader: obj, writer: `{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}`},
		{name: "required added", reader: `{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}`, writer: obj, rule: "REQUIRED_ATTRIBUTE_ADDED"},
		{name: "required name without a property schema", reader: `{"properties": {"a": {"type": "string"}}, "required": ["b"]}`, writer: `{"properties": {"a": {"type": "string"}}, "required": ["a"]}`},
		{name: "property the writer forbade removed from closed model", reader: `{"additionalProperties": false}`, writer: `{"additionalProperties": false, "properties": {"a": false}}`},
		{name: "required with default added", reader: `{"type": "object", "properties": {"a": {"type": "string", "default": ""}}, "required": ["a"]}`, writer: obj},

		{name: "additionalProperties opened", reader: obj, writer: objClosed},
		{name: "additionalProperties closed", reader: objClosed, writer: obj, rule: "ADDITIONAL_PROPERTIES_REMOVED"},
		{name: "additionalProperties narrowed", reader: `{"type": "object", "additionalProperties": {"type": "integer"}}`, writer: `{"type": "object", "additionalProperties": {"type": "number"}}`, rule: "TYPE_NARROWED", path: "#/additionalProperties"},
		{name: "additionalProperties extended", reader: `{"type": "object", "additionalProperties": {"type": "number"}}`, writer: `{"type": "object", "additionalProperties": {"type": "integer"}}`},

		{name: "enum extended", reader: `{"type": "string", "enum": ["a", "b", "c"]}`, writer: `{"type": "string", "enum": ["a", "b"]}`},
		{name: "enum narrowed", reader: `{"type": "string", "enum": ["a"]}`, writer: `{"type": "string", "enum": ["a", "b"]}`, rule: "ENUM_ARRAY_NARROWED"},
		{name: "enum removed", reader: `{"type": "string"}`, writer: `{"type": "string", "enum": ["a", "b"]}`},
		{name: "enum added", reader: `{"type": "string", "enum": ["a", "b"]}`, writer: `{"type": "string"}`, rule: "ENUM_ARRAY_CHANGED"},
		{name: "const kept in enum", reader: `{"enum": ["a", "b"]}`, writer: `{"const": "a"}`},
		{name: "const changed", reader: `{"const": "b"}`, writer: `{"const": "a"}`, rule: "CONST_CHANGED"},

		{name: "maxLength increased", reader: `{"type": "string", "maxLength": 10}`, writer: `{"type": "string", "maxLength": 5}`},
		{name: "maxLength decreased", reader: `{"type": "string", "maxLength": 5}`, writer: `{"type": "string", "maxLength": 10}`, rule: "MAX_LENGTH_DECREASED"},
		{name: "maxLength added", reader: `{"type": "string", "maxLength": 5}`, writer: `{"type": "string"}`, rule: "MAX_LENGTH_ADDED"},
		{name: "minLength decreased", reader: `{"type": "string", "minLength": 1}`, writer: `{"type": "string", "minLength": 2}`},
		{name: "minLength increased", reader: `{"type": "string", "minLength": 3}`, writer: `{"type": "string", "minLength": 2}`, rule: "MIN_LENGTH_INCREASED"},
		{name: "pattern removed", reader: `{"type": "string"}`, writer: `{"type": "string", "pattern": "^a"}`},
		{name: "pattern added", reader: `{"type": "string", "pattern": "^a"}`, writer: `{"type": "string"}`, rule: "PATTERN_ADDED"},
		{name: "pattern changed", reader: `{"type": "string", "pattern": "^b"}`, writer: `{"type": "string", "pattern": "^a"}`, rule: "PATTERN_CHANGED"},
		{name: "maximum increased", reader: `{"type": "number", "maximum": 10}`, writer: `{"type": "number", "maximum": 5}`},
		{name: "maximum decreased", reader: `{"type": "number", "maximum": 4.5}`, writer: `{"type": "number", "maximum": 5}`, rule: "MAXIMUM_DECREASED"},
		{name: "minimum decreased", reader: `{"type": "number", "minimum": -1}`, writer: `{"type": "number", "minimum": 0}`},
		{name: "minimum added", reader: `{"type": "number", "minimum": 0}`, writer: `{"type": "number"}`, rule: "MINIMUM_ADDED"},
		{name: "exclusiveMaximum decreased", reader: `{"type": "number", "exclusiveMaximum": 1}`, writer: `{"type": "number", "exclusiveMaximum": 2}`, rule: "EXCLUSIVE_MAXIMUM_DECREASED"},
		{name: "exclusiveMinimum removed", reader: `{"type": "number"}`, writer: `{"type": "number", "exclusiveMinimum": 2}`},
		{name: "multipleOf reduced", reader: `{"type": "number", "multipleOf": 2}`, writer: `{"type": "number", "multipleOf": 4}`},
		{name: "multipleOf changed", reader: `{"type": "number", "multipleOf": 3}`, writer: `{"type": "number", "multipleOf": 4}`, rule: "MULTIPLE_OF_CHANGED"},
		{name: "multipleOf expanded", reader: `{"type": "number", "multipleOf": 8}`, writer: `{"type": "number", "multipleOf": 4}`, rule: "MULTIPLE_OF_EXPANDED"},
		{name: "maxProperties increased", reader: `{"type": "object", "maxProperties": 3}`, writer: `{"type": "object", "maxProperties": 2}`},
		{name: "minProperties increased", reader: `{"type": "object", "minProperties": 3}`, writer: `{"type": "object", "minProperties": 2}`, rule: "MIN_PROPERTIES_INCREASED"},

		{name: "items widened", reader: `{"type": "array", "items": {"type": "number"}}`, writer: `{"type": "array", "items": {"type": "integer"}}`},
		{name: "items changed", reader: `{"type": "array", "items": {"type": "string"}}`, writer: `{"type": "array", "items": {"type": "integer"}}`, rule: "TYPE_CHANGED", path: "#/items"},
		{name: "items restricted", reader: `{"type": "array", "items": {"type": "string"}}`, writer: `{"type": "array"}`, rule: "TYPE_NARROWED", path: "#/items"},
		{name: "maxItems removed", reader: `{"type": "array"}`, writer: `{"type": "array", "maxItems": 3}`},
		{name: "maxItems decreased", reader: `{"type": "array", "maxItems": 2}`, writer: `{"type": "array", "maxItems": 3}`, rule: "MAX_ITEMS_DECREASED"},
		{name: "minItems increased", reader: `{"type": "array", "minItems": 2}`, writer: `{"type": "array", "minItems": 1}`, rule: "MIN_ITEMS_INCREASED"},
		{name: "uniqueItems removed", reader: `{"type": "array"}`, writer: `{"type": "array", "uniqueItems": true}`},
		{name: "uniqueItems added", reader: `{"type": "array", "uniqueItems": true}`, writer: `{"type": "array"}`, rule: "UNIQUE_ITEMS_ADDED"},
		{name: "tuple item removed from open model", reader: `{"type": "array", "items": [{"type": "string"}]}`, writer: `{"type": "array", "items": [{"type": "string"}, {"type": "integer"}]}`},
		{name: "tuple item removed from closed model", reader: `{"type": "array", "items": [{"type": "string"}], "additionalItems": false}`, writer: `{"type": "array", "items": [{"type": "string"}, {"type": "integer"}], "additionalItems": false}`, rule: "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL", path: "#/items/1"},
		{name: "tuple item added to closed model", reader: `{"type": "array", "items": [{"type": "string"}, {"type": "integer"}], "additionalItems": false}`, writer: `{"type": "array", "items": [{"type": "string"}], "additionalItems": false}`},
		{name: "tuple item added to open model", reader: `{"type": "array", "items": [{"type": "string"}, {"type": "integer"}]}`, writer: `{"type": "array", "items": [{"type": "string"}]}`, rule: "ITEM_ADDED_TO_OPEN_CONTENT_MODEL", path: "#/items/1"},
		{name: "tuple item added, not covered by partial model", reader: `{"type": "array", "items": [{"type": "string"}, {"type": "integer"}], "additionalItems": {"type": "string"}}`, writer: `{"type": "array", "items": [{"type": "string"}], "additionalItems": {"type": "string"}}`, rule: "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"},
		{name: "tuple item the writer forbade removed from closed model", reader: `{"type": "array", "items": [{"type": "number"}], "additionalItems": false}`, writer: `{"type": "array", "items": [{"type": "number"}, false], "additionalItems": false}`},
		{name: "additionalItems closed", reader: `{"type": "array", "items": [{"type": "string"}], "additionalItems": false}`, writer: `{"type": "array", "items": [{"type": "string"}]}`, rule: "ADDITIONAL_ITEMS_REMOVED"},
		{name: "2020-12 prefixItems", reader: `{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "array", "prefixItems": [{"type": "string"}]}`, writer: `{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "array", "prefixItems": [{"type": "string"}], "items": false}`},
		{name: "2020-12 items closed", reader: `{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "array", "prefixItems": [{"type": "string"}], "items": false}`, writer: `{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "array", "prefixItems": [{"type": "string"}]}`, rule: "ADDITIONAL_ITEMS_REMOVED"},

		{name: "oneOf extended", reader: `{"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]}`, writer: `{"oneOf": [{"type": "string"}, {"type": "integer"}]}`},
		{name: "oneOf narrowed", reader: `{"oneOf": [{"type": "string"}]}`, writer: `{"oneOf": [{"type": "string"}, {"type": "integer"}]}`, rule: "SUM_TYPE_NARROWED"},
		{name: "oneOf reordered", reader: `{"oneOf": [{"type": "integer"}, {"type": "string"}]}`, writer: `{"oneOf": [{"type": "string"}, {"type": "integer"}]}`},
		{name: "oneOf subschema changed", reader: `{"oneOf": [{"type": "string"}, {"type": "boolean"}]}`, writer: `{"oneOf": [{"type": "string"}, {"type": "integer"}]}`, rule: "COMBINED_TYPE_SUBSCHEMAS_CHANGED"},
		{name: "type into anyOf", reader: `{"anyOf": [{"type": "string"}, {"type": "integer"}]}`, writer: `{"type": "string"}`},
		{name: "anyOf to its member", reader: `{"type": "string"}`, writer: `{"anyOf": [{"type": "string"}, {"type": "integer"}]}`, rule: "TYPE_CHANGED"},
		{name: "allOf reduced", reader: `{"allOf": [{"type": "number"}]}`, writer: `{"allOf": [{"type": "number"}, {"minimum": 0}]}`},
		{name: "allOf extended", reader: `{"allOf": [{"type": "number"}, {"minimum": 0}]}`, writer: `{"allOf": [{"type": "number"}]}`, rule: "PRODUCT_TYPE_EXTENDED"},
		{name: "oneOf to allOf", reader: `{"allOf": [{"type": "string"}, {"type": "string"}]}`, writer: `{"oneOf": [{"type": "string"}, {"type": "integer"}]}`, rule: "COMBINED_TYPE_CHANGED"},
		{name: "oneOf to anyOf", reader: `{"anyOf": [{"type": "string"}, {"type": "integer"}]}`, writer: `{"oneOf": [{"type": "string"}, {"type": "integer"}]}`},
		{name: "nullable type into oneOf", reader: `{"oneOf": [{"type": "null"}, {"type": "string"}]}`, writer: `{"type": ["string", "null"]}`},
		{name: "nullable type into a narrower oneOf", reader: `{"oneOf": [{"type": "null"}, {"type": "string", "maxLength": 3}]}`, writer: `{"type": ["string", "null"]}`, rule: "TYPE_CHANGED"},
		{name: "oneOf into nullable type", reader: `{"type": ["string", "null"]}`, writer: `{"oneOf": [{"type": "null"}, {"type": "string"}]}`},
		{name: "singleton oneOf to singleton allOf", reader: `{"allOf": [{"type": "string"}]}`, writer: `{"oneOf": [{"type": "string"}]}`},
		{name: "oneOf to a narrower singleton allOf", reader: `{"allOf": [{"type": "string"}]}`, writer: `{"oneOf": [{"type": "string"}, {"type": "integer"}]}`, rule: "TYPE_CHANGED"},
		{name: "allOf with a duplicate", reader: `{"allOf": [{"type": "string"}, {"type": "string"}]}`, writer: `{"allOf": [{"type": "string"}]}`},
		{name: "allOf without a duplicate", reader: `{"allOf": [{"type": "string"}]}`, writer: `{"allOf": [{"type": "string"}, {"type": "string"}]}`},
		{name: "allOf reordered", reader: `{"allOf": [{"maxLength": 5}, {"enum": ["a", "b"]}, {"type": "string"}]}`, writer: `{"allOf": [{"enum": ["a", "b"]}, {"type": "string"}, {"maxLength": 5}]}`},
		{name: "allOf subschema changed", reader: `{"allOf": [{"maxLength": 5}, {"type": "number"}]}`, writer: `{"allOf": [{"type": "string"}, {"maxLength": 5}]}`, rule: "COMBINED_TYPE_SUBSCHEMAS_CHANGED"},
		{name: "not narrowed", reader: `{"not": {"type": "string"}}`, writer: `{"not": {"type": ["string", "null"]}}`},
		{name: "not extended", reader: `{"not": {"type": ["string", "null"]}}`, writer: `{"not": {"type": "string"}}`, rule: "NOT_TYPE_NARROWED"},

		{name: "dependency array narrowed", reader: `{"type": "object", "dependencies": {"a": ["b"]}}`, writer: `{"type": "object", "dependencies": {"a": ["b", "c"]}}`},
		{name: "dependency array extended", reader: `{"type": "object", "dependencies": {"a": ["b", "c"]}}`, writer: `{"type": "object", "dependencies": {"a": ["b"]}}`, rule: "DEPENDENCY_ARRAY_EXTENDED"},
		{name: "dependency array added", reader: `{"type": "object", "dependencies": {"a": ["b"]}}`, writer: `{"type": "object"}`, rule: "DEPENDENCY_ARRAY_ADDED"},
		{name: "dependency schema removed", reader: `{"type": "object"}`, writer: `{"type": "object", "dependencies": {"a": {"required": ["b"]}}}`},
		{name: "dependency schema added", reader: `{"type": "object", "dependencies": {"a": {"required": ["b"]}}}`, writer: `{"type": "object"}`, rule: "DEPENDENCY_SCHEMA_ADDED"},
		{name: "2019-09 dependentRequired extended", reader: `{"$schema": "https://json-schema.org/draft/2019-09/schema", "type": "object", "dependentRequired": {"a": ["b", "c"]}}`, writer: `{"$schema": "https://json-schema.org/draft/2019-09/schema", "type": "object", "dependentRequired": {"a": ["b"]}}`, rule: "DEPENDENCY_ARRAY_EXTENDED"},

		{name: "ref'd definition widened", reader: `{"definitions": {"n": {"type": "number"}}, "type": "object", "properties": {"a": {"$ref": "#/definitions/n"}}}`, writer: `{"definitions": {"n": {"type": "integer"}}, "type": "object", "properties": {"a": {"$ref": "#/definitions/n"}}}`},
		{name: "ref'd definition narrowed", reader: `{"definitions": {"n": {"type": "integer"}}, "type": "object", "properties": {"a": {"$ref": "#/definitions/n"}}}`, writer: `{"definitions": {"n": {"type": "number"}}, "type": "object", "properties": {"a": {"$ref": "#/definitions/n"}}}`, rule: "TYPE_NARROWED", path: "#/properties/a"},
		{name: "recursive definition", reader: `{"definitions": {"node": {"type": "object", "properties": {"v": {"type": "number"}, "next": {"$ref": "#/definitions/node"}}}}, "$ref": "#/definitions/node"}`, writer: `{"definitions": {"node": {"type": "object", "properties": {"v": {"type": "integer"}, "next": {"$ref": "#/definitions/node"}}}}, "$ref": "#/definitions/node"}`},
		{name: "recursive definition narrowed", reader: `{"definitions": {"node": {"type": "object", "properties": {"v": {"type": "integer"}, "next": {"$ref": "#/definitions/node"}}}}, "$ref": "#/definitions/node"}`, writer: `{"definitions": {"node": {"type": "object", "properties": {"v": {"type": "number"}, "next": {"$ref": "#/definitions/node"}}}}, "$ref": "#/definitions/node"}`, rule: "TYPE_NARROWED", path: "#/properties/v"},
		{name: "2020-12 $ref sibling added", reader: `{"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "maxLength": 3}`, writer: `{"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s"}`, rule: "MAX_LENGTH_ADDED"},
		{name: "2020-12 $ref sibling removed", reader: `{"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s"}`, writer: `{"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "maxLength": 3}`},
		{name: "2020-12 $ref sibling narrows the target", reader: `{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "string", "maxLength": 3}`, writer: `{"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": {"s": {"type": ["string", "null"]}}, "$ref": "#/$defs/s", "type": "string", "maxLength": 3}`},
		{name: "draft-07 $ref sibling ignored", reader: `{"definitions": {"s": {"type": "string"}}, "$ref": "#/definitions/s", "maxLength": 3}`, writer: `{"definitions": {"s": {"type": "string"}}, "$ref": "#/definitions/s"}`},
		{name: "inline to ref", reader: `{"$defs": {"s": {"type": "string"}}, "type": "object", "properties": {"a": {"$ref": "#/$defs/s"}}}`, writer: obj},
	}
	testBackward(t, mustJSON, tests)
}

// TestJSONCompatibilityReferences: a change in a referenced schema is found through the $ref.
func TestJSONCompatibilityReferences(t *testing.T) {
	order := `{"type": "object", "properties": {"customer": {"$ref": "customer.json"}}}`
	v1 := mustJSON(t, order, map[string]string{"customer.json": `{"type": "object", "properties": {"age": {"type": "integer"}}, "additionalProperties": false}`})
	v2 := mustJSON(t, order, map[string]string{"customer.json": `{"type": "object", "properties": {"age": {"type": "string"}}, "additionalProperties": false}`})
	msgs := Check(Backward, v2, []Parsed{v1})
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0], "TYPE_CHANGED at #/properties/customer/properties/age:") {
		t.Fatalf("messages %q; want TYPE_CHANGED at #/properties/customer/properties/age", msgs)
	}
	if msgs := Check(Full, v1, []Parsed{v1}); len(msgs) > 0 {
		t.Fatalf("v1 vs itself: %q", msgs)
	}
}

// TestJSONCompatibilityLevels: the direction each level checks.
func TestJSONCompatibilityLevels(t *testing.T) {
	optional := mustJSON(t, `{"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false}`, nil)
	required := mustJSON(t, `{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": false}`, nil)
	tests := []struct {
		level               Level
		candidate, existing *JSONSchema
		compatible          bool
	}{
		{Backward, optional, required, true},
		{Backward, required, optional, false},
		{Forward, required, optional, true},
		{Forward, optional, required, false},
		{Full, required, optional, false},
		{None, required, optional, true},
	}
	for _, tt := range tests {
		msgs := Check(tt.level, tt.candidate, []Parsed{tt.existing})
		if (len(msgs) == 0) != tt.compatible {
			t.Errorf("%s: messages %q; want compatible %v", tt.level, msgs, tt.compatible)
		}
	}
}

// TestJSONCompatibilityBudget: a check that needs more comparisons than the budget (nested
// alternatives compare pairs of subschemas) ends in TOO_COMPLEX (incompatible), quickly.
func TestJSONCompatibilityBudget(t *testing.T) {
	defer func(b int) { jsonCheckBudget = b }(jsonCheckBudget)
	jsonCheckBudget = 1000
	nest := func(leaf string) string {
		s := leaf
		for i := 0; i < 7; i++ {
			s = `{"anyOf": [` + s + `, ` + s + `, ` + s + `]}`
		}
		return s
	}
	r := mustJSON(t, nest(`{"type": ["string", "null"]}`), nil)
	w := mustJSON(t, nest(`{"type": "string"}`), nil)
	msgs := Check(Backward, r, []Parsed{w})
	if len(msgs) == 0 || !strings.HasPrefix(msgs[len(msgs)-1], "TOO_COMPLEX at #") {
		t.Fatalf("messages %q; want TOO_COMPLEX last", msgs)
	}
	jsonCheckBudget = 200_000
	if msgs := Check(Backward, r, []Parsed{w}); len(msgs) > 0 {
		t.Fatalf("within the budget: %q; want compatible", msgs)
	}
}
