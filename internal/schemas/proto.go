package schemas

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// ProtoSchema is a parsed .proto file with its imports.
type ProtoSchema struct {
	// File is the compiled file (its messages in declaration order are what Confluent's message indexes
	// point into).
	File linker.File

	canonical  string
	normalized string
	// fromDescriptor: the schema was a base64 FileDescriptorProto, whose map entries are messages
	// Confluent's message indexes count.
	fromDescriptor bool
}

// Type is PROTOBUF.
func (*ProtoSchema) Type() Type { return Protobuf }

// Canonical is the compiled file's descriptor (google.protobuf.FileDescriptorProto, without source
// locations and comments) printed as compact protojson: two texts differing only in whitespace,
// comments or the spelling of type references (relative or fully qualified) have the same one.
func (s *ProtoSchema) Canonical() string { return s.canonical }

// Normalized is Canonical with each message's fields in field-number order and the imports sorted
// (declaration order of messages and enums is kept: message indexes point into it).
func (s *ProtoSchema) Normalized() string { return s.normalized }

// protoMainName is the file name the schema is compiled as (errors say "line:col" without it).
const protoMainName = "schema.proto"

// parseProto compiles s.Text as one .proto file; its imports resolve to s.Deps (import path → text)
// and to the standard google/protobuf files, never to the disk. The schema and its references may
// also be base64-encoded FileDescriptorProtos (as Confluent's registry accepts).
func parseProto(s Schema) (p *ProtoSchema, err error) {
	name := protoMainName
	for i := 1; s.Deps[name] != ""; i++ {
		name = "schema" + strconv.Itoa(i) + ".proto"
	}
	srcs := map[string]string{name: s.Text}
	for k, v := range s.Deps {
		if k != name {
			srcs[k] = v
		}
	}
	resolver := protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
		src, ok := srcs[path]
		if !ok {
			return protocompile.SearchResult{}, fmt.Errorf("%w: import %q is not one of the schema's references", ErrUnresolved, path)
		}
		if fdp := base64Descriptor(src); fdp != nil {
			fdp.Name = proto.String(path)
			return protocompile.SearchResult{Proto: fdp}, nil
		}
		return protocompile.SearchResult{Source: strings.NewReader(src)}, nil
	})
	c := protocompile.Compiler{
		Resolver:       protocompile.WithStandardImports(resolver),
		MaxParallelism: 1,
		Reporter:       reporter.NewReporter(nil, nil),
	}
	defer func() {
		// The compiler is a third-party library fed user input: a panic in it is a schema we cannot
		// parse, never a crashed registry.
		if r := recover(); r != nil {
			p, err = nil, &ParseError{Msg: fmt.Sprintf("invalid Protobuf schema: %v", r)}
		}
	}()
	files, err := c.Compile(context.Background(), name)
	if err != nil {
		return nil, protoError(name, err)
	}
	f := files[0]
	canon, norm, err := protoCanonical(f)
	if err != nil {
		return nil, &ParseError{Msg: err.Error()}
	}
	return &ProtoSchema{File: f, canonical: canon, normalized: norm, fromDescriptor: base64Descriptor(s.Text) != nil}, nil
}

// base64Descriptor is text as a base64-encoded google.protobuf.FileDescriptorProto (the form
// Confluent's registry also accepts, and confluent-kafka-python's serializer registers), or nil when
// it is not one.
func base64Descriptor(text string) *descriptorpb.FileDescriptorProto {
	text = strings.TrimSpace(text)
	if text == "" || strings.ContainsAny(text, " \t\r\n\";{}") {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil
	}
	fdp := &descriptorpb.FileDescriptorProto{}
	if err := proto.Unmarshal(b, fdp); err != nil {
		return nil
	}
	// protoc always sets json_name; a hand-made descriptor may not (the linker would read "" as a
	// custom name).
	var fill func(ms []*descriptorpb.DescriptorProto)
	fill = func(ms []*descriptorpb.DescriptorProto) {
		for _, m := range ms {
			for _, f := range m.Field {
				if f.JsonName == nil {
					f.JsonName = proto.String(defaultJSONName(f.GetName()))
				}
			}
			fill(m.NestedType)
		}
	}
	fill(fdp.MessageType)
	return fdp
}

// protoError turns the compiler's error into a *ParseError (with the line and column when it is in
// the schema's own text) or an error wrapping ErrUnresolved.
func protoError(name string, err error) error {
	var pe protocompile.PanicError
	if errors.As(err, &pe) {
		return &ParseError{Msg: fmt.Sprintf("invalid Protobuf schema: %v", pe.Value)}
	}
	var ewp reporter.ErrorWithPos
	if errors.As(err, &ewp) {
		pos := ewp.GetPosition()
		msg := ewp.Unwrap().Error()
		if errors.Is(err, ErrUnresolved) {
			if pos.Filename == name {
				return fmt.Errorf("%d:%d: %w", pos.Line, pos.Col, errors.Unwrap(ewp))
			}
			return fmt.Errorf("reference %q: %w", pos.Filename, errors.Unwrap(ewp))
		}
		if pos.Filename != name {
			return &ParseError{Msg: fmt.Sprintf("reference %q: %d:%d: %s", pos.Filename, pos.Line, pos.Col, msg)}
		}
		return &ParseError{Line: pos.Line, Col: pos.Col, Msg: msg}
	}
	if errors.Is(err, ErrUnresolved) {
		return err
	}
	return &ParseError{Msg: "invalid Protobuf schema: " + strings.ReplaceAll(err.Error(), name+": ", "")}
}

func protoCanonical(f linker.File) (canon, norm string, err error) {
	fdp := protodesc.ToFileDescriptorProto(f)
	fdp.SourceCodeInfo = nil
	fdp.Name = proto.String(protoMainName)
	// json_name as the compiler derives it from the name is noise (a descriptor serialized by protoc
	// leaves it out, a compiled text has it): keep only a json_name the schema chose.
	var dropJSONNames func(ms []*descriptorpb.DescriptorProto)
	dropJSONNames = func(ms []*descriptorpb.DescriptorProto) {
		for _, m := range ms {
			for _, f := range m.Field {
				if f.GetJsonName() == defaultJSONName(f.GetName()) {
					f.JsonName = nil
				}
			}
			dropJSONNames(m.NestedType)
		}
	}
	dropJSONNames(fdp.MessageType)
	canon, err = compactProtoJSON(fdp)
	if err != nil {
		return "", "", err
	}
	n := proto.Clone(fdp).(*descriptorpb.FileDescriptorProto)
	sort.Strings(n.Dependency)
	n.PublicDependency, n.WeakDependency = nil, nil
	var sortFields func(m *descriptorpb.DescriptorProto)
	sortFields = func(m *descriptorpb.DescriptorProto) {
		slices.SortStableFunc(m.Field, func(a, b *descriptorpb.FieldDescriptorProto) int {
			return int(a.GetNumber()) - int(b.GetNumber())
		})
		for _, nm := range m.NestedType {
			sortFields(nm)
		}
	}
	for _, m := range n.MessageType {
		sortFields(m)
	}
	norm, err = compactProtoJSON(n)
	return canon, norm, err
}

// defaultJSONName is protoc's JSON name for a field: lowerCamelCase of its name.
func defaultJSONName(name string) string {
	var b strings.Builder
	up := false
	for _, r := range name {
		switch {
		case r == '_':
			up = true
		case up && 'a' <= r && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
			up = false
		default:
			b.WriteRune(r)
			up = false
		}
	}
	return b.String()
}

// compactProtoJSON is protojson without the whitespace protojson varies on purpose.
func compactProtoJSON(m proto.Message) (string, error) {
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return "", err
	}
	return out.String(), nil
}

// MessageByIndexes is the message Confluent's message indexes point to: the first index into the
// file's top-level messages, each next one into the previous message's nested messages. As in
// Confluent's registry, the entry messages of map fields count only when the schema was registered
// as a descriptor (base64), where they are nested messages; a .proto text has none. No indexes is the
// first message (the wire format's shorthand for [0]).
func (s *ProtoSchema) MessageByIndexes(idx []int) (protoreflect.MessageDescriptor, error) {
	if len(idx) == 0 {
		idx = []int{0}
	}
	msgs := s.indexed(s.File.Messages())
	var md protoreflect.MessageDescriptor
	for i, n := range idx {
		if n < 0 || n >= len(msgs) {
			where := "the schema"
			if md != nil {
				where = string(md.FullName())
			}
			return nil, fmt.Errorf("message index %d (position %d of %v) is out of range: %s has %d messages", n, i, idx, where, len(msgs))
		}
		md = msgs[n]
		msgs = s.indexed(md.Messages())
	}
	return md, nil
}

// Indexes are the message indexes (see MessageByIndexes) of the message named fullName (with or
// without the package).
func (s *ProtoSchema) Indexes(fullName string) ([]int, error) {
	name := protoreflect.FullName(strings.TrimPrefix(fullName, "."))
	d := s.File.FindDescriptorByName(name)
	if d == nil && s.File.Package() != "" {
		d = s.File.FindDescriptorByName(s.File.Package() + "." + name)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok || md.IsMapEntry() {
		return nil, fmt.Errorf("no message %q in the schema", fullName)
	}
	var idx []int
	for {
		var siblings []protoreflect.MessageDescriptor
		parent, ok := md.Parent().(protoreflect.MessageDescriptor)
		if ok {
			siblings = s.indexed(parent.Messages())
		} else {
			siblings = s.indexed(s.File.Messages())
		}
		i := slices.IndexFunc(siblings, func(m protoreflect.MessageDescriptor) bool { return m.FullName() == md.FullName() })
		idx = append(idx, i)
		if !ok {
			break
		}
		md = parent
	}
	slices.Reverse(idx)
	return idx, nil
}

// indexed are the messages of ms message indexes count (see MessageByIndexes).
func (s *ProtoSchema) indexed(ms protoreflect.MessageDescriptors) []protoreflect.MessageDescriptor {
	out := make([]protoreflect.MessageDescriptor, 0, ms.Len())
	for i := 0; i < ms.Len(); i++ {
		if m := ms.Get(i); s.fromDescriptor || !m.IsMapEntry() {
			out = append(out, m)
		}
	}
	return out
}
