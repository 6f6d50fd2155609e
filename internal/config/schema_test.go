package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	yaml "github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

const schemaFile = "../../schemas/devstack.schema.json"

func TestSchemaIsCurrent(t *testing.T) {
	got, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v: run go run ./cmd/devstack schema > schemas/devstack.schema.json", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("schemas/devstack.schema.json is out of date with internal/config/types.go: run\n" +
			"  go run ./cmd/devstack schema > schemas/devstack.schema.json\nand commit the result")
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("devstack.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("devstack.schema.json")
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	return s
}

// yamlToInstance turns YAML into the JSON value a schema validator sees (as an editor would).
func yamlToInstance(t *testing.T, src []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatal(err)
	}
	if v == nil {
		v = map[string]any{}
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// Every valid test file must satisfy the schema, so editors never flag a file devstack accepts.
func TestSchemaAcceptsValidConfigs(t *testing.T) {
	s := compileSchema(t)
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(src), "${") && !strings.Contains(f, "full") {
			continue // unexpanded ${VAR} in a number field is not something the schema can know
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			if err := s.Validate(yamlToInstance(t, src)); err != nil {
				t.Errorf("schema rejects a valid config: %v", err)
			}
		})
	}
}

func TestSchemaRejects(t *testing.T) {
	s := compileSchema(t)
	for _, src := range []string{
		"servcies: {}\n",
		"services:\n  api:\n    comand: x\n",
		"services:\n  api: {}\n",
		"services:\n  Bad_Name:\n    command: x\n",
		"services:\n  api:\n    command: x\n    replicas: many\n",
		"services:\n  api:\n    command: x\n    restart: sometimes\n",
		"services:\n  api:\n    command: x\n    database: 42\n",
		"services:\n  api:\n    command: x\n    depends_on: {db: {condition: ready}}\n",
		"gateway:\n  routes: [{path: api, service: x}]\n",
		"gateway:\n  routes: [{path: /, service: x, auth: maybe}]\n",
		"gateway:\n  rate_limit: {requests: 0}\n",
		"gateway:\n  rate_limit: {requests: 1, key: cookie}\n",
		"broker:\n  retention: {time: forever}\n",
	} {
		if err := s.Validate(yamlToInstance(t, []byte(src))); err == nil {
			t.Errorf("schema accepts %q", src)
		}
	}
}
