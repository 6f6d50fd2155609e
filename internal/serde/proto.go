package serde

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/devstack-dev/devstack/internal/schemas"
)

// findMessage finds a message of fd by full name, or by short name when that is unique; "" is the first.
func findMessage(fd protoreflect.FileDescriptor, name string) (protoreflect.MessageDescriptor, error) {
	if name == "" {
		if fd.Messages().Len() == 0 {
			return nil, errors.New("the schema has no message")
		}
		return fd.Messages().Get(0), nil
	}
	var all []protoreflect.MessageDescriptor
	var walk func(protoreflect.MessageDescriptors)
	walk = func(ms protoreflect.MessageDescriptors) {
		for i := 0; i < ms.Len(); i++ {
			m := ms.Get(i)
			if !m.IsMapEntry() {
				all = append(all, m)
			}
			walk(m.Messages())
		}
	}
	walk(fd.Messages())
	var found []protoreflect.MessageDescriptor
	for _, m := range all {
		if string(m.FullName()) == name || strings.TrimPrefix(string(m.FullName()), string(fd.Package())+".") == name {
			return m, nil
		}
		if string(m.Name()) == name {
			found = append(found, m)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	var names []string
	for _, m := range all {
		names = append(names, string(m.FullName()))
	}
	if len(found) > 1 {
		return nil, fmt.Errorf("message %q is ambiguous: give its full name (one of %s)", name, strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("the schema has no message %q (it has %s)", name, strings.Join(names, ", "))
}

func protoToJSON(s *schemas.ProtoSchema, idx []int, payload []byte) ([]byte, string, error) {
	if s.File == nil {
		return nil, "", errors.New("no compiled .proto file")
	}
	md, err := s.MessageByIndexes(idx)
	if err != nil {
		return nil, "", err
	}
	m := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(payload, m); err != nil {
		return nil, string(md.FullName()), err
	}
	out, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	return out, string(md.FullName()), err
}

func protoFromJSON(s *schemas.ProtoSchema, message string, in []byte, id int) ([]byte, error) {
	if s.File == nil {
		return nil, errors.New("no compiled .proto file")
	}
	md, err := findMessage(s.File, message)
	if err != nil {
		return nil, err
	}
	if err := checkProtoJSON(md, in); err != nil {
		return nil, err
	}
	m := dynamicpb.NewMessage(md)
	if err := (protojson.UnmarshalOptions{}).Unmarshal(in, m); err != nil {
		return nil, fmt.Errorf("does not match message %s: %s", md.FullName(), strings.TrimPrefix(err.Error(), "proto: "))
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	idx, err := s.Indexes(string(md.FullName()))
	if err != nil {
		return nil, err
	}
	return append(AppendFrame(nil, id, idx), b...), nil
}
