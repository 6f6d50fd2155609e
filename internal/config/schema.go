package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/invopop/jsonschema"

	"github.com/devstack-dev/devstack/internal/kafkaname"
)

// Schema returns the JSON Schema (draft 2020-12) of devstack.yaml, generated from the structs in
// types.go (yaml key names, jsonschema_description and jsonschema tags), plus the shorthands the
// loader accepts (database: true, restart: always, watch: true, depends_on as a list, env as a
// list of KEY=VALUE). It is committed as schemas/devstack.schema.json; editors use it for
// completion. The loader, not the schema, is the authority: it also checks cross-references,
// cycles, ports and files.
func Schema() ([]byte, error) {
	r := &jsonschema.Reflector{
		FieldNameTag:   "yaml",
		ExpandedStruct: true,
		Mapper:         schemaMapper,
	}
	s := r.Reflect(&Config{})
	s.ID = ""
	s.Title = "devstack.yaml"
	s.Description = "One file describes a devstack: services, broker, postgres, gateway and tests. See docs/config.md."
	if err := patchSchema(s); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("marshal schema: %w", err)
	}
	return buf.Bytes(), nil
}

const (
	durationPattern = `^(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))+$|^[0-9]+(\.[0-9]+)?$`
	sizePattern     = `^[0-9]+(\.[0-9]+)?\s*([kKmMgGtT][iI]?[bB]?|[bB])?$`
)

func schemaMapper(t reflect.Type) *jsonschema.Schema {
	switch t {
	case durationType:
		return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
			{Type: "string", Pattern: durationPattern},
			{Type: "number", Minimum: "0"},
		}, Description: "A duration such as 500ms, 30s, 1m30s or 2h; a bare number means seconds."}
	case byteSizeType:
		return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
			{Type: "string", Pattern: sizePattern},
			{Type: "integer", Minimum: "0"},
		}, Description: "A size such as 512KiB, 10MiB or 1GiB (KB, MB, GB are powers of 1000); a bare number means bytes."}
	}
	return nil
}

func scalarSchema() *jsonschema.Schema {
	return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
		{Type: "string"}, {Type: "number"}, {Type: "boolean"}, {Type: "null"},
	}}
}

func envSchema(desc string) *jsonschema.Schema {
	return &jsonschema.Schema{
		Description: desc,
		OneOf: []*jsonschema.Schema{
			{Type: "object", PropertyNames: &jsonschema.Schema{Pattern: `^[A-Za-z_][A-Za-z0-9_]*$`}, AdditionalProperties: scalarSchema()},
			{Type: "array", Items: &jsonschema.Schema{Type: "string", Pattern: `^[A-Za-z_][A-Za-z0-9_]*=`}},
		},
	}
}

func ref(name string) *jsonschema.Schema { return &jsonschema.Schema{Ref: "#/$defs/" + name} }

func patchSchema(root *jsonschema.Schema) error {
	prop := func(s *jsonschema.Schema, name string) (*jsonschema.Schema, error) {
		if s == nil || s.Properties == nil {
			return nil, fmt.Errorf("schema: no properties")
		}
		p, ok := s.Properties.Get(name)
		if !ok {
			return nil, fmt.Errorf("schema: no property %q", name)
		}
		return p, nil
	}
	set := func(s *jsonschema.Schema, name string, v *jsonschema.Schema) error {
		old, err := prop(s, name)
		if err != nil {
			return err
		}
		if v.Description == "" {
			v.Description = old.Description
		}
		s.Properties.Set(name, v)
		return nil
	}
	def := func(name string) (*jsonschema.Schema, error) {
		d, ok := root.Definitions[name]
		if !ok {
			return nil, fmt.Errorf("schema: no definition %q", name)
		}
		return d, nil
	}
	svc, err := def("Service")
	if err != nil {
		return err
	}
	test, err := def("Test")
	if err != nil {
		return err
	}
	topic, err := def("Topic")
	if err != nil {
		return err
	}
	route, err := def("Route")
	if err != nil {
		return err
	}
	pg, err := def("Postgres")
	if err != nil {
		return err
	}
	broker, err := def("Broker")
	if err != nil {
		return err
	}
	conditions := []any{"started", "healthy", "completed"}
	patches := []struct {
		s    *jsonschema.Schema
		name string
		v    *jsonschema.Schema
	}{
		{root, "env", envSchema("")},
		{svc, "env", envSchema("")},
		{test, "env", envSchema("")},
		{svc, "database", &jsonschema.Schema{OneOf: []*jsonschema.Schema{
			{Type: "boolean"},
			{Type: "string", Pattern: `^[a-z_][a-z0-9_]*$`, MaxLength: ptr(uint64(63))},
		}}},
		{svc, "restart", &jsonschema.Schema{OneOf: []*jsonschema.Schema{
			{Type: "string", Enum: []any{"no", "on-failure", "always"}},
			ref("RestartPolicy"),
		}}},
		{svc, "watch", &jsonschema.Schema{OneOf: []*jsonschema.Schema{{Type: "boolean"}, ref("Watch")}}},
		{svc, "depends_on", &jsonschema.Schema{OneOf: []*jsonschema.Schema{
			{Type: "array", Items: &jsonschema.Schema{Type: "string"}, UniqueItems: true},
			{Type: "object", AdditionalProperties: &jsonschema.Schema{OneOf: []*jsonschema.Schema{
				{Type: "null"},
				{Type: "string", Enum: conditions},
				ref("Dependency"),
			}}},
		}}},
		{topic, "configs", &jsonschema.Schema{Type: "object", AdditionalProperties: scalarSchema()}},
		{route, "claims", &jsonschema.Schema{Type: "object", AdditionalProperties: scalarSchema()}},
		{pg, "version", &jsonschema.Schema{AnyOf: []*jsonschema.Schema{{Type: "string", Pattern: `^[0-9]+(\.[0-9]+){0,2}$`}, {Type: "number"}}}},
	}
	for _, p := range patches {
		if err := set(p.s, p.name, p.v); err != nil {
			return err
		}
	}
	services, err := prop(root, "services")
	if err != nil {
		return err
	}
	services.PropertyNames = &jsonschema.Schema{Pattern: `^[a-z0-9][a-z0-9_-]*$`, MaxLength: ptr(uint64(63))}
	topics, err := prop(broker, "topics")
	if err != nil {
		return err
	}
	topics.PropertyNames = &jsonschema.Schema{Pattern: kafkaname.TopicPattern, MaxLength: ptr(uint64(kafkaname.MaxTopicLen))}
	// x-* keys are allowed everywhere (for YAML anchors), like docker compose's extension fields.
	extensions := func(s *jsonschema.Schema) {
		if s.Type == "object" && s.Properties != nil {
			s.PatternProperties = map[string]*jsonschema.Schema{"^x-": {}}
		}
	}
	extensions(root)
	for _, d := range root.Definitions {
		extensions(d)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
