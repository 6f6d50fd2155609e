package schemas

// STUBS: the slices that implement AVRO (avro.go) and JSON/PROTOBUF (json.go, proto.go) replace this file's
// parts. Delete what you implement.

import (
	"github.com/bufbuild/protocompile/linker"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// JSONSchema is a parsed JSON Schema.
type JSONSchema struct {
	// Schema validates instances.
	Schema *jsonschema.Schema
}

func (*JSONSchema) Type() Type           { return JSON }
func (s *JSONSchema) Canonical() string  { panic("todo") }
func (s *JSONSchema) Normalized() string { panic("todo") }

func parseJSON(Schema) (*JSONSchema, error)              { panic("todo") }
func jsonCompatible(reader, writer *JSONSchema) []string { panic("todo") }

// ProtoSchema is a parsed .proto file with its imports.
type ProtoSchema struct {
	// File is the compiled file (its messages in declaration order are what Confluent's message indexes
	// point into).
	File linker.File
}

func (*ProtoSchema) Type() Type           { return Protobuf }
func (s *ProtoSchema) Canonical() string  { panic("todo") }
func (s *ProtoSchema) Normalized() string { panic("todo") }

func parseProto(Schema) (*ProtoSchema, error)              { panic("todo") }
func protoCompatible(reader, writer *ProtoSchema) []string { panic("todo") }
