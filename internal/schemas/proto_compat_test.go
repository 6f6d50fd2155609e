package schemas

import (
	"strings"
	"testing"
)

// TestProtoCompatibility: a compatible and an incompatible case per rule. reader is the new schema
// under BACKWARD; rule is what the incompatibility is reported as ("" when compatible).
func TestProtoCompatibility(t *testing.T) {
	const v1 = `syntax = "proto3";
package shop;
message Order {
  string id = 1;
  int32 qty = 2;
  Customer customer = 3;
  repeated int64 tags = 4;
  map<string, int32> counts = 5;
  Status status = 6;
  oneof payment {
    string card = 7;
    string iban = 8;
  }
  string note = 9;
  string memo = 10;
  message Line { string sku = 1; }
}
message Customer { string name = 1; }
enum Status { UNKNOWN = 0; OPEN = 1; }
`
	edit := func(pairs ...string) string { return strings.NewReplacer(pairs...).Replace(v1) }
	const v2proto2 = `syntax = "proto2";
package shop;
message Order {
  required string id = 1;
  optional int32 qty = 2;
}`
	tests := []compatCase{
		{name: "identical", reader: v1, writer: v1},
		{name: "field added", reader: edit("string memo = 10;", "string memo = 10;\n  int64 extra = 11;"), writer: v1},
		{name: "field removed", reader: edit("string note = 9;", ""), writer: v1},
		{name: "field renamed", reader: edit("int32 qty = 2;", "int32 quantity = 2;"), writer: v1},
		{name: "message added", reader: v1 + "message Refund { string id = 1; }\n", writer: v1},
		{name: "message removed", reader: edit("message Line { string sku = 1; }", ""), writer: v1, rule: "MESSAGE_REMOVED", path: "Order.Line"},
		{name: "message moved to nested", reader: edit("message Customer { string name = 1; }", "", "message Line", "message Customer { string name = 1; }\n  message Line"), writer: v1, rule: "MESSAGE_REMOVED", path: "Customer"},
		{name: "package changed", reader: edit("package shop;", "package store;"), writer: v1, rule: "PACKAGE_CHANGED"},
		{name: "syntax changed", reader: "syntax = \"proto3\";\nmessage A { int32 x = 1; }", writer: "syntax = \"proto2\";\nmessage A { optional int32 x = 1; }", rule: "SYNTAX_VERSION_CHANGED"},

		{name: "int32 to int64", reader: edit("int32 qty = 2;", "int64 qty = 2;"), writer: v1},
		{name: "int32 to uint64", reader: edit("int32 qty = 2;", "uint64 qty = 2;"), writer: v1},
		{name: "int32 to bool", reader: edit("int32 qty = 2;", "bool qty = 2;"), writer: v1},
		{name: "int32 to enum", reader: edit("int32 qty = 2;", "Status qty = 2;"), writer: v1},
		{name: "int32 to sint32", reader: edit("int32 qty = 2;", "sint32 qty = 2;"), writer: v1, rule: "FIELD_SCALAR_KIND_CHANGED", path: "Order.qty"},
		{name: "int32 to fixed32", reader: edit("int32 qty = 2;", "fixed32 qty = 2;"), writer: v1, rule: "FIELD_SCALAR_KIND_CHANGED"},
		{name: "int32 to string", reader: edit("int32 qty = 2;", "string qty = 2;"), writer: v1, rule: "FIELD_SCALAR_KIND_CHANGED"},
		{name: "int32 to double", reader: edit("int32 qty = 2;", "double qty = 2;"), writer: v1, rule: "FIELD_SCALAR_KIND_CHANGED"},
		{name: "string to bytes", reader: edit("string id = 1;", "bytes id = 1;"), writer: v1},
		{name: "sint32 to sint64", reader: edit("int32 qty = 2;", "sint64 qty = 2;"), writer: edit("int32 qty = 2;", "sint32 qty = 2;")},
		{name: "fixed32 to sfixed32", reader: edit("int32 qty = 2;", "sfixed32 qty = 2;"), writer: edit("int32 qty = 2;", "fixed32 qty = 2;")},
		{name: "fixed64 to sfixed64", reader: edit("int32 qty = 2;", "sfixed64 qty = 2;"), writer: edit("int32 qty = 2;", "fixed64 qty = 2;")},
		{name: "fixed32 to fixed64", reader: edit("int32 qty = 2;", "fixed64 qty = 2;"), writer: edit("int32 qty = 2;", "fixed32 qty = 2;"), rule: "FIELD_SCALAR_KIND_CHANGED"},
		{name: "float to double", reader: edit("int32 qty = 2;", "double qty = 2;"), writer: edit("int32 qty = 2;", "float qty = 2;"), rule: "FIELD_SCALAR_KIND_CHANGED"},
		{name: "field number reused with another type", reader: edit("string note = 9;", "Customer note = 9;"), writer: v1, rule: "FIELD_KIND_CHANGED", path: "Order.note"},
		{name: "message to map", reader: edit("Customer customer = 3;", "map<string, string> customer = 3;"), writer: v1, rule: "FIELD_KIND_CHANGED"},
		{name: "named type changed", reader: edit("Customer customer = 3;", "Line customer = 3;"), writer: v1, rule: "FIELD_NAMED_TYPE_CHANGED", path: "Order.customer"},
		{name: "named type qualified", reader: edit("Customer customer = 3;", ".shop.Customer customer = 3;"), writer: v1},
		{name: "map value widened", reader: edit("map<string, int32> counts", "map<string, int64> counts"), writer: v1},
		{name: "map value changed", reader: edit("map<string, int32> counts", "map<string, string> counts"), writer: v1, rule: "FIELD_SCALAR_KIND_CHANGED", path: "Order.counts.value"},
		{name: "map key changed", reader: edit("map<string, int32> counts", "map<int32, int32> counts"), writer: v1, rule: "FIELD_SCALAR_KIND_CHANGED", path: "Order.counts.key"},

		{name: "string made repeated", reader: edit("string note = 9;", "repeated string note = 9;"), writer: v1},
		{name: "numeric made singular", reader: edit("repeated int64 tags = 4;", "int64 tags = 4;"), writer: v1, rule: "FIELD_NUMERIC_LABEL_CHANGED", path: "Order.tags"},
		{name: "numeric made repeated", reader: edit("int32 qty = 2;", "repeated int32 qty = 2;"), writer: v1, rule: "FIELD_NUMERIC_LABEL_CHANGED"},

		{name: "proto2 optional field added", reader: strings.Replace(v2proto2, "}", "  optional string note = 3;\n}", 1), writer: v2proto2},
		{name: "proto2 required field added", reader: strings.Replace(v2proto2, "}", "  required string note = 3;\n}", 1), writer: v2proto2, rule: "REQUIRED_FIELD_ADDED", path: "Order.note"},
		{name: "proto2 optional field removed", reader: strings.Replace(v2proto2, "  optional int32 qty = 2;\n", "", 1), writer: v2proto2},
		{name: "proto2 required field removed", reader: strings.Replace(v2proto2, "  required string id = 1;\n", "", 1), writer: v2proto2, rule: "REQUIRED_FIELD_REMOVED", path: "Order.id"},
		{name: "proto2 made required", reader: strings.Replace(v2proto2, "optional int32 qty", "required int32 qty", 1), writer: v2proto2, rule: "REQUIRED_FIELD_ADDED", path: "Order.qty"},
		{name: "proto2 made optional", reader: strings.Replace(v2proto2, "required string id", "optional string id", 1), writer: v2proto2},

		{name: "oneof added", reader: edit("string memo = 10;", "oneof extra { string memo = 10; }"), writer: v1},
		{name: "oneof field added", reader: edit("string iban = 8;", "string iban = 8;\n    string paypal = 11;"), writer: v1},
		{name: "oneof field removed", reader: edit("string iban = 8;", ""), writer: v1, rule: "ONEOF_FIELD_REMOVED", path: "Order.iban"},
		{name: "oneof field moved out", reader: edit("string iban = 8;\n  }", "}\n  string iban = 8;"), writer: v1, rule: "ONEOF_FIELD_REMOVED", path: "Order.iban"},
		{name: "one field moved into a new oneof", reader: edit("string memo = 10;", "oneof extra { string memo = 10; }"), writer: v1},
		{name: "several fields moved into a new oneof", reader: edit("string note = 9;\n  string memo = 10;", "oneof extra {\n    string note = 9;\n    string memo = 10;\n  }"), writer: v1, rule: "MULTIPLE_FIELDS_MOVED_TO_ONEOF", path: "Order.extra"},
		{name: "field moved into an existing oneof", reader: edit("string iban = 8;\n  }\n  string note = 9;", "string iban = 8;\n    string note = 9;\n  }"), writer: v1, rule: "FIELD_MOVED_TO_EXISTING_ONEOF", path: "Order.payment"},
		{name: "oneof renamed", reader: edit("oneof payment", "oneof pay"), writer: v1},
		{name: "field moved into a renamed oneof", reader: edit("oneof payment {", "oneof pay {\n    string note = 9;", "  string note = 9;\n", ""), writer: v1, rule: "MULTIPLE_FIELDS_MOVED_TO_ONEOF", path: "Order.pay"},
		{name: "proto3 optional is no oneof", reader: edit("string note = 9;", "optional string note = 9;"), writer: v1},

		{name: "enum value added", reader: edit("OPEN = 1;", "OPEN = 1; CLOSED = 2;"), writer: v1},
		{name: "enum value removed", reader: edit(" OPEN = 1;", ""), writer: v1},
		{name: "enum to another enum", reader: edit("Status status = 6;", "Kind status = 6;") + "enum Kind { K0 = 0; }\n", writer: v1},
		{name: "enum to string", reader: edit("Status status = 6;", "string status = 6;"), writer: v1, rule: "FIELD_SCALAR_KIND_CHANGED", path: "Order.status"},
		{name: "enum to message", reader: edit("Status status = 6;", "Customer status = 6;"), writer: v1, rule: "FIELD_KIND_CHANGED"},
	}
	testBackward(t, mustProto, tests)
}

// TestProtoCompatibilityReferences: a change in an imported message is found through the field that
// uses it.
func TestProtoCompatibilityReferences(t *testing.T) {
	order := "syntax = \"proto3\";\npackage shop;\nimport \"customer.proto\";\nmessage Order { common.Customer customer = 1; }\n"
	v1 := mustProto(t, order, map[string]string{"customer.proto": "syntax = \"proto3\";\npackage common;\nmessage Customer { int32 age = 1; }"})
	v2 := mustProto(t, order, map[string]string{"customer.proto": "syntax = \"proto3\";\npackage common;\nmessage Customer { int64 age = 1; }"})
	v3 := mustProto(t, order, map[string]string{"customer.proto": "syntax = \"proto3\";\npackage common;\nmessage Customer { string age = 1; }"})
	if msgs := Check(Full, v2, []Parsed{v1}); len(msgs) > 0 {
		t.Errorf("int32→int64 in the reference: %q", msgs)
	}
	msgs := Check(Backward, v3, []Parsed{v1})
	want := []string{"FIELD_SCALAR_KIND_CHANGED at Customer.age", "FIELD_NAMED_TYPE_CHANGED at Order.customer"}
	for _, w := range want {
		if !strings.Contains(strings.Join(msgs, "\n"), w) {
			t.Errorf("messages %q; want %s", msgs, w)
		}
	}
}

// TestProtoCompatibilityLevels: FORWARD checks the other direction (a required field the new schema
// drops is what the old reader misses).
func TestProtoCompatibilityLevels(t *testing.T) {
	old := mustProto(t, "syntax = \"proto2\";\nmessage A { required string id = 1; }", nil)
	dropped := mustProto(t, "syntax = \"proto2\";\nmessage A { optional string name = 2; }", nil)
	if msgs := Check(Backward, dropped, []Parsed{old}); len(msgs) != 1 || !strings.HasPrefix(msgs[0], "REQUIRED_FIELD_REMOVED at A.id") {
		t.Errorf("BACKWARD: %q", msgs)
	}
	if msgs := Check(Forward, dropped, []Parsed{old}); len(msgs) != 1 || !strings.HasPrefix(msgs[0], "REQUIRED_FIELD_ADDED at A.id") {
		t.Errorf("FORWARD: %q", msgs)
	}
	if msgs := Check(FullTransitive, dropped, []Parsed{old, dropped}); len(msgs) != 2 {
		t.Errorf("FULL_TRANSITIVE: %q", msgs)
	}
}
