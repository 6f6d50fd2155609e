package config

import (
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/devstack-dev/devstack/internal/schemas"
)

// compatibilityLevels are the values of registry.compatibility and registry.subjects.NAME.compatibility:
// the registry's seven levels (internal/schemas owns the list).
var compatibilityLevels = func() []string {
	out := make([]string, len(schemas.Levels))
	for i, l := range schemas.Levels {
		out[i] = string(l)
	}
	return out
}()

// schemaTypes are the values of registry.subjects.NAME.type.
var schemaTypes = []string{string(schemas.Avro), string(schemas.JSON), string(schemas.Protobuf)}

// schemaExtensions give a subject file's schema type when type: is not written.
var schemaExtensions = map[string]string{".avsc": string(schemas.Avro), ".json": string(schemas.JSON), ".proto": string(schemas.Protobuf)}

// schemaTypeOf is the schema type a file's extension says ("" when it says none).
func schemaTypeOf(file string) string { return schemaExtensions[strings.ToLower(filepath.Ext(file))] }

// maxSubjectLen bounds a subject name (Confluent's registry keeps them in Kafka record keys; no real
// subject comes near).
const maxSubjectLen = 255

// validateRegistry checks the registry section. A subject file's content is not checked here: a file
// being edited may not parse, and that is the registry's refusal (reported while the stack runs), not a
// reason to refuse devstack.yaml.
func validateRegistry(l *loader, c *Config) {
	r := c.Registry
	if r.Enabled != nil && *r.Enabled && !c.BrokerEnabled() {
		l.errf("registry.enabled", "the schema registry keeps its schemas in the broker, which is disabled (broker.enabled: false): enable the broker or remove registry.enabled")
	}
	if r.Port < 0 || r.Port > 65535 {
		l.errf("registry.port", "must be between 0 (a free port) and 65535, got %d", r.Port)
	}
	l.enumLevel(r.Compatibility, "registry.compatibility")
	if len(r.Subjects) > 0 && !c.RegistryEnabled() && c.Registry.Enabled != nil && l.has("registry.enabled") {
		l.warnAt(l.where("registry.subjects"), "registry.subjects", "the registry is disabled (registry.enabled: false): these subjects are not registered")
	}
	for _, name := range sortedKeys(r.Subjects) {
		s := r.Subjects[name]
		sp := join("registry.subjects", name)
		if strings.TrimSpace(name) == "" || len(name) > maxSubjectLen || strings.IndexFunc(name, unicode.IsControl) >= 0 {
			l.keyErrf(sp, "invalid subject name: use printable characters, at most %d (e.g. orders.placed-value)", maxSubjectLen)
		}
		switch {
		case s.File == "":
			if !l.hasErrAt(sp + ".file") {
				l.keyErrf(sp+".file", "is required: the schema file (.avsc, .json or .proto) relative to devstack.yaml")
			}
		default:
			switch st, err := os.Stat(s.File); {
			case err != nil:
				l.errf(sp+".file", "file %s does not exist", l.show(s.File))
			case !st.Mode().IsRegular():
				l.errf(sp+".file", "%s is not a regular file: name the schema file", l.show(s.File))
			}
		}
		switch {
		case l.has(sp + ".type"):
			l.enum(s.Type, schemaTypes, sp+".type")
		case s.File != "" && s.Type == "":
			l.errf(sp+".file", "cannot tell the schema type of %s from its extension: name it .avsc (AVRO), .json (JSON) or .proto (PROTOBUF), or add type: AVRO, JSON or PROTOBUF", filepath.Base(s.File))
		}
		if s.Compatibility != "" || l.has(sp+".compatibility") {
			l.enumLevel(s.Compatibility, sp+".compatibility")
		}
	}
}

// enumLevel reports a compatibility level that is not one of the seven.
func (l *loader) enumLevel(v, path string) {
	if oneOf(v, compatibilityLevels...) {
		return
	}
	l.errf(path, "invalid compatibility level %q: use one of %s", v, strings.Join(compatibilityLevels, ", "))
}
