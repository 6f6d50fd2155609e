package schemas

// STUBS: the slices that implement AVRO (avro.go) and JSON/PROTOBUF (json.go, proto.go) replace this file's
// parts. Delete what you implement.

import "github.com/hamba/avro/v2"

// AvroSchema is a parsed Avro schema.
type AvroSchema struct {
	// Schema is hamba/avro's parsed schema (what serializers use).
	Schema avro.Schema
}

func (*AvroSchema) Type() Type           { return Avro }
func (s *AvroSchema) Canonical() string  { panic("todo") }
func (s *AvroSchema) Normalized() string { panic("todo") }

func parseAvro(Schema) (*AvroSchema, error)              { panic("todo") }
func avroCompatible(reader, writer *AvroSchema) []string { panic("todo") }
