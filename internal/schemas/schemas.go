// Package schemas parses Avro, JSON Schema and Protobuf schemas and checks whether one version of a schema
// is compatible with others, by the rules Confluent's Schema Registry applies (Apache Avro's reader/writer
// rules for AVRO, Confluent's documented rules for JSON and PROTOBUF). It is a library: the schema
// registry, the CLI and the TUI use it; it runs nothing.
package schemas

import (
	"errors"
	"fmt"
	"strings"
)

// Type is a schema type as the registry names it.
type Type string

// The schema types.
const (
	Avro     Type = "AVRO"
	JSON     Type = "JSON"
	Protobuf Type = "PROTOBUF"
)

// Types are the schema types in the order GET /schemas/types lists them.
var Types = []Type{JSON, Protobuf, Avro}

// ParseType reads a schema type; "" is AVRO (the registry's default).
func ParseType(s string) (Type, error) {
	switch t := Type(strings.ToUpper(s)); t {
	case "":
		return Avro, nil
	case Avro, JSON, Protobuf:
		return t, nil
	}
	return "", fmt.Errorf("unknown schema type %q: want AVRO, JSON or PROTOBUF", s)
}

// Level is a compatibility level.
type Level string

// The seven compatibility levels.
const (
	None               Level = "NONE"
	Backward           Level = "BACKWARD"
	BackwardTransitive Level = "BACKWARD_TRANSITIVE"
	Forward            Level = "FORWARD"
	ForwardTransitive  Level = "FORWARD_TRANSITIVE"
	Full               Level = "FULL"
	FullTransitive     Level = "FULL_TRANSITIVE"
)

// Levels lists every level.
var Levels = []Level{None, Backward, BackwardTransitive, Forward, ForwardTransitive, Full, FullTransitive}

// ParseLevel reads a compatibility level (case-insensitive).
func ParseLevel(s string) (Level, error) {
	l := Level(strings.ToUpper(strings.TrimSpace(s)))
	for _, k := range Levels {
		if l == k {
			return l, nil
		}
	}
	return "", fmt.Errorf("invalid compatibility level %q: want one of NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE", s)
}

// Reference is a schema that another one uses: Name is how the referring schema names it (an Avro
// type's full name, a JSON Schema $ref URL, a .proto import path); Subject and Version say which
// registered schema it is.
type Reference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// Schema is a schema as it is registered: its type, text and references, with the referenced schemas'
// texts resolved.
type Schema struct {
	Type       Type
	Text       string
	References []Reference
	// Deps holds, by Reference.Name, every schema reachable through References (transitively, flattened):
	// the caller (the registry) resolves them.
	Deps map[string]string
}

// Parsed is a schema that parsed. The concrete types are *AvroSchema, *JSONSchema and *ProtoSchema.
type Parsed interface {
	Type() Type
	// Canonical is the form two registrations are compared in to find an already registered schema
	// (insignificant whitespace and key order removed; nothing with meaning dropped).
	Canonical() string
	// Normalized is the form ?normalize=true registers and compares.
	Normalized() string
}

// ParseError is a schema that does not parse. Line and Col (1-based) say where, when the parser knows; 0
// when it does not.
type ParseError struct {
	Line, Col int
	Msg       string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg)
	}
	return e.Msg
}

// ErrUnresolved is wrapped by Parse's error when a reference is missing from Schema.Deps.
var ErrUnresolved = errors.New("unresolved reference")

// Parse parses s with its dependencies. Errors are *ParseError (or wrap ErrUnresolved).
func Parse(s Schema) (Parsed, error) {
	switch s.Type {
	case Avro, "":
		return parseAvro(s)
	case JSON:
		return parseJSON(s)
	case Protobuf:
		return parseProto(s)
	}
	return nil, &ParseError{Msg: fmt.Sprintf("unknown schema type %q", s.Type)}
}

// Check says why candidate may not be registered after existing (oldest first) under level: one message
// per incompatibility, none when it is compatible. BACKWARD: candidate (the reader) reads data written
// with the latest existing; FORWARD: the latest reads data written with candidate; FULL: both. The
// _TRANSITIVE levels check against every existing version, the others against the latest only.
func Check(level Level, candidate Parsed, existing []Parsed) []string {
	if level == None || len(existing) == 0 {
		return nil
	}
	against := existing[len(existing)-1:]
	if strings.HasSuffix(string(level), "_TRANSITIVE") {
		against = existing
	}
	var msgs []string
	for i := len(against) - 1; i >= 0; i-- {
		old := against[i]
		if old.Type() != candidate.Type() {
			msgs = append(msgs, fmt.Sprintf("schema type %s differs from the existing version's %s", candidate.Type(), old.Type()))
			continue
		}
		switch level {
		case Backward, BackwardTransitive:
			msgs = append(msgs, compatible(candidate, old)...)
		case Forward, ForwardTransitive:
			msgs = append(msgs, compatible(old, candidate)...)
		case Full, FullTransitive:
			msgs = append(msgs, compatible(candidate, old)...)
			msgs = append(msgs, compatible(old, candidate)...)
		}
	}
	return msgs
}

// compatible says why data written with writer cannot be read with reader (same type).
func compatible(reader, writer Parsed) []string {
	switch r := reader.(type) {
	case *AvroSchema:
		return avroCompatible(r, writer.(*AvroSchema))
	case *JSONSchema:
		return jsonCompatible(r, writer.(*JSONSchema))
	case *ProtoSchema:
		return protoCompatible(r, writer.(*ProtoSchema))
	}
	return []string{fmt.Sprintf("unknown schema type %T", reader)}
}
