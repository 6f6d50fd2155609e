package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
)

// maxAvroDepth bounds how deeply a schema's JSON may nest: hamba/avro parses recursively, and a
// pathological input must be an error, not a stack overflow.
const maxAvroDepth = 256

// AvroSchema is a parsed Avro schema.
type AvroSchema struct {
	// Schema is hamba/avro's parsed schema (what serializers use).
	Schema avro.Schema

	canonical  string
	normalized string
}

// Type is AVRO.
func (*AvroSchema) Type() Type { return Avro }

// Canonical is the schema's JSON with insignificant whitespace removed and object keys sorted: two
// registrations of the same text, however formatted, compare equal; docs, defaults, aliases, logical types
// and custom properties are all kept (they mean something to readers and code generators).
func (s *AvroSchema) Canonical() string { return s.canonical }

// Normalized is the form ?normalize=true registers and compares. It is Avro's Parsing Canonical Form
// (full names, no namespace attribute, primitives as bare strings, a fixed key order, docs and custom
// properties dropped) plus the attributes that change how data is read: field defaults and order, record,
// enum, fixed and field aliases (sorted: their order means nothing), enum defaults and logical types with
// their parameters. So two texts that differ only in namespace inheritance, `{"type":"int"}` versus
// `"int"`, key order, docs or custom properties normalize to the same schema.
func (s *AvroSchema) Normalized() string { return s.normalized }

// parseAvro parses s.Text after s.Deps (the referenced schemas), each parse with its own symbol table so
// registered schemas never leak into each other.
func parseAvro(s Schema) (p *AvroSchema, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, &ParseError{Msg: fmt.Sprintf("invalid Avro schema (the parser failed: %v)", r)}
		}
	}()
	cache := &avro.SchemaCache{}
	for _, ref := range s.References {
		if _, ok := s.Deps[ref.Name]; !ok {
			return nil, fmt.Errorf("%w: reference %q (subject %q version %d) was not resolved", ErrUnresolved, ref.Name, ref.Subject, ref.Version)
		}
	}
	if err := parseAvroDeps(s.Deps, cache); err != nil {
		return nil, err
	}
	v, err := avroJSON(s.Text)
	if err != nil {
		return nil, err
	}
	parsed, err := avro.ParseWithCache(s.Text, "", cache)
	if err != nil {
		return nil, avroParseError(s.Text, err)
	}
	if err := avroJavaChecks(s.Text, v); err != nil {
		return nil, err
	}
	var canonical, norm bytes.Buffer
	writeJSON(&canonical, v)
	// The types the references define stay references: written by name, as the text names them.
	defs, seen := map[string]map[string]any{}, map[string]bool{}
	for _, text := range s.Deps {
		if dv, err := avroJSON(text); err == nil {
			avroDefs(dv, "", defs)
		}
	}
	for name := range defs {
		seen[name] = true
	}
	avroDefs(v, "", defs)
	avroNormalize(&norm, defs, parsed, seen)
	return &AvroSchema{Schema: parsed, canonical: canonical.String(), normalized: norm.String()}, nil
}

// parseAvroDeps parses the referenced schemas into cache, in whatever order lets each find the types it
// names (Deps is flattened, not ordered).
func parseAvroDeps(deps map[string]string, cache *avro.SchemaCache) error {
	pending := make([]string, 0, len(deps))
	for name, text := range deps {
		if _, err := avroJSON(text); err != nil {
			var pe *ParseError
			if errors.As(err, &pe) {
				pe.Msg = fmt.Sprintf("referenced schema %q: %s", name, pe.Msg)
			}
			return err
		}
		pending = append(pending, name)
	}
	sort.Strings(pending)
	for len(pending) > 0 {
		var left []string
		var lastErr error
		var lastName string
		for _, name := range pending {
			// A failed parse leaves nothing in cache (hamba/avro adds the types only on success).
			if _, err := avro.ParseWithCache(deps[name], "", cache); err != nil {
				left, lastErr, lastName = append(left, name), err, name
			}
		}
		if len(left) == len(pending) {
			msg := strings.TrimPrefix(lastErr.Error(), "avro: ")
			if strings.HasPrefix(msg, "unknown type") {
				return fmt.Errorf("%w: referenced schema %q: %s", ErrUnresolved, lastName, msg)
			}
			return &ParseError{Msg: fmt.Sprintf("referenced schema %q: %s", lastName, msg)}
		}
		pending = left
	}
	return nil
}

// avroJSON checks that text is JSON (an Avro schema is a JSON string, object or array) no deeper than
// maxAvroDepth, and returns it decoded. A syntax error says where, line:col.
func avroJSON(text string) (any, error) {
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	if err == nil {
		end := int(d.InputOffset())
		if _, terr := d.Token(); terr == nil {
			off := end + len(text[end:]) - len(strings.TrimLeft(text[end:], " \t\r\n"))
			line, col := lineCol(text, off+1)
			return nil, &ParseError{Line: line, Col: col, Msg: "invalid JSON: unexpected data after the schema"}
		}
	}
	if err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			line, col := lineCol(text, int(se.Offset))
			return nil, &ParseError{Line: line, Col: col, Msg: "invalid JSON: " + se.Error()}
		case errors.As(err, &te):
			line, col := lineCol(text, int(te.Offset))
			return nil, &ParseError{Line: line, Col: col, Msg: "invalid JSON: " + te.Error()}
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			line, col := lineCol(text, len(text))
			return nil, &ParseError{Line: line, Col: col, Msg: "invalid JSON: unexpected end of input"}
		}
		return nil, &ParseError{Msg: "invalid JSON: " + err.Error()}
	}
	if depth(v) > maxAvroDepth {
		return nil, &ParseError{Msg: fmt.Sprintf("schema nests deeper than %d levels", maxAvroDepth)}
	}
	switch v.(type) {
	case string, map[string]any, []any:
		return v, nil
	}
	return nil, &ParseError{Line: 1, Col: 1, Msg: "an Avro schema is a JSON string, object or array"}
}

func depth(v any) int {
	switch v := v.(type) {
	case map[string]any:
		m := 0
		for _, e := range v {
			m = max(m, depth(e))
		}
		return m + 1
	case []any:
		m := 0
		for _, e := range v {
			m = max(m, depth(e))
		}
		return m + 1
	}
	return 0
}

// lineCol turns a byte offset into a 1-based line and column (in characters).
func lineCol(text string, off int) (line, col int) {
	off = min(max(off, 0), len(text))
	before := text[:off]
	line = strings.Count(before, "\n") + 1
	col = len([]rune(before[strings.LastIndexByte(before, '\n')+1:]))
	return line, max(col, 1)
}

// avroParseError turns hamba/avro's error into a ParseError in a user's terms, with the position of the
// name it is about when the message names one (an unknown type, a duplicate name, a field).
func avroParseError(text string, err error) error {
	msg := strings.Join(strings.Fields(strings.TrimPrefix(err.Error(), "avro: ")), " ")
	pe := &ParseError{Msg: msg}
	var name, field string
	switch {
	case strings.HasPrefix(msg, "unknown type: map["), strings.HasPrefix(msg, "unknown type: ["):
		pe.Msg = `a schema object needs a "type" attribute naming its type (a primitive, "record", "enum", "array", "map", "fixed" or a named type)`
	case strings.HasPrefix(msg, "unknown type: "):
		name = strings.TrimPrefix(msg, "unknown type: ")
		pe.Msg = fmt.Sprintf("unknown type %q: not a primitive type nor a named type defined before this point or in a reference", name)
	case strings.HasPrefix(msg, "duplicate name "):
		var q string
		if _, e := fmt.Sscanf(strings.TrimPrefix(msg, "duplicate name "), "%q", &q); e == nil {
			name = q[strings.LastIndexByte(q, '.')+1:]
			pe.Msg = fmt.Sprintf("type %q is defined twice", q)
		}
	case strings.HasPrefix(msg, "duplicate field name "):
		var q string
		if _, e := fmt.Sscanf(strings.TrimPrefix(msg, "duplicate field name "), "%q", &q); e == nil {
			name = q
		}
	case msg == "non-empty name key required":
		pe.Msg = `a "name" is required (records, enums, fixed types and fields each need one)`
	default:
		if m := avroBadDefault.FindStringSubmatch(msg); m != nil {
			field = m[1]
			pe.Msg = fmt.Sprintf("field %q: the default is not a valid %s value", field, m[2])
			if m[2] == "union" {
				pe.Msg = fmt.Sprintf("field %q: the default is not a valid value of the union's first type", field)
			}
		} else if m := avroBadOrder.FindStringSubmatch(msg); m != nil {
			field = m[1]
			pe.Msg = fmt.Sprintf("field %q: order %q is not one of ascending, descending, ignore", field, m[2])
		}
	}
	if name != "" {
		if i := strings.LastIndex(text, `"`+name+`"`); i >= 0 {
			pe.Line, pe.Col = lineCol(text, i+1)
		}
	}
	if field != "" {
		if loc := regexp.MustCompile(`"name"\s*:\s*"` + regexp.QuoteMeta(field) + `"`).FindStringIndex(text); loc != nil {
			pe.Line, pe.Col = lineCol(text, loc[0]+1)
		}
	}
	return pe
}

var (
	avroBadDefault = regexp.MustCompile(`^invalid default for field (\S+)\. .* not a (\w+)$`)
	avroBadOrder   = regexp.MustCompile(`^field "(.*)" order "(.*)" is invalid$`)
)

// avroNormalize writes s's normalized form (see Normalized). seen holds the named types already written:
// a second use is written as the full name.
func avroNormalize(b *bytes.Buffer, defs map[string]map[string]any, s avro.Schema, seen map[string]bool) {
	if r, ok := s.(*avro.RefSchema); ok {
		s = r.Schema()
	}
	if n, ok := s.(avro.NamedSchema); ok {
		if seen[n.FullName()] {
			writeJSON(b, n.FullName())
			return
		}
		seen[n.FullName()] = true
	}
	switch s := s.(type) {
	case *avro.NullSchema:
		b.WriteString(`"null"`)
	case *avro.PrimitiveSchema:
		l := s.Logical()
		if l == nil {
			writeJSON(b, string(s.Type()))
			return
		}
		b.WriteString(`{"type":`)
		writeJSON(b, string(s.Type()))
		writeLogical(b, l)
		b.WriteString("}")
	case *avro.RecordSchema:
		b.WriteString(`{"name":`)
		writeJSON(b, s.FullName())
		b.WriteString(`,"type":`)
		if s.IsError() {
			b.WriteString(`"error"`)
		} else {
			b.WriteString(`"record"`)
		}
		writeAliases(b, s.Aliases())
		b.WriteString(`,"fields":[`)
		jsonFields, _ := defs[s.FullName()]["fields"].([]any)
		for i, f := range s.Fields() {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`{"name":`)
			writeJSON(b, f.Name())
			writeAliases(b, f.Aliases())
			b.WriteString(`,"type":`)
			avroNormalize(b, defs, f.Type(), seen)
			if f.HasDefault() {
				b.WriteString(`,"default":`)
				b.Write(fieldDefault(f, jsonFields, i))
			}
			if f.Order() != "" && f.Order() != avro.Asc {
				b.WriteString(`,"order":`)
				writeJSON(b, string(f.Order()))
			}
			b.WriteString("}")
		}
		b.WriteString("]}")
	case *avro.EnumSchema:
		b.WriteString(`{"name":`)
		writeJSON(b, s.FullName())
		b.WriteString(`,"type":"enum"`)
		writeAliases(b, s.Aliases())
		b.WriteString(`,"symbols":`)
		writeJSON(b, s.Symbols())
		if s.HasDefault() {
			b.WriteString(`,"default":`)
			writeJSON(b, s.Default())
		}
		b.WriteString("}")
	case *avro.FixedSchema:
		b.WriteString(`{"name":`)
		writeJSON(b, s.FullName())
		b.WriteString(`,"type":"fixed"`)
		writeAliases(b, s.Aliases())
		fmt.Fprintf(b, `,"size":%d`, s.Size())
		if l := s.Logical(); l != nil {
			writeLogical(b, l)
		}
		b.WriteString("}")
	case *avro.ArraySchema:
		b.WriteString(`{"type":"array","items":`)
		avroNormalize(b, defs, s.Items(), seen)
		b.WriteString("}")
	case *avro.MapSchema:
		b.WriteString(`{"type":"map","values":`)
		avroNormalize(b, defs, s.Values(), seen)
		b.WriteString("}")
	case *avro.UnionSchema:
		b.WriteString("[")
		for i, t := range s.Types() {
			if i > 0 {
				b.WriteString(",")
			}
			avroNormalize(b, defs, t, seen)
		}
		b.WriteString("]")
	default:
		writeJSON(b, s.String())
	}
}

func writeLogical(b *bytes.Buffer, l avro.LogicalSchema) {
	b.WriteString(`,"logicalType":`)
	writeJSON(b, string(l.Type()))
	if d, ok := l.(*avro.DecimalLogicalSchema); ok {
		fmt.Fprintf(b, `,"precision":%d,"scale":%d`, d.Precision(), d.Scale())
	}
}

func writeAliases(b *bytes.Buffer, aliases []string) {
	if len(aliases) == 0 {
		return
	}
	a := slices.Clone(aliases)
	sort.Strings(a)
	b.WriteString(`,"aliases":`)
	writeJSON(b, a)
}

// writeJSON writes v (decoded JSON, a string or a string slice) as compact JSON, object keys sorted,
// without escaping <, > and &.
func writeJSON(b *bytes.Buffer, v any) {
	e := json.NewEncoder(b)
	e.SetEscapeHTML(false)
	if e.Encode(v) == nil { // decoded JSON always encodes
		b.Truncate(b.Len() - 1) // Encode's newline
	}
}

// fieldDefault is f's default as compact JSON with sorted keys, taken from the schema's JSON (jsonFields,
// the record's "fields"): hamba/avro's value is converted for its encoder (bytes and fixed defaults become
// byte slices), not what the schema says.
func fieldDefault(f *avro.Field, jsonFields []any, i int) []byte {
	var b bytes.Buffer
	if i < len(jsonFields) {
		if m, ok := jsonFields[i].(map[string]any); ok && m["name"] == f.Name() {
			if d, ok := m["default"]; ok {
				writeJSON(&b, d)
				return b.Bytes()
			}
		}
	}
	writeJSON(&b, f.Default())
	return b.Bytes()
}

// avroDefs indexes the named types defined in a schema's JSON (v) by full name, resolving names as Avro
// does (a dotted name is full; else the type's namespace attribute, else the enclosing namespace).
func avroDefs(v any, ns string, defs map[string]map[string]any) {
	switch v := v.(type) {
	case []any:
		for _, b := range v {
			avroDefs(b, ns, defs)
		}
	case map[string]any:
		switch typ, _ := v["type"].(string); typ {
		case "record", "error", "enum", "fixed":
			name, _ := v["name"].(string)
			if !strings.Contains(name, ".") {
				if n, ok := v["namespace"].(string); ok && n != "" {
					ns = n
				}
				if ns != "" {
					name = ns + "." + name
				}
			}
			ns = name[:max(strings.LastIndexByte(name, '.'), 0)]
			if _, dup := defs[name]; !dup {
				defs[name] = v
			}
			fields, _ := v["fields"].([]any)
			for _, f := range fields {
				if f, ok := f.(map[string]any); ok {
					avroDefs(f["type"], ns, defs)
				}
			}
		case "array":
			avroDefs(v["items"], ns, defs)
		case "map":
			avroDefs(v["values"], ns, defs)
		case "":
			avroDefs(v["type"], ns, defs)
		}
	}
}

var avroPrimitiveNames = []string{"null", "boolean", "int", "long", "float", "double", "bytes", "string"}

// avroJavaChecks refuses what Apache Avro's Java parser (what Confluent's registry runs) refuses but
// hamba/avro accepts: a union with two branches of one type (a logical type is its underlying type), a
// named type called after a primitive, an int or long default that is not an integer of that size.
func avroJavaChecks(text string, v any) error {
	fail := func(near, format string, a ...any) error {
		pe := &ParseError{Msg: fmt.Sprintf(format, a...)}
		if i := strings.Index(text, near); near != "" && i >= 0 {
			pe.Line, pe.Col = lineCol(text, i+1)
		}
		return pe
	}
	var walk func(t any, ns string) error
	walk = func(t any, ns string) error {
		switch t := t.(type) {
		case []any:
			seen := map[string]bool{}
			for _, b := range t {
				k := avroBranchKey(b, ns)
				if seen[k] {
					return fail("", "union has two branches of type %s: a union may hold each type once", k)
				}
				seen[k] = true
				if err := walk(b, ns); err != nil {
					return err
				}
			}
		case map[string]any:
			if err := avroKeys(t, fail); err != nil {
				return err
			}
			typ, _ := t["type"].(string)
			switch typ {
			case "record", "error", "enum", "fixed":
				name, _ := t["name"].(string)
				if slices.Contains(avroPrimitiveNames, name[strings.LastIndexByte(name, '.')+1:]) {
					return fail(`"`+name+`"`, "type %q may not be named after a primitive type", name)
				}
				if i := strings.LastIndexByte(name, '.'); i >= 0 {
					ns = name[:i]
				} else if n, ok := t["namespace"].(string); ok {
					ns = n
				}
			case "array":
				return walk(t["items"], ns)
			case "map":
				return walk(t["values"], ns)
			default:
				if _, ok := t["type"].(string); !ok {
					return walk(t["type"], ns)
				}
			}
			fields, _ := t["fields"].([]any)
			for _, f := range fields {
				f, _ := f.(map[string]any)
				if err := avroKeys(f, fail); err != nil {
					return err
				}
				if err := walk(f["type"], ns); err != nil {
					return err
				}
				d, ok := f["default"]
				if !ok {
					continue
				}
				ft := f["type"]
				if m, ok := ft.(map[string]any); ok {
					ft = m["type"]
				}
				name, _ := ft.(string)
				bits := map[string]int{"int": 32, "long": 64}[name]
				if bits == 0 {
					continue
				}
				if n, ok := d.(json.Number); !ok || !isIntN(string(n), bits) {
					return fail(fmt.Sprintf(`"%v"`, f["name"]), "field %q: default %v is not %s", f["name"], d, map[int]string{32: "an int (32-bit integer)", 64: "a long (64-bit integer)"}[bits])
				}
			}
		}
		return nil
	}
	return walk(v, "")
}

// avroReserved are the attributes Avro gives a meaning to.
var avroReserved = []string{"type", "name", "namespace", "aliases", "doc", "fields", "default", "order", "symbols", "items", "values", "size", "logicalType", "precision", "scale"}

// avroKeys refuses an attribute spelled like a reserved one in another case ("Name"): hamba/avro reads
// it as the reserved one, Java as a custom property, so the two would disagree on what the schema is.
func avroKeys(m map[string]any, fail func(near, format string, a ...any) error) error {
	for k := range m {
		for _, r := range avroReserved {
			if k != r && strings.EqualFold(k, r) {
				return fail(`"`+k+`"`, "attribute %q: Avro's attribute names are case-sensitive (%q)", k, r)
			}
		}
	}
	return nil
}

// avroBranchKey is what makes a union branch distinct in Java: its type, or a named type's full name.
func avroBranchKey(b any, ns string) string {
	switch b := b.(type) {
	case string:
		if slices.Contains(avroPrimitiveNames, b) || strings.Contains(b, ".") || ns == "" {
			return b
		}
		return ns + "." + b
	case map[string]any:
		typ, _ := b["type"].(string)
		switch typ {
		case "record", "error", "enum", "fixed":
			name, _ := b["name"].(string)
			if n, ok := b["namespace"].(string); ok && n != "" && !strings.Contains(name, ".") {
				return n + "." + name
			}
			return avroBranchKey(name, ns)
		}
		if _, ok := b["type"].(string); !ok {
			return avroBranchKey(b["type"], ns)
		}
		return typ
	case []any:
		return "union"
	}
	return fmt.Sprint(b)
}

func isIntN(s string, bits int) bool {
	_, err := strconv.ParseInt(s, 10, bits)
	return err == nil
}
