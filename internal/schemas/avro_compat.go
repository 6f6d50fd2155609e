package schemas

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
)

// avroCompatible says why data written with writer cannot be read with reader, by Apache Avro's
// resolution rules exactly as Java's org.apache.avro.SchemaCompatibility.checkReaderWriterCompatibility
// applies them (the check Confluent's registry runs); the differential test holds the two together. Each
// message names the incompatibility as Java's SchemaIncompatibilityType does and where it is, a JSON
// pointer into the reader schema ("/fields/2/type").
//
// As in Java: logical types are ignored (only the underlying types are compared); names match when their
// unqualified names are equal or a reader alias is the writer's full name; a reader field is found in the
// writer by its name or one of its aliases; a reader/writer pair met again while it is still being checked
// (recursive types) counts as compatible, and every pair's verdict is remembered for the rest of the check.
//
// hamba/avro's own SchemaCompatibility is not used: over the differential test's corpus its verdicts
// agree with Java's but for a reader field that matches two writer fields (by name and alias: Java
// refuses, hamba accepts), and it stops at the first problem and says nothing about where, while a user
// needs every problem and its place.
func avroCompatible(reader, writer *AvroSchema) []string {
	c := &avroChecker{memo: map[avroPair]*avroResult{}}
	res := c.check("", reader.Schema, writer.Schema, nil)
	msgs := make([]string, 0, len(res.problems))
	for _, p := range res.problems {
		msgs = append(msgs, p.String())
	}
	return msgs
}

type avroPair struct{ reader, writer avro.Schema }

type avroResult struct {
	inProgress bool
	problems   []avroProblem
}

// avroProblem is one incompatibility: Kind is Java's SchemaIncompatibilityType.
type avroProblem struct {
	Kind string
	Path string
	Msg  string
}

func (p avroProblem) String() string {
	path := p.Path
	if path == "" {
		path = "/"
	}
	return fmt.Sprintf("%s at %s: %s", p.Kind, path, p.Msg)
}

type avroChecker struct {
	memo map[avroPair]*avroResult
}

func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

func avroPath(loc []string) string {
	if len(loc) == 0 {
		return ""
	}
	return "/" + strings.Join(loc, "/")
}

// check is Java's getCompatibility(referenceToken, reader, writer, location): token is appended to loc
// (the root's token is "", appended to nothing).
func (c *avroChecker) check(token string, reader, writer avro.Schema, loc []string) *avroResult {
	reader, writer = deref(reader), deref(writer)
	if token != "" || loc != nil {
		loc = append(slices.Clip(loc), token)
	}
	key := avroPair{reader, writer}
	if r, ok := c.memo[key]; ok {
		if r.inProgress {
			return &avroResult{} // recursion: compatible unless proven otherwise
		}
		return r
	}
	c.memo[key] = &avroResult{inProgress: true}
	r := &avroResult{problems: c.calculate(reader, writer, loc)}
	c.memo[key] = r
	return r
}

func typeName(s avro.Schema) string {
	if n, ok := s.(avro.NamedSchema); ok {
		return string(s.Type()) + " " + n.FullName()
	}
	return string(s.Type())
}

func (c *avroChecker) calculate(reader, writer avro.Schema, loc []string) []avroProblem {
	path := avroPath(loc)
	mismatch := func() []avroProblem {
		return []avroProblem{{"TYPE_MISMATCH", path, fmt.Sprintf("the reader's %s cannot read the writer's %s", typeName(reader), typeName(writer))}}
	}
	if reader.Type() == writer.Type() {
		switch r := reader.(type) {
		case *avro.ArraySchema:
			return c.check("items", r.Items(), writer.(*avro.ArraySchema).Items(), loc).problems
		case *avro.MapSchema:
			return c.check("values", r.Values(), writer.(*avro.MapSchema).Values(), loc).problems
		case *avro.FixedSchema:
			w := writer.(*avro.FixedSchema)
			p := checkNames(r, w, loc)
			if r.Size() != w.Size() {
				p = append(p, avroProblem{"FIXED_SIZE_MISMATCH", avroPath(append(slices.Clip(loc), "size")),
					fmt.Sprintf("fixed %s is %d bytes in the reader but %d in the writer", r.FullName(), r.Size(), w.Size())})
			}
			return p
		case *avro.EnumSchema:
			w := writer.(*avro.EnumSchema)
			p := checkNames(r, w, loc)
			var missing []string
			for _, sym := range w.Symbols() {
				if !slices.Contains(r.Symbols(), sym) {
					missing = append(missing, sym)
				}
			}
			if len(missing) > 0 && !(r.HasDefault() && slices.Contains(r.Symbols(), r.Default())) {
				sort.Strings(missing)
				p = append(p, avroProblem{"MISSING_ENUM_SYMBOLS", avroPath(append(slices.Clip(loc), "symbols")),
					fmt.Sprintf("the reader's enum %s lacks the writer's symbols %s and has no default symbol", r.FullName(), strings.Join(missing, ", "))})
			}
			return p
		case *avro.RecordSchema:
			w := writer.(*avro.RecordSchema)
			p := checkNames(r, w, loc)
			return append(p, c.checkFields(r, w, loc)...)
		case *avro.UnionSchema:
			var p []avroProblem
			for i, wb := range writer.(*avro.UnionSchema).Types() {
				// Java checks each writer branch as a fresh root and reports at the writer branch's index.
				if len(c.check("", reader, wb, nil).problems) > 0 {
					p = append(p, avroProblem{"MISSING_UNION_BRANCH", avroPath(append(slices.Clip(loc), strconv.Itoa(i))),
						fmt.Sprintf("the reader's union has no branch that can read the writer's %s", typeName(deref(wb)))})
				}
			}
			return p
		}
		return nil // same primitive type
	}
	if w, ok := writer.(*avro.UnionSchema); ok {
		var p []avroProblem
		for i, wb := range w.Types() {
			p = append(p, c.check(strconv.Itoa(i), reader, wb, loc).problems...)
		}
		return p
	}
	wt := writer.Type()
	switch reader.Type() {
	case avro.Long:
		if wt == avro.Int {
			return nil
		}
	case avro.Float:
		if wt == avro.Int || wt == avro.Long {
			return nil
		}
	case avro.Double:
		if wt == avro.Int || wt == avro.Long || wt == avro.Float {
			return nil
		}
	case avro.Bytes:
		if wt == avro.String {
			return nil
		}
	case avro.String:
		if wt == avro.Bytes {
			return nil
		}
	case avro.Union:
		for _, rb := range reader.(*avro.UnionSchema).Types() {
			if len(c.check("", rb, writer, nil).problems) == 0 {
				return nil
			}
		}
		return []avroProblem{{"MISSING_UNION_BRANCH", path,
			fmt.Sprintf("the reader's union has no branch that can read the writer's %s", typeName(writer))}}
	}
	return mismatch()
}

// checkNames is Java's schemaNameEquals: the unqualified names are equal, or a reader alias is the
// writer's full name.
func checkNames(reader, writer avro.NamedSchema, loc []string) []avroProblem {
	if reader.Name() == writer.Name() || slices.Contains(reader.Aliases(), writer.FullName()) {
		return nil
	}
	return []avroProblem{{"NAME_MISMATCH", avroPath(append(slices.Clip(loc), "name")),
		fmt.Sprintf("the reader's %s %s does not match the writer's %s (name or reader alias)", reader.Type(), reader.FullName(), writer.FullName())}}
}

func (c *avroChecker) checkFields(reader, writer *avro.RecordSchema, loc []string) []avroProblem {
	var p []avroProblem
	loc = append(slices.Clip(loc), "fields")
	byName := make(map[string]*avro.Field, len(writer.Fields()))
	for _, wf := range writer.Fields() {
		byName[wf.Name()] = wf
	}
	for i, rf := range reader.Fields() {
		floc := append(slices.Clip(loc), strconv.Itoa(i))
		var matches []*avro.Field
		for _, name := range append([]string{rf.Name()}, rf.Aliases()...) {
			if wf, ok := byName[name]; ok {
				matches = append(matches, wf)
			}
		}
		switch {
		case len(matches) > 1:
			p = append(p, avroProblem{"READER_FIELD_AMBIGUOUS", avroPath(floc),
				fmt.Sprintf("field %q matches %d fields of the writer's record %s by name and aliases", rf.Name(), len(matches), writer.FullName())})
		case len(matches) == 1:
			p = append(p, c.check("type", rf.Type(), matches[0].Type(), floc).problems...)
		case rf.HasDefault():
		default:
			if e, ok := deref(rf.Type()).(*avro.EnumSchema); ok && e.HasDefault() {
				// Java checks the field's enum against the writer record itself here (always a mismatch).
				p = append(p, c.check("type", e, writer, floc).problems...)
				continue
			}
			p = append(p, avroProblem{"READER_FIELD_MISSING_DEFAULT_VALUE", avroPath(floc),
				fmt.Sprintf("field %q is not in the writer's record %s and has no default", rf.Name(), writer.FullName())})
		}
	}
	return p
}
