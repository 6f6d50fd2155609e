package schemas

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// protoCompatible says why a message written with writer may not be read with reader, by Confluent's
// documented Protobuf rules. Each message is "RULE at Message.field: what changed", RULE named as
// Confluent names it. Compatible (not reported): messages, fields, enums, enum values and oneofs added;
// optional fields removed; fields renamed; scalar kinds changed within a wire-compatible group
// (int32/uint32/int64/uint64/bool/enum; sint32/sint64; fixed32/sfixed32; fixed64/sfixed64;
// string/bytes; float; double); a string/bytes field made repeated or singular; one field moved into
// a new oneof. Incompatible: PACKAGE_CHANGED, SYNTAX_VERSION_CHANGED, MESSAGE_REMOVED,
// FIELD_KIND_CHANGED (scalar/message/map), FIELD_SCALAR_KIND_CHANGED, FIELD_NAMED_TYPE_CHANGED,
// FIELD_NUMERIC_LABEL_CHANGED, REQUIRED_FIELD_ADDED, REQUIRED_FIELD_REMOVED, ONEOF_FIELD_REMOVED,
// MULTIPLE_FIELDS_MOVED_TO_ONEOF, FIELD_MOVED_TO_EXISTING_ONEOF.
func protoCompatible(reader, writer *ProtoSchema) []string {
	r, w := reader.File, writer.File
	c := &protoChecker{seen: map[[2]protoreflect.FullName]bool{}}
	if r.Package() != w.Package() {
		c.add("PACKAGE_CHANGED", "package", "package changed from %q to %q", w.Package(), r.Package())
	}
	if r.Syntax() != w.Syntax() {
		c.add("SYNTAX_VERSION_CHANGED", "syntax", "syntax changed from %s to %s", w.Syntax(), r.Syntax())
	}
	rmsgs := map[string]protoreflect.MessageDescriptor{}
	collectMessages(r.Messages(), string(r.Package()), rmsgs)
	wmsgs := map[string]protoreflect.MessageDescriptor{}
	collectMessages(w.Messages(), string(w.Package()), wmsgs)
	walkMessages(w.Messages(), func(wm protoreflect.MessageDescriptor) {
		name := localName(wm.FullName(), string(w.Package()))
		rm, ok := rmsgs[name]
		if !ok {
			c.add("MESSAGE_REMOVED", name, "message %s is missing from the reader", name)
			return
		}
		c.message(rm, wm)
	})
	return c.msgs
}

type protoChecker struct {
	msgs []string
	// seen holds the (reader, writer) message pairs compared (recursive types end).
	seen map[[2]protoreflect.FullName]bool
}

func (c *protoChecker) add(rule, path, format string, args ...any) {
	c.msgs = append(c.msgs, fmt.Sprintf("%s at %s: %s", rule, path, fmt.Sprintf(format, args...)))
}

func walkMessages(ms protoreflect.MessageDescriptors, fn func(protoreflect.MessageDescriptor)) {
	for i := 0; i < ms.Len(); i++ {
		m := ms.Get(i)
		if m.IsMapEntry() {
			continue
		}
		fn(m)
		walkMessages(m.Messages(), fn)
	}
}

func collectMessages(ms protoreflect.MessageDescriptors, pkg string, out map[string]protoreflect.MessageDescriptor) {
	walkMessages(ms, func(m protoreflect.MessageDescriptor) { out[localName(m.FullName(), pkg)] = m })
}

// localName is a full name without its package.
func localName(n protoreflect.FullName, pkg string) string {
	if pkg != "" {
		return strings.TrimPrefix(string(n), pkg+".")
	}
	return string(n)
}

func msgLocalName(m protoreflect.Descriptor) string {
	return localName(m.FullName(), string(m.ParentFile().Package()))
}

// message compares two messages of the same name (or the types of a field).
func (c *protoChecker) message(r, w protoreflect.MessageDescriptor) {
	key := [2]protoreflect.FullName{r.FullName(), w.FullName()}
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	path := msgLocalName(r)
	rf, wf := r.Fields(), w.Fields()
	// by number (the descriptors' own ByNumber may search linearly: a message with 30,000 fields)
	rnum, wnum := fieldsByNumber(rf), fieldsByNumber(wf)
	for i := 0; i < wf.Len(); i++ {
		f := wf.Get(i)
		fpath := fmt.Sprintf("%s.%s", path, f.Name())
		g := rnum[f.Number()]
		if g == nil {
			switch {
			case f.Cardinality() == protoreflect.Required:
				c.add("REQUIRED_FIELD_REMOVED", fpath, "required field %d is missing from the reader", f.Number())
			case realOneof(f) != nil && r.Oneofs().ByName(realOneof(f).Name()) != nil:
				c.add("ONEOF_FIELD_REMOVED", fpath, "field %d of oneof %s is missing from the reader's oneof", f.Number(), realOneof(f).Name())
			}
			continue // FIELD_REMOVED: compatible
		}
		gpath := fmt.Sprintf("%s.%s", path, g.Name())
		if g.Cardinality() == protoreflect.Required && f.Cardinality() != protoreflect.Required {
			c.add("REQUIRED_FIELD_ADDED", gpath, "field %d became required", g.Number())
		}
		c.field(gpath, g, f)
		if wo := realOneof(f); wo != nil {
			if ro := r.Oneofs().ByName(wo.Name()); ro != nil && realOneof(g) != ro {
				c.add("ONEOF_FIELD_REMOVED", gpath, "field %d moved out of oneof %s", f.Number(), wo.Name())
			}
		}
	}
	for i := 0; i < rf.Len(); i++ {
		g := rf.Get(i)
		if wnum[g.Number()] == nil && g.Cardinality() == protoreflect.Required {
			c.add("REQUIRED_FIELD_ADDED", fmt.Sprintf("%s.%s", path, g.Name()), "required field %d added", g.Number())
		}
	}
	// Fields moved into a oneof.
	ro := r.Oneofs()
	for i := 0; i < ro.Len(); i++ {
		o := ro.Get(i)
		if o.IsSynthetic() {
			continue
		}
		var moved []string
		for j := 0; j < o.Fields().Len(); j++ {
			g := o.Fields().Get(j)
			if f := wnum[g.Number()]; f != nil && realOneof(f) == nil {
				moved = append(moved, string(g.Name()))
			}
		}
		opath := fmt.Sprintf("%s.%s", path, o.Name())
		wo := w.Oneofs().ByName(o.Name())
		switch {
		case len(moved) == 0:
		case wo != nil && !wo.IsSynthetic():
			c.add("FIELD_MOVED_TO_EXISTING_ONEOF", opath, "field(s) %s moved into the existing oneof %s", strings.Join(moved, ", "), o.Name())
		case len(moved) > 1:
			c.add("MULTIPLE_FIELDS_MOVED_TO_ONEOF", opath, "fields %s moved into the new oneof %s", strings.Join(moved, ", "), o.Name())
		}
	}
}

func fieldsByNumber(fs protoreflect.FieldDescriptors) map[protoreflect.FieldNumber]protoreflect.FieldDescriptor {
	m := make(map[protoreflect.FieldNumber]protoreflect.FieldDescriptor, fs.Len())
	for i := 0; i < fs.Len(); i++ {
		m[fs.Get(i).Number()] = fs.Get(i)
	}
	return m
}

func realOneof(f protoreflect.FieldDescriptor) protoreflect.OneofDescriptor {
	if o := f.ContainingOneof(); o != nil && !o.IsSynthetic() {
		return o
	}
	return nil
}

type fieldKind int

const (
	kindScalar fieldKind = iota
	kindMessage
	kindMap
)

func (k fieldKind) String() string {
	return [...]string{"scalar", "message", "map"}[k]
}

func kindOf(f protoreflect.FieldDescriptor) fieldKind {
	switch {
	case f.IsMap():
		return kindMap
	case f.Kind() == protoreflect.MessageKind || f.Kind() == protoreflect.GroupKind:
		return kindMessage
	}
	return kindScalar // enums are varints: Confluent counts them with the scalars
}

// scalarGroup is the wire-compatible group of a scalar (or enum) kind.
func scalarGroup(k protoreflect.Kind) string {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Uint32Kind, protoreflect.Uint64Kind,
		protoreflect.BoolKind, protoreflect.EnumKind:
		return "varint"
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return "zigzag"
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind:
		return "fixed32"
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
		return "fixed64"
	case protoreflect.StringKind, protoreflect.BytesKind:
		return "length-delimited"
	case protoreflect.FloatKind:
		return "float"
	case protoreflect.DoubleKind:
		return "double"
	}
	return k.String()
}

func typeName(f protoreflect.FieldDescriptor) string {
	switch f.Kind() {
	case protoreflect.EnumKind:
		return msgLocalName(f.Enum())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return msgLocalName(f.Message())
	}
	return f.Kind().String()
}

// field compares a reader field with the writer's field of the same number.
func (c *protoChecker) field(path string, g, f protoreflect.FieldDescriptor) {
	rk, wk := kindOf(g), kindOf(f)
	if rk != wk {
		c.add("FIELD_KIND_CHANGED", path, "field %d changed from a %s (%s) to a %s (%s)", g.Number(), wk, typeName(f), rk, typeName(g))
		return
	}
	switch rk {
	case kindScalar:
		if rg, wg := scalarGroup(g.Kind()), scalarGroup(f.Kind()); rg != wg {
			c.add("FIELD_SCALAR_KIND_CHANGED", path, "field %d changed from %s to %s, which is not wire-compatible", g.Number(), typeName(f), typeName(g))
			return
		}
		if g.IsList() != f.IsList() && scalarGroup(g.Kind()) != "length-delimited" {
			c.add("FIELD_NUMERIC_LABEL_CHANGED", path, "numeric field %d changed from %s to %s", g.Number(), label(f), label(g))
		}
	case kindMessage:
		c.named(path, g, f)
	case kindMap:
		c.field(path+".key", g.MapKey(), f.MapKey())
		c.field(path+".value", g.MapValue(), f.MapValue())
	}
}

// named compares the message types of a field: their names without the package must be the same, and
// a type from another file (a reference) is compared as a message.
func (c *protoChecker) named(path string, g, f protoreflect.FieldDescriptor) {
	rm, wm := g.Message(), f.Message()
	if msgLocalName(rm) != msgLocalName(wm) {
		c.add("FIELD_NAMED_TYPE_CHANGED", path, "field %d changed type from %s to %s", g.Number(), msgLocalName(wm), msgLocalName(rm))
		return
	}
	if rm.ParentFile().Path() != g.ParentFile().Path() || wm.ParentFile().Path() != f.ParentFile().Path() {
		n := len(c.msgs)
		c.message(rm, wm)
		if len(c.msgs) > n {
			c.add("FIELD_NAMED_TYPE_CHANGED", path, "the referenced message %s changed incompatibly", msgLocalName(rm))
		}
	}
}

func label(f protoreflect.FieldDescriptor) string {
	if f.IsList() {
		return "repeated"
	}
	return "singular"
}
