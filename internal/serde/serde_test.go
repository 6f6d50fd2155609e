package serde

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/hamba/avro/v2"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/devstack-dev/devstack/internal/schemas"
)

const orderAvsc = `{"type":"record","name":"Order","namespace":"shop","fields":[
 {"name":"id","type":"long"},
 {"name":"customer","type":["null","string"],"default":null},
 {"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID"]}},
 {"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[
   {"name":"sku","type":"string"},{"name":"price","type":"double"}]}}},
 {"name":"tags","type":{"type":"map","values":"int"},"default":{}},
 {"name":"note","type":["null","string","Item"],"default":null},
 {"name":"raw","type":"bytes","default":""},
 {"name":"hash","type":{"type":"fixed","name":"H","size":2},"default":"\u0000\u0000"}
]}`

func avroResolved(t *testing.T, id int, text string) *Resolved {
	t.Helper()
	s, err := avro.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return &Resolved{ID: id, Type: schemas.Avro, Text: text, Parsed: &schemas.AvroSchema{Schema: s},
		Versions: []SubjectVersion{{"other-value", 3}, {"orders-value", 2}}}
}

func jsonResolved(t *testing.T, id int, text string) *Resolved {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return &Resolved{ID: id, Type: schemas.JSON, Text: text, Parsed: &schemas.JSONSchema{Schema: s}}
}

const orderProto = `syntax = "proto3";
package shop;
message Order {
  int64 id = 1;
  repeated Item items = 2;
  message Item { string sku = 1; double price = 2; }
}
message Refund { int64 order_id = 1; }
`

func protoResolved(t *testing.T, id int, text string) *Resolved {
	t.Helper()
	c := protocompile.Compiler{Resolver: &protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(map[string]string{"order.proto": text})}}
	fs, err := c.Compile(context.Background(), "order.proto")
	if err != nil {
		t.Fatal(err)
	}
	return &Resolved{ID: id, Type: schemas.Protobuf, Text: text, Parsed: &schemas.ProtoSchema{File: fs[0]}}
}

type mapLookup map[int]*Resolved

func (m mapLookup) ByID(_ context.Context, id int) (*Resolved, error) {
	if r, ok := m[id]; ok {
		return r, nil
	}
	return nil, ErrUnknownID
}

func compact(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return b.String()
}

// TestRoundTrip encodes JSON, checks the frame, and decodes it back to the same JSON (Avro's JSON
// encoding: unions as {"branch": value}, defaults filled in).
func TestRoundTrip(t *testing.T) {
	avroR := avroResolved(t, 7, orderAvsc)
	jsonR := jsonResolved(t, 8, `{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"]}`)
	protoR := protoResolved(t, 9, orderProto)
	lk := mapLookup{7: avroR, 8: jsonR, 9: protoR}
	for _, tc := range []struct {
		name     string
		r        *Resolved
		message  string
		in, want string
		indexes  []int
		info     Info
	}{
		{name: "avro full", r: avroR,
			in:   `{"id":1,"customer":{"string":"ann"},"status":"PAID","items":[{"sku":"a","price":1.5}],"tags":{"x":1},"note":{"shop.Item":{"sku":"b","price":2}},"raw":"\u00ff","hash":"ab"}`,
			want: `{"id":1,"customer":{"string":"ann"},"status":"PAID","items":[{"sku":"a","price":1.5}],"tags":{"x":1},"note":{"shop.Item":{"sku":"b","price":2}},"raw":"ÿ","hash":"ab"}`,
			info: Info{Subject: "orders-value", Version: 2, ID: 7, Type: schemas.Avro}},
		{name: "avro defaults and bare union value", r: avroR,
			in:   `{"id":2,"customer":"bob","status":"NEW","items":[]}`,
			want: `{"id":2,"customer":{"string":"bob"},"status":"NEW","items":[],"tags":{},"note":null,"raw":"","hash":"\u0000\u0000"}`,
			info: Info{Subject: "orders-value", Version: 2, ID: 7, Type: schemas.Avro}},
		{name: "avro several items and keys", r: avroR,
			in:   `{"id":4,"customer":null,"status":"NEW","items":[{"sku":"a","price":1},{"sku":"b","price":2}],"tags":{"y":2,"x":1},"note":null,"raw":"","hash":"cd"}`,
			want: `{"id":4,"customer":null,"status":"NEW","items":[{"sku":"a","price":1},{"sku":"b","price":2}],"tags":{"x":1,"y":2},"note":null,"raw":"","hash":"cd"}`,
			info: Info{Subject: "orders-value", Version: 2, ID: 7, Type: schemas.Avro}},
		{name: "json schema", r: jsonR, in: `{"id": 3}`, want: `{"id": 3}`, info: Info{ID: 8, Type: schemas.JSON}},
		{name: "proto first message", r: protoR, in: `{"id":"4","items":[{"sku":"a","price":1.5}]}`, want: `{"id":"4","items":[{"sku":"a","price":1.5}]}`,
			indexes: []int{0}, info: Info{ID: 9, Type: schemas.Protobuf, Message: "shop.Order"}},
		{name: "proto second message", r: protoR, message: "Refund", in: `{"order_id":"5"}`, want: `{"order_id":"5"}`,
			indexes: []int{1}, info: Info{ID: 9, Type: schemas.Protobuf, Message: "shop.Refund"}},
		{name: "proto nested message", r: protoR, message: "shop.Order.Item", in: `{"sku":"z"}`, want: `{"sku":"z"}`,
			indexes: []int{0, 0}, info: Info{ID: 9, Type: schemas.Protobuf, Message: "shop.Order.Item"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Encode(tc.r, []byte(tc.in), tc.message)
			if err != nil {
				t.Fatal(err)
			}
			f, err := ParseFrame(b, tc.r.Type == schemas.Protobuf)
			if err != nil || f.ID != tc.r.ID {
				t.Fatalf("frame of %x: %+v %v", b, f, err)
			}
			if tc.indexes != nil && !equalInts(f.Indexes, tc.indexes) {
				t.Errorf("indexes %v, want %v", f.Indexes, tc.indexes)
			}
			d, err := Decode(context.Background(), lk, b, "orders-value")
			if err != nil {
				t.Fatal(err)
			}
			if got, want := compact(t, string(d.JSON)), compact(t, tc.want); got != want {
				t.Errorf("decoded\n got %s\nwant %s", got, want)
			}
			if d.Info != tc.info {
				t.Errorf("info %+v, want %+v", d.Info, tc.info)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestEncodeMismatch: input that does not match the schema is refused with the path of the first
// mismatch.
func TestEncodeMismatch(t *testing.T) {
	avroR := avroResolved(t, 7, orderAvsc)
	jsonR := jsonResolved(t, 8, `{"type":"object","properties":{"items":{"type":"array","items":{"type":"object","properties":{"price":{"type":"number"}}}}}}`)
	protoR := protoResolved(t, 9, orderProto)
	for _, tc := range []struct {
		name string
		r    *Resolved
		in   string
		want string
	}{
		{"avro wrong type", avroR, `{"id":1,"status":"NEW","items":[{"sku":"a","price":1},{"sku":"b","price":2},{"sku":"c","price":"3"}]}`, `$.items[2].price: want double, got string`},
		{"avro missing field", avroR, `{"status":"NEW","items":[]}`, `$.id: missing field (want long, and it has no default)`},
		{"avro unknown field", avroR, `{"id":1,"status":"NEW","items":[],"colour":"red"}`, `$.colour: record shop.Order has no field "colour"`},
		{"avro bad enum", avroR, `{"id":1,"status":"LOST","items":[]}`, `$.status: "LOST" is not a symbol of enum shop.Status [NEW PAID]`},
		{"avro int for long", avroR, `{"id":1.5,"status":"NEW","items":[]}`, `$.id: want long, got number 1.5`},
		{"avro nullable union", avroR, `{"id":1,"status":"NEW","items":[],"customer":5}`, `$.customer: want string, got number 5`},
		{"avro not an object", avroR, `[1]`, `$: want record shop.Order (an object), got array`},
		{"avro map value", avroR, `{"id":1,"status":"NEW","items":[],"tags":{"a b":"x"}}`, `$.tags["a b"]: want int, got string`},
		{"json schema", jsonR, `{"items":[{"price":1},{"price":"2"}]}`, `$.items[1].price: got string, want number`},
		{"proto", protoR, `{"id":"1","items":[{"sku":"a","price":1},{"price":"x"}]}`, `$.items[1].price: want double, got string`},
		{"proto unknown field", protoR, `{"id":"1","colour":"red"}`, `$.colour: message shop.Order has no field "colour"`},
		{"proto int64", protoR, `{"id":1.5}`, `$.id: want int64, got number 1.5`},
		{"proto repeated", protoR, `{"items":{}}`, `$.items: want repeated shop.Order.Item (an array), got object`},
		{"not json", avroR, `{"id":`, `not valid JSON`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Encode(tc.r, []byte(tc.in), "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestDecodeErrors: unframed bytes, unknown ids and payloads that do not fit their schema.
func TestDecodeErrors(t *testing.T) {
	avroR := avroResolved(t, 7, `{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}`)
	lk := mapLookup{7: avroR}
	for _, tc := range []struct {
		name string
		in   []byte
		is   error
		want string
	}{
		{"json text", []byte(`{"a":1}`), ErrNotFramed, ""},
		{"short", []byte{0, 0, 0}, ErrNotFramed, ""},
		{"empty", nil, ErrNotFramed, ""},
		{"unknown id", []byte{0, 0, 0, 0, 42, 2}, ErrUnknownID, ""},
		{"truncated payload", []byte{0, 0, 0, 0, 7}, nil, "decode with schema id 7 (AVRO)"},
		{"left over", []byte{0, 0, 0, 0, 7, 2, 2}, nil, "bytes left over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(context.Background(), lk, tc.in, "")
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %v, want %v", err, tc.is)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzDecode: no input panics or hangs the frame parser and the decoders.
func FuzzDecode(f *testing.F) {
	avroR := &Resolved{ID: 1, Type: schemas.Avro}
	s, _ := avro.Parse(orderAvsc)
	avroR.Parsed = &schemas.AvroSchema{Schema: s}
	protoR := &Resolved{ID: 2, Type: schemas.Protobuf}
	c := protocompile.Compiler{Resolver: &protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(map[string]string{"o.proto": orderProto})}}
	fs, err := c.Compile(context.Background(), "o.proto")
	if err != nil {
		f.Fatal(err)
	}
	protoR.Parsed = &schemas.ProtoSchema{File: fs[0]}
	lk := mapLookup{1: avroR, 2: protoR}
	good, _ := Encode(avroR, []byte(`{"id":1,"status":"NEW","items":[{"sku":"a","price":1}]}`), "")
	f.Add(good)
	pgood, _ := Encode(protoR, []byte(`{"id":"1"}`), "Refund")
	f.Add(pgood)
	f.Add([]byte{0, 0, 0, 0, 2, 4, 2, 0})
	f.Add([]byte{0, 0, 0, 0, 1, 2, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Decode(context.Background(), lk, b, "")
		if err == nil && !json.Valid(d.JSON) {
			t.Fatalf("decoded %x to invalid JSON %s", b, d.JSON)
		}
		if err == nil && len(b) > 4 && b[4] == 1 {
			// What decodes re-encodes to the same bytes.
			again, err := Encode(avroR, d.JSON, "")
			if err != nil {
				t.Fatalf("decoded %x to %s, which does not encode: %v", b, d.JSON, err)
			}
			d2, err := Decode(context.Background(), lk, again, "")
			if err != nil || !bytes.Equal(d2.JSON, d.JSON) {
				t.Fatalf("%s re-encoded decodes to %s (%v)", d.JSON, d2.JSON, err)
			}
		}
	})
}
