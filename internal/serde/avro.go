package serde

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
)

// maxAvroItems bounds the items of all arrays and maps of one record (a block count is read from the
// record, and items of type null take no bytes).
const maxAvroItems = 1 << 20

type avroDecoder struct {
	r     *avro.Reader
	items int
	err   error
}

func (d *avroDecoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *avroDecoder) ok() bool {
	if d.err == nil && d.r.Error != nil {
		d.err = d.r.Error
	}
	return d.err == nil
}

// avroToJSON decodes Avro binary data written with s into Avro's JSON encoding (unions as
// {"branch": value}, bytes and fixed as strings of code points 0-255), record fields in schema order.
func avroToJSON(s avro.Schema, data []byte) ([]byte, error) {
	d := &avroDecoder{r: avro.NewReader(nil, 0).Reset(data)}
	var out bytes.Buffer
	d.value(s, &out)
	if !d.ok() {
		return nil, d.err
	}
	var one [1]byte
	d.r.Read(one[:])
	if d.r.Error == nil {
		return nil, errors.New("bytes left over after the value: the record was not written with this schema")
	}
	return out.Bytes(), nil
}

func writeJSONString(out *bytes.Buffer, s string) {
	b, _ := json.Marshal(s)
	out.Write(b)
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

func writeFloat(out *bytes.Buffer, f float64, bits int) {
	switch {
	case math.IsNaN(f):
		out.WriteString(`"NaN"`)
	case math.IsInf(f, 1):
		out.WriteString(`"Infinity"`)
	case math.IsInf(f, -1):
		out.WriteString(`"-Infinity"`)
	default:
		out.WriteString(strconv.FormatFloat(f, 'g', -1, bits))
	}
}

// branchName is how Avro's JSON encoding names a union branch.
func branchName(s avro.Schema) string {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema().FullName()
	}
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	return string(s.Type())
}

func (d *avroDecoder) value(s avro.Schema, out *bytes.Buffer) {
	if !d.ok() {
		return
	}
	if s.Type() == avro.Null {
		out.WriteString("null")
		return
	}
	switch s := s.(type) {
	case *avro.RefSchema:
		d.value(s.Schema(), out)
	case *avro.PrimitiveSchema:
		switch s.Type() {
		case avro.Boolean:
			out.WriteString(strconv.FormatBool(d.r.ReadBool()))
		case avro.Int:
			out.WriteString(strconv.FormatInt(int64(d.r.ReadInt()), 10))
		case avro.Long:
			out.WriteString(strconv.FormatInt(d.r.ReadLong(), 10))
		case avro.Float:
			writeFloat(out, float64(d.r.ReadFloat()), 32)
		case avro.Double:
			writeFloat(out, d.r.ReadDouble(), 64)
		case avro.String:
			str := d.r.ReadString()
			if !utf8.ValidString(str) {
				d.fail("string is not UTF-8")
			}
			writeJSONString(out, str)
		case avro.Bytes:
			writeJSONString(out, latin1(d.r.ReadBytes()))
		default:
			d.fail("unsupported type %s", s.Type())
		}
	case *avro.RecordSchema:
		out.WriteByte('{')
		for i, f := range s.Fields() {
			if i > 0 {
				out.WriteByte(',')
			}
			writeJSONString(out, f.Name())
			out.WriteByte(':')
			d.value(f.Type(), out)
		}
		out.WriteByte('}')
	case *avro.EnumSchema:
		i := d.r.ReadInt()
		sym, ok := s.Symbol(int(i))
		if !ok && d.ok() {
			d.fail("enum %s has no symbol %d", s.FullName(), i)
			return
		}
		writeJSONString(out, sym)
	case *avro.FixedSchema:
		b := make([]byte, s.Size())
		d.r.Read(b)
		writeJSONString(out, latin1(b))
	case *avro.ArraySchema:
		out.WriteByte('[')
		d.blocks(out, func() {
			d.value(s.Items(), out)
		})
		out.WriteByte(']')
	case *avro.MapSchema:
		out.WriteByte('{')
		d.blocks(out, func() {
			writeJSONString(out, d.r.ReadString())
			out.WriteByte(':')
			d.value(s.Values(), out)
		})
		out.WriteByte('}')
	case *avro.UnionSchema:
		i := d.r.ReadLong()
		types := s.Types()
		if !d.ok() {
			return
		}
		if i < 0 || i >= int64(len(types)) {
			d.fail("union branch %d out of range (the union has %d)", i, len(types))
			return
		}
		b := types[i]
		if b.Type() == avro.Null {
			out.WriteString("null")
			return
		}
		out.WriteByte('{')
		writeJSONString(out, branchName(b))
		out.WriteByte(':')
		d.value(b, out)
		out.WriteByte('}')
	default:
		d.fail("unsupported schema %T", s)
	}
}

// blocks reads the blocks of an array or map, calling item for each item, with a comma in out
// between items.
func (d *avroDecoder) blocks(out *bytes.Buffer, item func()) {
	first := true
	for d.ok() {
		n, _ := d.r.ReadBlockHeader()
		if !d.ok() || n == 0 {
			return
		}
		if n < 0 || n > maxAvroItems-int64(d.items) {
			d.fail("block of %d items is too large", n)
			return
		}
		d.items += int(n)
		for ; n > 0 && d.ok(); n-- {
			if !first {
				out.WriteByte(',')
			}
			first = false
			item()
		}
	}
}

// avroFromJSON encodes the JSON text in (Avro's JSON encoding; a union's value may also be given bare
// when exactly one branch takes it) with s, appended to dst.
func avroFromJSON(s avro.Schema, in []byte, dst []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	buf := bytes.NewBuffer(dst)
	w := avro.NewWriter(buf, 512)
	if err := encodeAvro(w, s, v, "$"); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func mismatch(path string, format string, args ...any) error {
	return &MismatchError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// jsonKind names a JSON (or default) value's type for messages.
func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number " + v.String()
	case int, int32, int64, float32, float64:
		return fmt.Sprintf("number %v", v)
	case string:
		return "string"
	case []byte:
		return "bytes"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func toInt(v any) (int64, bool) {
	switch v := v.(type) {
	case json.Number:
		i, err := strconv.ParseInt(v.String(), 10, 64)
		return i, err == nil
	case int:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	case float64:
		return int64(v), float64(int64(v)) == v
	}
	return 0, false
}

func toFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case int:
		return float64(v), true
	case int32:
		return float64(v), true
	case int64:
		return float64(v), true
	case float32:
		return float64(v), true
	case float64:
		return v, true
	case string:
		switch v {
		case "NaN":
			return math.NaN(), true
		case "Infinity":
			return math.Inf(1), true
		case "-Infinity":
			return math.Inf(-1), true
		}
	}
	return 0, false
}

// toLatin1 reads Avro JSON's bytes: a string of code points 0-255.
func toLatin1(v any) ([]byte, bool) {
	switch v := v.(type) {
	case []byte:
		return v, true
	case string:
		b := make([]byte, 0, len(v))
		for _, r := range v {
			if r > 255 {
				return nil, false
			}
			b = append(b, byte(r))
		}
		return b, true
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Array && rv.Type().Elem().Kind() == reflect.Uint8 {
		b := make([]byte, rv.Len())
		reflect.Copy(reflect.ValueOf(b), rv)
		return b, true
	}
	return nil, false
}

func encodeAvro(w *avro.Writer, s avro.Schema, v any, path string) error {
	want := func(what string) error {
		return mismatch(path, "want %s, got %s", what, jsonKind(v))
	}
	if s.Type() == avro.Null {
		if v != nil {
			return want("null")
		}
		return nil
	}
	switch s := s.(type) {
	case *avro.RefSchema:
		return encodeAvro(w, s.Schema(), v, path)
	case *avro.PrimitiveSchema:
		t := s.Type()
		switch t {
		case avro.Boolean:
			b, ok := v.(bool)
			if !ok {
				return want("boolean")
			}
			w.WriteBool(b)
		case avro.Int:
			i, ok := toInt(v)
			if !ok || i < math.MinInt32 || i > math.MaxInt32 {
				return want("int")
			}
			w.WriteInt(int32(i))
		case avro.Long:
			i, ok := toInt(v)
			if !ok {
				return want("long")
			}
			w.WriteLong(i)
		case avro.Float:
			f, ok := toFloat(v)
			if !ok {
				return want("float")
			}
			w.WriteFloat(float32(f))
		case avro.Double:
			f, ok := toFloat(v)
			if !ok {
				return want("double")
			}
			w.WriteDouble(f)
		case avro.String:
			str, ok := v.(string)
			if !ok {
				return want("string")
			}
			w.WriteString(str)
		case avro.Bytes:
			b, ok := toLatin1(v)
			if !ok {
				return want("bytes (a string of code points 0-255)")
			}
			w.WriteBytes(b)
		default:
			return mismatch(path, "unsupported type %s", t)
		}
	case *avro.RecordSchema:
		obj, ok := v.(map[string]any)
		if !ok {
			return mismatch(path, "want record %s (an object), got %s", s.FullName(), jsonKind(v))
		}
		known := make(map[string]bool, len(s.Fields()))
		for _, f := range s.Fields() {
			known[f.Name()] = true
		}
		var extra []string
		for k := range obj {
			if !known[k] {
				extra = append(extra, k)
			}
		}
		if len(extra) > 0 {
			sort.Strings(extra)
			return mismatch(fieldPath(path, extra[0]), "record %s has no field %q", s.FullName(), extra[0])
		}
		for _, f := range s.Fields() {
			fp := fieldPath(path, f.Name())
			fv, ok := obj[f.Name()]
			if !ok {
				if !f.HasDefault() {
					return mismatch(fp, "missing field (want %s, and it has no default)", typeName(f.Type()))
				}
				if err := encodeDefault(w, f.Type(), f.Default(), fp); err != nil {
					return err
				}
				continue
			}
			if err := encodeAvro(w, f.Type(), fv, fp); err != nil {
				return err
			}
		}
	case *avro.EnumSchema:
		str, ok := v.(string)
		if !ok {
			return mismatch(path, "want enum %s (a string), got %s", s.FullName(), jsonKind(v))
		}
		for i, sym := range s.Symbols() {
			if sym == str {
				w.WriteInt(int32(i))
				return nil
			}
		}
		return mismatch(path, "%q is not a symbol of enum %s %v", str, s.FullName(), s.Symbols())
	case *avro.FixedSchema:
		b, ok := toLatin1(v)
		if !ok || len(b) != s.Size() {
			return mismatch(path, "want fixed %s of %d bytes (a string of code points 0-255), got %s", s.FullName(), s.Size(), jsonKind(v))
		}
		_, _ = w.Write(b)
	case *avro.ArraySchema:
		arr, ok := v.([]any)
		if !ok {
			return want("array")
		}
		return writeBlock(w, len(arr), func(i int) error {
			return encodeAvro(w, s.Items(), arr[i], fmt.Sprintf("%s[%d]", path, i))
		})
	case *avro.MapSchema:
		obj, ok := v.(map[string]any)
		if !ok {
			return want("map (an object)")
		}
		keys := slices.Sorted(maps.Keys(obj))
		return writeBlock(w, len(keys), func(i int) error {
			w.WriteString(keys[i])
			return encodeAvro(w, s.Values(), obj[keys[i]], fieldPath(path, keys[i]))
		})
	case *avro.UnionSchema:
		return encodeUnion(w, s, v, path)
	default:
		return mismatch(path, "unsupported schema %T", s)
	}
	return nil
}

// writeBlock writes the n items of an array or map as one block (none when n is 0) and the end marker.
func writeBlock(w *avro.Writer, n int, item func(i int) error) error {
	if n > 0 {
		w.WriteBlockHeader(int64(n), 0)
		for i := 0; i < n; i++ {
			if err := item(i); err != nil {
				return err
			}
		}
	}
	w.WriteBlockHeader(0, 0)
	return nil
}

func encodeUnion(w *avro.Writer, s *avro.UnionSchema, v any, path string) error {
	types := s.Types()
	if v == nil {
		for i, t := range types {
			if t.Type() == avro.Null {
				w.WriteLong(int64(i))
				return nil
			}
		}
		return mismatch(path, "want one of %s, got null", unionNames(s))
	}
	// Avro's JSON encoding: {"branch": value}.
	if obj, ok := v.(map[string]any); ok && len(obj) == 1 {
		for k, inner := range obj {
			for i, t := range types {
				if branchName(t) == k || shortName(t) == k {
					w.WriteLong(int64(i))
					return encodeAvro(w, t, inner, path)
				}
			}
		}
	}
	// A bare value: the first branch that takes it.
	var first error
	for i, t := range types {
		if t.Type() == avro.Null {
			continue
		}
		var scratch bytes.Buffer
		sw := avro.NewWriter(&scratch, 64)
		err := encodeAvro(sw, t, v, path)
		if err == nil {
			if err = sw.Flush(); err == nil {
				w.WriteLong(int64(i))
				_, _ = w.Write(scratch.Bytes())
				return nil
			}
		}
		if first == nil {
			first = err
		}
	}
	var me *MismatchError
	if len(types) == 2 && s.Nullable() && errors.As(first, &me) {
		return first // ["null", X]: X's own mismatch says more
	}
	return mismatch(path, "want one of %s (as {\"branch\": value}), got %s", unionNames(s), jsonKind(v))
}

// encodeDefault writes a field's default (as hamba parsed it); a union's default is its first branch's.
func encodeDefault(w *avro.Writer, s avro.Schema, v any, path string) error {
	if u, ok := s.(*avro.UnionSchema); ok {
		w.WriteLong(0)
		return encodeDefault(w, u.Types()[0], v, path)
	}
	if v == avro.NoDefault {
		v = nil
	}
	return encodeAvro(w, s, v, path)
}

func shortName(s avro.Schema) string {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema().Name()
	}
	if n, ok := s.(avro.NamedSchema); ok {
		return n.Name()
	}
	return string(s.Type())
}

func typeName(s avro.Schema) string {
	if u, ok := s.(*avro.UnionSchema); ok {
		return unionNames(u)
	}
	return branchName(s)
}

func unionNames(s *avro.UnionSchema) string {
	b := []byte{'['}
	for i, t := range s.Types() {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, branchName(t)...)
	}
	return string(append(b, ']'))
}

// fieldPath appends a member to a JSON path: $.name, or $["odd name"].
func fieldPath(path, name string) string {
	simple := name != ""
	for i, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			simple = false
			break
		}
	}
	if simple {
		return path + "." + name
	}
	q, _ := json.Marshal(name)
	return path + "[" + string(q) + "]"
}
