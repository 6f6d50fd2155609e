package serde

import (
	"bytes"
	"strconv"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/devstack-dev/devstack/internal/schemas"
)

var english = message.NewPrinter(language.English)

// validateJSON checks the JSON text in against s; a mismatch is a *MismatchError at the first failing
// instance location.
func validateJSON(s *schemas.JSONSchema, in []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(in))
	if err != nil {
		return err
	}
	err = s.Schema.Validate(inst)
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return err
	}
	leaf := ve
	for len(leaf.Causes) > 0 {
		leaf = leaf.Causes[0]
	}
	return &MismatchError{Path: instancePath(inst, leaf.InstanceLocation), Msg: leaf.ErrorKind.LocalizedString(english)}
}

// instancePath writes a JSON Pointer's tokens as $.a[2].b, walking inst to tell indexes from names.
func instancePath(inst any, loc []string) string {
	p := "$"
	for _, tok := range loc {
		switch v := inst.(type) {
		case []any:
			p += "[" + tok + "]"
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(v) {
				inst = v[i]
			} else {
				inst = nil
			}
		case map[string]any:
			p = fieldPath(p, tok)
			inst = v[tok]
		default:
			p = fieldPath(p, tok)
			inst = nil
		}
	}
	return p
}
