package serde

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// checkProtoJSON walks the JSON text in against md (protobuf's JSON mapping) and returns the first
// mismatch with its path; protojson's own errors do not say where.
func checkProtoJSON(md protoreflect.MessageDescriptor, in []byte) error {
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	return checkMessage(md, v, "$")
}

func checkMessage(md protoreflect.MessageDescriptor, v any, path string) error {
	if strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return nil // well-known types have their own JSON forms: protojson checks them
	}
	if v == nil {
		return nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return mismatch(path, "want message %s (an object), got %s", md.FullName(), jsonKind(v))
	}
	fields := md.Fields()
	for k, fv := range obj {
		fd := fields.ByJSONName(k)
		if fd == nil {
			fd = fields.ByTextName(k)
		}
		if fd == nil {
			return mismatch(fieldPath(path, k), "message %s has no field %q", md.FullName(), k)
		}
		if err := checkField(fd, fv, fieldPath(path, k)); err != nil {
			return err
		}
	}
	return nil
}

func checkField(fd protoreflect.FieldDescriptor, v any, path string) error {
	if v == nil {
		return nil // null is the default
	}
	switch {
	case fd.IsMap():
		obj, ok := v.(map[string]any)
		if !ok {
			return mismatch(path, "want map (an object), got %s", jsonKind(v))
		}
		for k, mv := range obj {
			if err := checkSingular(fd.MapValue(), mv, fieldPath(path, k)); err != nil {
				return err
			}
		}
		return nil
	case fd.IsList():
		arr, ok := v.([]any)
		if !ok {
			return mismatch(path, "want repeated %s (an array), got %s", kindName(fd), jsonKind(v))
		}
		for i, item := range arr {
			if err := checkSingular(fd, item, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	}
	return checkSingular(fd, v, path)
}

func kindName(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return string(fd.Message().FullName())
	case protoreflect.EnumKind:
		return string(fd.Enum().FullName())
	}
	return fd.Kind().String()
}

func checkSingular(fd protoreflect.FieldDescriptor, v any, path string) error {
	want := func() error { return mismatch(path, "want %s, got %s", kindName(fd), jsonKind(v)) }
	num := func() (string, bool) {
		switch v := v.(type) {
		case json.Number:
			return v.String(), true
		case string:
			return v, true
		}
		return "", false
	}
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return checkMessage(fd.Message(), v, path)
	case protoreflect.BoolKind:
		if _, ok := v.(bool); !ok {
			return want()
		}
	case protoreflect.StringKind, protoreflect.BytesKind:
		if _, ok := v.(string); !ok {
			return want()
		}
	case protoreflect.EnumKind:
		switch v := v.(type) {
		case string:
			if fd.Enum().Values().ByName(protoreflect.Name(v)) == nil {
				return mismatch(path, "%q is not a value of enum %s", v, fd.Enum().FullName())
			}
		case json.Number:
			if _, err := strconv.ParseInt(v.String(), 10, 32); err != nil {
				return want()
			}
		default:
			return want()
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		s, ok := num()
		if !ok {
			return want()
		}
		if s != "NaN" && s != "Infinity" && s != "-Infinity" {
			if f, err := strconv.ParseFloat(s, 64); err != nil || (fd.Kind() == protoreflect.FloatKind && math.Abs(f) > math.MaxFloat32) {
				return want()
			}
		}
	default: // integers
		s, ok := num()
		if !ok {
			return want()
		}
		bits := 64
		switch fd.Kind() {
		case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind, protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
			bits = 32
		}
		unsigned := fd.Kind() == protoreflect.Uint32Kind || fd.Kind() == protoreflect.Fixed32Kind ||
			fd.Kind() == protoreflect.Uint64Kind || fd.Kind() == protoreflect.Fixed64Kind
		var err error
		if unsigned {
			_, err = strconv.ParseUint(s, 10, bits)
		} else {
			_, err = strconv.ParseInt(s, 10, bits)
		}
		if err != nil {
			// protojson also takes integral floats like 1e3 and 5.0
			f, ferr := strconv.ParseFloat(s, 64)
			if ferr != nil || f != math.Trunc(f) {
				return want()
			}
		}
	}
	return nil
}
