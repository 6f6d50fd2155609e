package schemas

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func mustProto(t *testing.T, text string, deps map[string]string) *ProtoSchema {
	t.Helper()
	p, err := Parse(Schema{Type: Protobuf, Text: text, Deps: deps})
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, text)
	}
	return p.(*ProtoSchema)
}

func TestParseProtoErrors(t *testing.T) {
	tests := []struct {
		name       string
		text       string
		deps       map[string]string
		line, col  int
		unresolved bool
		want       string
	}{
		{name: "syntax error", text: "syntax = \"proto3\";\nmessage A {\n  string a = 1\n}\n", line: 4, col: 1, want: "syntax error"},
		{name: "unknown type", text: "syntax = \"proto3\";\nmessage A {\n  Nope a = 1;\n}\n", line: 3, col: 3, want: "Nope"},
		{name: "duplicate field number", text: "syntax = \"proto3\";\nmessage A {\n  string a = 1;\n  string b = 1;\n}\n", line: 4, col: 14, want: "same tag 1"},
		{name: "bad syntax", text: "syntax = \"proto4\";\n", line: 1, col: 10, want: "syntax value"},
		{name: "unresolved import", text: "syntax = \"proto3\";\nimport \"customer.proto\";\nmessage A {}\n", unresolved: true, want: "customer.proto"},
		{name: "no disk", text: "syntax = \"proto3\";\nimport \"/etc/passwd\";\nmessage A {}\n", unresolved: true},
		{name: "broken reference", text: "syntax = \"proto3\";\nimport \"customer.proto\";\nmessage A {}\n", deps: map[string]string{"customer.proto": "message {"}, want: `reference "customer.proto"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(Schema{Type: Protobuf, Text: tt.text, Deps: tt.deps})
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
