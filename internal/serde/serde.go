// Package serde reads and writes records in Confluent's Schema Registry wire format: a magic byte 0, the
// schema id as 4 big-endian bytes, for Protobuf the message-index list, then the payload (Avro binary,
// JSON text, or a Protobuf message). Decode turns such a record into JSON (Avro's JSON encoding for Avro)
// and says which subject, version and id it was written with; Encode turns JSON into a framed record,
// refusing input that does not match the schema with the path of the first mismatch. Registry is a small
// caching client of the registry's REST API that resolves ids and subjects. It is a library: the CLI and
// the TUI use it; it runs nothing.
package serde

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/devstack-dev/devstack/internal/schemas"
)

// Info says what a record was (or is to be) written with.
type Info struct {
	Subject string       `json:"subject,omitempty"`
	Version int          `json:"version,omitempty"`
	ID      int          `json:"id"`
	Type    schemas.Type `json:"type,omitempty"`
	// Message is the Protobuf message's full name; "" for other types.
	Message string `json:"message,omitempty"`
}

// SubjectVersion is one registration of a schema.
type SubjectVersion struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// Resolved is a registered schema, parsed.
type Resolved struct {
	ID         int
	Type       schemas.Type
	Text       string
	References []schemas.Reference
	// Subject and Version are set when the schema was asked for by subject.
	Subject string
	Version int
	// Versions are where the schema is registered (when asked for by id; may be empty if the registry
	// does not say).
	Versions []SubjectVersion
	Parsed   schemas.Parsed
}

// Lookup finds a registered schema by id. It returns an error wrapping ErrUnknownID when the registry
// does not know id.
type Lookup interface {
	ByID(ctx context.Context, id int) (*Resolved, error)
}

// ErrNotFramed is returned by Decode for a record that is not in the wire format (no magic byte 0 and
// 4-byte id): it is plain bytes.
var ErrNotFramed = errors.New("not in the schema registry's wire format")

// ErrUnknownID is wrapped by Decode's error when the registry does not know the record's schema id.
var ErrUnknownID = errors.New("schema id unknown to the registry")

// maxIndexes bounds the Protobuf message-index list read from a record (nesting deeper than this is
// not a real schema).
const maxIndexes = 64

var header sr.ConfluentHeader

// Frame is a record's wire-format header.
type Frame struct {
	ID int
	// Indexes is the Protobuf message-index list (nil for other types; read only by ParseFrame with
	// proto=true).
	Indexes []int
	// Payload is what follows the header.
	Payload []byte
}

// ParseFrame splits b into its header and payload. With proto, the message-index list is read too
// (zigzag varints: a count, then the indexes; a single 0 means [0]). It returns ErrNotFramed when b is
// not framed.
func ParseFrame(b []byte, proto bool) (Frame, error) {
	id, rest, err := header.DecodeID(b)
	if err != nil {
		return Frame{}, ErrNotFramed
	}
	f := Frame{ID: id, Payload: rest}
	if proto {
		idx, rest, err := header.DecodeIndex(rest, maxIndexes)
		if err != nil {
			return Frame{}, fmt.Errorf("schema id %d: bad Protobuf message-index list: %w", id, err)
		}
		for _, i := range idx {
			if i < 0 {
				return Frame{}, fmt.Errorf("schema id %d: bad Protobuf message-index list: negative index %d", id, i)
			}
		}
		f.Indexes, f.Payload = idx, rest
	}
	return f, nil
}

// AppendFrame appends the wire-format header for id (and Protobuf message indexes, when not nil) to b.
func AppendFrame(b []byte, id int, indexes []int) []byte {
	b, _ = header.AppendEncode(b, id, indexes)
	return b
}

// Decoded is a decoded record value.
type Decoded struct {
	JSON []byte
	Info Info
}

// Decode reads a framed record with the schema its id names and returns it as JSON. prefer is the
// subject to report when the schema is registered under several (a topic's `<topic>-value`); any
// registration otherwise. Errors: ErrNotFramed for unframed bytes, one wrapping ErrUnknownID for an id
// the registry does not know, others when the payload does not decode with its schema.
func Decode(ctx context.Context, lk Lookup, data []byte, prefer string) (Decoded, error) {
	id, _, err := header.DecodeID(data)
	if err != nil {
		return Decoded{}, ErrNotFramed
	}
	r, err := lk.ByID(ctx, id)
	if err != nil {
		return Decoded{Info: Info{ID: id}}, err
	}
	return DecodeWith(r, data, prefer)
}

// DecodeWith decodes the framed data with r (which must be the schema of data's id).
func DecodeWith(r *Resolved, data []byte, prefer string) (Decoded, error) {
	info := Info{ID: r.ID, Type: r.Type, Subject: r.Subject, Version: r.Version}
	if info.Subject == "" && len(r.Versions) > 0 {
		sv := r.Versions[0]
		for _, v := range r.Versions {
			if v.Subject == prefer {
				sv = v
				break
			}
		}
		info.Subject, info.Version = sv.Subject, sv.Version
	}
	f, err := ParseFrame(data, r.Type == schemas.Protobuf)
	if err != nil {
		return Decoded{Info: info}, err
	}
	if f.ID != r.ID {
		return Decoded{Info: info}, fmt.Errorf("record has schema id %d, not %d", f.ID, r.ID)
	}
	var out []byte
	switch s := r.Parsed.(type) {
	case *schemas.AvroSchema:
		out, err = avroToJSON(s.Schema, f.Payload)
	case *schemas.JSONSchema:
		out, err = jsonPayload(f.Payload)
	case *schemas.ProtoSchema:
		var name string
		out, name, err = protoToJSON(s, f.Indexes, f.Payload)
		info.Message = name
	default:
		err = fmt.Errorf("schema id %d: type %s cannot be decoded", r.ID, r.Type)
	}
	if err != nil {
		return Decoded{Info: info}, fmt.Errorf("decode with schema id %d (%s): %w", r.ID, r.Type, err)
	}
	return Decoded{JSON: out, Info: info}, nil
}

// MismatchError is JSON input that does not match the schema: Path is where (`$.items[2].price`).
type MismatchError struct {
	Path string
	Msg  string
}

func (e *MismatchError) Error() string { return e.Path + ": " + e.Msg }

// Encode turns the JSON text in into a framed record for r. For Protobuf, message names the message
// type (its full or short name); "" is the file's first message. Input that does not match is refused
// with a *MismatchError (or, for Protobuf, the JSON parser's error).
func Encode(r *Resolved, in []byte, message string) ([]byte, error) {
	in = bytes.TrimSpace(in)
	if !json.Valid(in) {
		return nil, fmt.Errorf("not valid JSON: %w", jsonSyntaxError(in))
	}
	switch s := r.Parsed.(type) {
	case *schemas.AvroSchema:
		return avroFromJSON(s.Schema, in, AppendFrame(nil, r.ID, nil))
	case *schemas.JSONSchema:
		if err := validateJSON(s, in); err != nil {
			return nil, err
		}
		return append(AppendFrame(nil, r.ID, nil), in...), nil
	case *schemas.ProtoSchema:
		return protoFromJSON(s, message, in, r.ID)
	}
	return nil, fmt.Errorf("schema id %d: type %s cannot be encoded", r.ID, r.Type)
}

func jsonSyntaxError(in []byte) error {
	var v any
	err := json.Unmarshal(in, &v)
	if err == nil {
		return errors.New("empty input")
	}
	return err
}

// jsonPayload checks that a JSON Schema record's payload is JSON and returns it.
func jsonPayload(p []byte) ([]byte, error) {
	t := bytes.TrimSpace(p)
	if !json.Valid(t) {
		return nil, errors.New("payload is not JSON")
	}
	return t, nil
}

// String is "subject orders-value version 2, id 7, AVRO" (what is known of it).
func (i Info) String() string {
	var parts []string
	if i.Subject != "" {
		parts = append(parts, fmt.Sprintf("subject %s version %d", i.Subject, i.Version))
	}
	parts = append(parts, fmt.Sprintf("id %d", i.ID))
	if i.Type != "" {
		parts = append(parts, string(i.Type))
	}
	if i.Message != "" {
		parts = append(parts, "message "+i.Message)
	}
	return strings.Join(parts, ", ")
}

// Info is what r says about itself.
func (r *Resolved) Info() Info {
	return Info{Subject: r.Subject, Version: r.Version, ID: r.ID, Type: r.Type}
}
