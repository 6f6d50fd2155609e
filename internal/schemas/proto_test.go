package schemas

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/dynamicpb"
)

func TestParseProtoErrors(t *testing.T) {
	tests := []parseErrorCase{
		{name: "syntax error", text: "syntax = \"proto3\";\nmessage A {\n  string a = 1\n}\n", line: 4, col: 1, want: "syntax error"},
		{name: "unknown type", text: "syntax = \"proto3\";\nmessage A {\n  Nope a = 1;\n}\n", line: 3, col: 3, want: "Nope"},
		{name: "duplicate field number", text: "syntax = \"proto3\";\nmessage A {\n  string a = 1;\n  string b = 1;\n}\n", line: 4, col: 14, want: "same tag 1"},
		{name: "bad syntax", text: "syntax = \"proto4\";\n", line: 1, col: 10, want: "syntax value"},
		{name: "unresolved import", text: "syntax = \"proto3\";\nimport \"customer.proto\";\nmessage A {}\n", unresolved: true, want: "customer.proto"},
		{name: "no disk", text: "syntax = \"proto3\";\nimport \"/etc/passwd\";\nmessage A {}\n", unresolved: true},
		{name: "broken reference", text: "syntax = \"proto3\";\nimport \"customer.proto\";\nmessage A {}\n", deps: map[string]string{"customer.proto": "message {"}, want: `reference "customer.proto"`},
	}
	testParseErrors(t, Protobuf, tests)
}

func TestParseProtoImports(t *testing.T) {
	s := mustProto(t, `syntax = "proto3";
package shop;
import "google/protobuf/timestamp.proto";
import "common/customer.proto";
message Order {
  common.Customer customer = 1;
  google.protobuf.Timestamp at = 2;
}`, map[string]string{
		"common/customer.proto": "syntax = \"proto3\";\npackage common;\nimport \"common/address.proto\";\nmessage Customer { string name = 1; Address address = 2; }",
		"common/address.proto":  "syntax = \"proto3\";\npackage common;\nmessage Address { string city = 1; }",
	})
	md, err := s.MessageByIndexes(nil)
	if err != nil || md.FullName() != "shop.Order" {
		t.Fatalf("MessageByIndexes(nil) = %v, %v", md, err)
	}
	if got := md.Fields().ByName("customer").Message().Fields().ByName("address").Message().FullName(); got != "common.Address" {
		t.Errorf("customer.address is %s", got)
	}
}

func TestProtoMessageIndexes(t *testing.T) {
	s := mustProto(t, `syntax = "proto3";
package p;
message A {}
message B {
  map<string, int32> first = 2;
  message C {}
  message D {
    message E {}
  }
  map<string, string> m = 1;
}`, nil)
	tests := []struct {
		name string
		idx  []int
	}{
		{"p.A", []int{0}},
		{"p.B", []int{1}},
		{"p.B.C", []int{1, 0}},
		{"p.B.D", []int{1, 1}},
		{"p.B.D.E", []int{1, 1, 0}},
		{"B.D.E", []int{1, 1, 0}},
		{".p.B.D", []int{1, 1}},
	}
	for _, tt := range tests {
		idx, err := s.Indexes(tt.name)
		if err != nil || !slices.Equal(idx, tt.idx) {
			t.Errorf("Indexes(%q) = %v, %v; want %v", tt.name, idx, err, tt.idx)
		}
		md, err := s.MessageByIndexes(tt.idx)
		if err != nil || !strings.HasSuffix(string(md.FullName()), strings.TrimPrefix(tt.name, ".")) {
			t.Errorf("MessageByIndexes(%v) = %v, %v; want %s", tt.idx, md, err, tt.name)
		}
	}
	for _, idx := range [][]int{{2}, {1, 2}, {-1}, {0, 0}} {
		if md, err := s.MessageByIndexes(idx); err == nil {
			t.Errorf("MessageByIndexes(%v) = %v; want an error", idx, md.FullName())
		}
	}
	for _, name := range []string{"p.Z", "p.B.MEntry", ""} {
		if idx, err := s.Indexes(name); err == nil {
			t.Errorf("Indexes(%q) = %v; want an error", name, idx)
		}
	}
}

func TestProtoCanonical(t *testing.T) {
	a := mustProto(t, "syntax = \"proto3\";\npackage p;\n// a comment\nmessage A {\n  string x = 1;\n  B b = 2;\n}\nmessage B { int32 y = 1; }\n", nil)
	b := mustProto(t, `syntax="proto3"; package p; message A { string x = 1; .p.B b = 2; } message B { int32 y = 1; }`, nil)
	c := mustProto(t, `syntax="proto3"; package p; message A { B b = 2; string x = 1; } message B { int32 y = 1; }`, nil)
	if a.Canonical() != b.Canonical() {
		t.Errorf("whitespace/comments/qualified names change the canonical form:\n%s\n%s", a.Canonical(), b.Canonical())
	}
	if a.Canonical() == c.Canonical() {
		t.Error("field order does not change the canonical form")
	}
	if a.Normalized() != c.Normalized() {
		t.Errorf("field order changes the normalized form:\n%s\n%s", a.Normalized(), c.Normalized())
	}
	if !strings.Contains(a.Canonical(), `"type_name":".p.B"`) {
		t.Errorf("canonical %s", a.Canonical())
	}
	if a.Canonical() != mustProto(t, "syntax = \"proto3\";\npackage p;\n// a comment\nmessage A {\n  string x = 1;\n  B b = 2;\n}\nmessage B { int32 y = 1; }\n", nil).Canonical() {
		t.Error("canonical form not deterministic")
	}
}

// TestParseProtoBase64: a schema (and a reference) registered as a base64-encoded FileDescriptorProto,
// as confluent-kafka-python's serializer does, parses to the same schema as its text.
func TestParseProtoBase64(t *testing.T) {
	const text = "syntax = \"proto3\";\npackage shop;\nimport \"google/protobuf/timestamp.proto\";\nimport \"common.proto\";\nmessage Order {\n  string order_id = 1;\n  google.protobuf.Timestamp placed_at = 2;\n  common.Money total = 3;\n  message Line { string sku = 1; }\n}\n"
	const common = "syntax = \"proto3\";\npackage common;\nmessage Money { int64 units = 1; string currency_code = 2; }\n"
	for _, jsonNames := range []bool{true, false} {
		t.Run(fmt.Sprintf("json_name %v", jsonNames), func(t *testing.T) { testParseProtoBase64(t, text, common, jsonNames) })
	}
}

func testParseProtoBase64(t *testing.T, text, common string, jsonNames bool) {
	b64 := func(t *testing.T, src string, deps map[string]string) string {
		t.Helper()
		fdp := protodesc.ToFileDescriptorProto(mustProto(t, src, deps).File)
		fdp.SourceCodeInfo = nil
		for _, m := range fdp.MessageType { // protoc sets json_name; a hand-made descriptor may not
			for _, f := range m.Field {
				if !jsonNames {
					f.JsonName = nil
				} else if f.JsonName == nil {
					t.Fatalf("compiled descriptor without json_name")
				}
			}
		}
		b, err := proto.Marshal(fdp)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	fromText := mustProto(t, text, map[string]string{"common.proto": common})
	commonB64 := b64(t, common, nil)
	fromB64 := mustProto(t, b64(t, text, map[string]string{"common.proto": common}), map[string]string{"common.proto": commonB64})
	if fromText.Canonical() != fromB64.Canonical() {
		t.Errorf("canonical forms differ:\n%s\n%s", fromText.Canonical(), fromB64.Canonical())
	}
	md, err := fromB64.MessageByIndexes([]int{0, 0})
	if err != nil || md.FullName() != "shop.Order.Line" {
		t.Errorf("MessageByIndexes([0 0]) = %v, %v", md, err)
	}
	if msgs := Check(Full, fromB64, []Parsed{fromText}); len(msgs) > 0 {
		t.Errorf("text and base64 forms incompatible: %q", msgs)
	}
	if _, err := Parse(Schema{Type: Protobuf, Text: b64(t, text, map[string]string{"common.proto": common})}); !errors.Is(err, ErrUnresolved) {
		t.Errorf("base64 schema without its reference: %v; want ErrUnresolved", err)
	}
}

// TestProtoMessageRoundTrip: what the serde does with a message the indexes point to — JSON in,
// Protobuf binary out and back — works with the compiled descriptors (standard imports included).
func TestProtoMessageRoundTrip(t *testing.T) {
	s := mustProto(t, `syntax = "proto3";
package shop;
import "google/protobuf/timestamp.proto";
message Envelope {
  message Order {
    string id = 1;
    google.protobuf.Timestamp placed_at = 2;
    map<string, int64> qty = 3;
    oneof pay { string card = 4; string iban = 5; }
  }
}`, nil)
	idx, err := s.Indexes("shop.Envelope.Order")
	if err != nil || !slices.Equal(idx, []int{0, 0}) {
		t.Fatalf("Indexes = %v, %v", idx, err)
	}
	md, err := s.MessageByIndexes(idx)
	if err != nil {
		t.Fatal(err)
	}
	in := `{"id":"o-1","placedAt":"2026-12-03T10:00:00Z","qty":{"apple":3},"iban":"DE00"}`
	m := dynamicpb.NewMessage(md)
	if err := protojson.Unmarshal([]byte(in), m); err != nil {
		t.Fatal(err)
	}
	wire, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	back := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(wire, back); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(m, back) {
		t.Errorf("round trip changed the message:\n%v\n%v", m, back)
	}
	if err := protojson.Unmarshal([]byte(`{"id": 1}`), dynamicpb.NewMessage(md)); err == nil {
		t.Error("a number for a string field was accepted")
	}
}

// TestProtoMessageIndexesMapEntries: as in Confluent's registry, a map field's entry message counts in
// the indexes of a schema registered as a descriptor (where it is a nested message, in the place
// protoc put it) and not in those of a .proto text (which has none).
func TestProtoMessageIndexesMapEntries(t *testing.T) {
	const text = "syntax = \"proto3\";\npackage p;\nmessage B {\n  map<string, int32> first = 1;\n  message C {}\n}\n"
	fromText := mustProto(t, text, nil)
	fdp := protodesc.ToFileDescriptorProto(fromText.File)
	fdp.SourceCodeInfo = nil
	if got := fdp.MessageType[0].NestedType[0].GetName(); got != "FirstEntry" {
		t.Fatalf("the compiled descriptor's first nested message is %s; want the map entry", got)
	}
	b, err := proto.Marshal(fdp)
	if err != nil {
		t.Fatal(err)
	}
	fromDesc := mustProto(t, base64.StdEncoding.EncodeToString(b), nil)
	for _, tt := range []struct {
		s    *ProtoSchema
		want []int
	}{{fromText, []int{0, 0}}, {fromDesc, []int{0, 1}}} {
		idx, err := tt.s.Indexes("p.B.C")
		if err != nil || !slices.Equal(idx, tt.want) {
			t.Errorf("Indexes(p.B.C) = %v, %v; want %v", idx, err, tt.want)
		}
		md, err := tt.s.MessageByIndexes(tt.want)
		if err != nil || md.FullName() != "p.B.C" {
			t.Errorf("MessageByIndexes(%v) = %v, %v; want p.B.C", tt.want, md, err)
		}
	}
}
