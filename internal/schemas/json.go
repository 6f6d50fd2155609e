package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// JSONSchema is a parsed JSON Schema.
type JSONSchema struct {
	// Schema validates instances.
	Schema *jsonschema.Schema

	canonical  string
	normalized string
}

// Type is JSON.
func (*JSONSchema) Type() Type { return JSON }

// Canonical is the schema's JSON with insignificant whitespace removed and object keys sorted (numbers
// and strings exactly as written).
func (s *JSONSchema) Canonical() string { return s.canonical }

// Normalized is Canonical with the order-insignificant arrays ("required" and "type" lists of strings)
// sorted and their duplicates removed.
func (s *JSONSchema) Normalized() string { return s.normalized }

// jsonBase is the base URL a schema without $id is compiled at; a reference name that is not an
// absolute URL is resolved against it, so a relative "$ref": "customer.json" finds the reference named
// customer.json.
const jsonBase = "mem://schemas/"

// jsonMain is the URL the schema itself is compiled at.
const jsonMain = jsonBase + "schema.json"

// parseJSON compiles s.Text with the draft its $schema names (draft-07 when it names none, as
// Confluent's registry does). $refs resolve only to s.Deps (by the reference's name, as an absolute URL
// or relative to the referring schema); nothing is loaded from the network or from disk.
func parseJSON(s Schema) (p *JSONSchema, err error) {
	doc, err := decodeJSON(s.Text)
	if err != nil {
		return nil, err
	}
	objects := countJSONObjects(doc)
	defer func() {
		// The compiler is a third-party library fed user input: a panic in it is a schema we cannot
		// parse, never a crashed registry.
		if r := recover(); r != nil {
			p, err = nil, &ParseError{Msg: fmt.Sprintf("invalid JSON Schema: %v", r)}
		}
	}()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	ld := &jsonDepLoader{docs: map[string]any{}}
	c.UseLoader(ld)
	names := make([]string, 0, len(s.Deps))
	for name := range s.Deps {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		d, err := decodeJSON(s.Deps[name])
		if err != nil {
			var pe *ParseError
			if errors.As(err, &pe) {
				pe.Msg = fmt.Sprintf("reference %q: %s", name, pe.Msg)
				pe.Line, pe.Col = 0, 0 // a position in another schema's text
			}
			return nil, err
		}
		objects += countJSONObjects(d)
		u := jsonRefURL(name)
		ld.names = append(ld.names, name)
		ld.docs[name] = d
		if u == jsonMain {
			continue // the loader finds it by name
		}
		if err := c.AddResource(u, d); err != nil {
			return nil, &ParseError{Msg: fmt.Sprintf("reference %q: %v", name, err)}
		}
	}
	if objects > maxJSONObjects {
		return nil, &ParseError{Msg: fmt.Sprintf("the schema and its references have %d JSON objects: more than the %d the registry compiles (the compiler slows down quadratically); split it", objects, maxJSONObjects)}
	}
	if err := c.AddResource(jsonMain, doc); err != nil {
		return nil, &ParseError{Msg: fmt.Sprintf("invalid JSON Schema: %v", err)}
	}
	sch, err := c.Compile(jsonMain)
	if err != nil {
		return nil, jsonCompileError(s.Text, err)
	}
	canon, err := canonicalJSON(doc, false)
	if err != nil {
		return nil, &ParseError{Msg: err.Error()}
	}
	norm, err := canonicalJSON(doc, true)
	if err != nil {
		return nil, &ParseError{Msg: err.Error()}
	}
	return &JSONSchema{Schema: sch, canonical: canon, normalized: norm}, nil
}

// maxJSONObjects bounds the JSON objects (subschemas, mostly) of a schema with its references: the
// JSON Schema compiler's work grows with their square (10,000 take a few seconds on a loaded machine;
// 30,000, about a 1 MiB schema, most of a minute).
const maxJSONObjects = 10_000

func countJSONObjects(v any) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		n++
		for _, e := range v {
			n += countJSONObjects(e)
		}
	case []any:
		for _, e := range v {
			n += countJSONObjects(e)
		}
	}
	return n
}

// jsonRefURL is the URL a reference named name is added at.
func jsonRefURL(name string) string {
	if u, err := url.Parse(name); err == nil && u.IsAbs() {
		u.Fragment = ""
		return u.String()
	}
	return jsonBase + strings.TrimPrefix(name, "/")
}

// jsonDepLoader answers the compiler's loads from the references only: a URL that is no reference's
// (by exact URL, by the reference's name as the URL's last path segments, or by its $id) is
// unresolved.
type jsonDepLoader struct {
	names []string
	docs  map[string]any
}

func (l *jsonDepLoader) Load(u string) (any, error) {
	for _, name := range l.names {
		if jsonRefURL(name) == u || strings.HasSuffix(u, "/"+strings.TrimPrefix(name, "/")) {
			return l.docs[name], nil
		}
	}
	for _, name := range l.names { // a reference named otherwise than its $id
		if obj, ok := l.docs[name].(map[string]any); ok {
			if id, ok := obj["$id"].(string); ok && strings.TrimSuffix(id, "#") == u {
				return obj, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: $ref %q is not one of the schema's references", ErrUnresolved, u)
}

// jsonCompileError turns the compiler's error into a *ParseError or an error wrapping ErrUnresolved.
func jsonCompileError(text string, err error) error {
	var le *jsonschema.LoadURLError
	if errors.As(err, &le) {
		if meta := jsonMetaschema(text); meta != "" && strings.TrimSuffix(meta, "#") == strings.TrimSuffix(le.URL, "#") {
			var line, col int
			if off, ok := jsonValueOffset(text, []string{"$schema"}); ok {
				line, col = lineCol(text, off)
			}
			return &ParseError{Line: line, Col: col, Msg: fmt.Sprintf("invalid JSON Schema: $schema %q is not a draft the registry knows: use draft-04, -06, -07, 2019-09 or 2020-12 (or leave it out for draft-07)", meta)}
		}
		ref := strings.TrimPrefix(le.URL, jsonBase)
		line, col := refPosition(text, ref)
		if errors.Is(le.Err, ErrUnresolved) {
			if line > 0 {
				return fmt.Errorf("%d:%d: %w: $ref %q: add it to the schema's references", line, col, ErrUnresolved, ref)
			}
			return fmt.Errorf("%w: $ref %q: add it to the schema's references", ErrUnresolved, ref)
		}
		return &ParseError{Line: line, Col: col, Msg: fmt.Sprintf("$ref %q: %v", ref, le.Err)}
	}
	var pe *jsonschema.JSONPointerNotFoundError
	if errors.As(err, &pe) && strings.HasPrefix(pe.URL, jsonMain+"#") {
		ref := strings.TrimPrefix(pe.URL, jsonMain)
		line, col := refPosition(text, ref)
		return &ParseError{Line: line, Col: col, Msg: fmt.Sprintf("invalid JSON Schema: $ref %q points to nothing in the schema", ref)}
	}
	var line, col int
	var sve *jsonschema.SchemaValidationError
	if errors.As(err, &sve) && strings.HasPrefix(sve.URL, jsonMain) {
		var ve *jsonschema.ValidationError
		if errors.As(sve.Err, &ve) {
			for len(ve.Causes) > 0 {
				ve = ve.Causes[0]
			}
			if off, ok := jsonValueOffset(text, ve.InstanceLocation); ok {
				line, col = lineCol(text, off)
			}
		}
		// The library prints the failure as a tree; its last line is the innermost cause.
		lines := strings.Split(strings.TrimSpace(sve.Err.Error()), "\n")
		last := strings.TrimPrefix(strings.TrimSpace(lines[len(lines)-1]), "- ")
		return &ParseError{Line: line, Col: col, Msg: "invalid JSON Schema: " + last}
	}
	msg := strings.ReplaceAll(err.Error(), jsonMain, "schema")
	msg = strings.ReplaceAll(msg, jsonBase, "")
	return &ParseError{Line: line, Col: col, Msg: "invalid JSON Schema: " + msg}
}

// jsonMetaschema is the $schema of the schema text, "" when it has none.
func jsonMetaschema(text string) string {
	var doc struct {
		Schema string `json:"$schema"`
	}
	_ = json.Unmarshal([]byte(text), &doc)
	return doc.Schema
}

// refPosition is the line and column of the first "$ref" in text whose value is ref (or ref with a
// fragment, or a relative form of it); 0, 0 when there is none.
func refPosition(text, ref string) (int, int) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	matches := func(s string) bool {
		return s == ref || strings.HasPrefix(s, ref+"#") || strings.HasSuffix(ref, "/"+strings.TrimPrefix(s, "./"))
	}
	// walk reads one value; found is the offset of a matching $ref's value inside it, or -1.
	var walk func(isRef bool) (found int, err error)
	walk = func(isRef bool) (int, error) {
		off := int(dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return -1, err
		}
		switch tok {
		case json.Delim('{'):
			for dec.More() {
				key, err := dec.Token()
				if err != nil {
					return -1, err
				}
				if found, err := walk(key == "$ref"); err != nil || found >= 0 {
					return found, err
				}
			}
			_, err = dec.Token()
		case json.Delim('['):
			for dec.More() {
				if found, err := walk(false); err != nil || found >= 0 {
					return found, err
				}
			}
			_, err = dec.Token()
		default:
			if s, ok := tok.(string); ok && isRef && matches(s) {
				for off < len(text) && strings.ContainsRune(" \t\r\n:,", rune(text[off])) {
					off++
				}
				return off, nil
			}
		}
		return -1, err
	}
	if off, err := walk(false); err == nil && off >= 0 {
		return lineCol(text, off)
	}
	return 0, 0
}

// jsonValueOffset is the offset in text of the value at the JSON pointer ptr (its reference tokens).
func jsonValueOffset(text string, ptr []string) (int, bool) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	start := func() int {
		off := int(dec.InputOffset())
		for off < len(text) && strings.ContainsRune(" \t\r\n,:", rune(text[off])) {
			off++
		}
		return off
	}
	for {
		off := start()
		if len(ptr) == 0 {
			return off, true
		}
		tok, err := dec.Token()
		if err != nil {
			return 0, false
		}
		found := false
		switch tok {
		case json.Delim('{'):
			for dec.More() {
				key, err := dec.Token()
				if err != nil {
					return 0, false
				}
				if key == ptr[0] {
					found = true
					break
				}
				if skipJSONValue(dec) != nil {
					return 0, false
				}
			}
		case json.Delim('['):
			n, err := strconv.Atoi(ptr[0])
			if err != nil {
				return 0, false
			}
			for i := 0; dec.More(); i++ {
				if i == n {
					found = true
					break
				}
				if skipJSONValue(dec) != nil {
					return 0, false
				}
			}
		}
		if !found {
			return 0, false
		}
		ptr = ptr[1:]
	}
}

func skipJSONValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// decodeJSON reads exactly one JSON value (numbers as json.Number); malformed text is a *ParseError
// with the line and column of the offending byte.
func decodeJSON(text string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonSyntaxError(text, dec, err)
	}
	off := int(dec.InputOffset())
	if _, err := dec.Token(); err != io.EOF {
		for off < len(text) && strings.ContainsRune(" \t\r\n", rune(text[off])) {
			off++
		}
		line, col := lineCol(text, off)
		if err != nil {
			return nil, jsonSyntaxError(text, dec, err)
		}
		return nil, &ParseError{Line: line, Col: col, Msg: "invalid JSON: data after the schema's value"}
	}
	return v, nil
}

func jsonSyntaxError(text string, dec *json.Decoder, err error) error {
	off := int(dec.InputOffset())
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = int(se.Offset)
		if off > 0 {
			off-- // Offset counts the offending byte
		}
	case errors.As(err, &te):
		off = int(te.Offset)
	case errors.Is(err, io.EOF):
		if strings.TrimSpace(text) == "" {
			return &ParseError{Msg: "invalid JSON: the schema is empty"}
		}
		off = len(text)
		err = io.ErrUnexpectedEOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		off = len(text)
	}
	line, col := lineCol(text, off)
	return &ParseError{Line: line, Col: col, Msg: "invalid JSON: " + err.Error()}
}

// lineCol is the 1-based line and column (in bytes) of text[off].
func lineCol(text string, off int) (int, int) {
	if off > len(text) {
		off = len(text)
	}
	if off < 0 {
		off = 0
	}
	line := 1 + strings.Count(text[:off], "\n")
	col := off - strings.LastIndex(text[:off], "\n")
	return line, col
}

// canonicalJSON prints v compactly with sorted keys; normalize also sorts and dedups "required" and
// "type" string arrays.
func canonicalJSON(v any, normalize bool) (string, error) {
	if normalize {
		v = normalizeJSON(v)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func normalizeJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			if k == "required" || k == "type" {
				if ss, ok := stringArray(e); ok {
					sort.Strings(ss)
					var uniq []any
					for i, s := range ss {
						if i == 0 || s != ss[i-1] {
							uniq = append(uniq, s)
						}
					}
					if uniq == nil {
						uniq = []any{}
					}
					out[k] = uniq
					continue
				}
			}
			out[k] = normalizeJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalizeJSON(e)
		}
		return out
	}
	return v
}

func stringArray(v any) ([]string, bool) {
	a, ok := v.([]any)
	if !ok {
		return nil, false
	}
	ss := make([]string, len(a))
	for i, e := range a {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		ss[i] = s
	}
	return ss, true
}
