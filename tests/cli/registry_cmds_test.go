package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const typedYAML = `name: typed
control: {port: ${CONTROL_PORT}}
broker: {port: ${BROKER_PORT}, persist: false}
registry:
  port: ${REGISTRY_PORT}
  subjects:
    orders-value: {file: schemas/orders.avsc}
`

const typedAvsc = `{"type": "record", "name": "Order", "namespace": "shop", "fields": [
  {"name": "id", "type": "long"},
  {"name": "items", "type": {"type": "array", "items": {"type": "record", "name": "Item", "fields": [
    {"name": "sku", "type": "string"}, {"name": "price", "type": "double"}]}}},
  {"name": "note", "type": ["null", "string"], "default": null}
]}
`

// runIn runs the built devstack in dir with stdin; stdout and stderr apart.
func runIn(t *testing.T, dir, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("devstack %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// What a user does with typed messages beside `devstack up`: produce Avro from JSON with the subject
// devstack.yaml registered, consume it back decoded, get a wrong field refused with its path, and ask
// the registry about subjects, versions and a local file — all found through this directory's stack.
func TestTypedMessagesAndRegistryCommands(t *testing.T) {
	dir, _ := stackDir(t, typedYAML)
	writeFiles(t, dir, map[string]string{"schemas/orders.avsc": typedAvsc})
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	u := startUp(t, dir)
	u.waitFor(t, "schema registry http://", time.Minute)

	out, errOut, code := runIn(t, dir, `{"id": 7, "items": [{"sku": "a", "price": 1.5}], "note": "gift"}`+"\n", "produce", "orders", "--schema")
	if code != 0 || !strings.Contains(errOut, "produced 1 record to orders") {
		t.Fatalf("produce --schema: %d\n%s%s", code, out, errOut)
	}
	_, errOut, code = runIn(t, dir, `{"id": 8, "items": [{"sku": "a", "price": "1.5"}]}`+"\n", "produce", "orders", "--schema")
	if code != 1 || !strings.Contains(errOut, "$.items[0].price: want double, got string") || !strings.Contains(errOut, "subject orders-value version 1") {
		t.Errorf("a wrong field was not refused with its path: %d\n%s", code, errOut)
	}

	out, errOut, code = runIn(t, dir, "", "consume", "orders", "--from-beginning", "-n", "1", "--json")
	var rec struct {
		Value  json.RawMessage `json:"value"`
		Schema struct {
			Subject string `json:"subject"`
			Version int    `json:"version"`
			ID      int    `json:"id"`
			Type    string `json:"type"`
		} `json:"schema"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rec) != nil || string(rec.Value) != `{"id":7,"items":[{"sku":"a","price":1.5}],"note":{"string":"gift"}}` ||
		rec.Schema.Subject != "orders-value" || rec.Schema.Version != 1 || rec.Schema.Type != "AVRO" || rec.Schema.ID < 1 {
		t.Errorf("consume --json: %d\n%s%s", code, out, errOut)
	}
	out, _, _ = runIn(t, dir, "", "consume", "orders", "--from-beginning", "-n", "1")
	if !strings.Contains(out, "schema: subject orders-value version 1, id") || !strings.Contains(out, `"sku": "a"`) {
		t.Errorf("consume:\n%s", out)
	}

	out, errOut, code = runIn(t, dir, "", "registry", "subjects")
	if code != 0 || !strings.Contains(out, "orders-value") || !strings.Contains(out, "AVRO") {
		t.Errorf("registry subjects: %d\n%s%s", code, out, errOut)
	}
	out, _, code = runIn(t, dir, "", "registry", "show", "orders-value")
	if code != 0 || !strings.Contains(out, "orders-value  version 1") || !strings.Contains(out, `"name": "note",`) {
		t.Errorf("registry show:\n%s", out)
	}
	// a local edit that drops the default: incompatible under BACKWARD, exit 1 with the reason
	bad := filepath.Join(dir, "bad.avsc")
	if err := os.WriteFile(bad, []byte(strings.Replace(typedAvsc, `{"name": "note", "type": ["null", "string"], "default": null}`, `{"name": "note", "type": ["null", "string"]}, {"name": "customer", "type": "string"}`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runIn(t, dir, "", "registry", "check", "orders-value", bad)
	if code != 1 || !strings.Contains(out, "NOT compatible") || !strings.Contains(out, "customer") {
		t.Errorf("registry check of an incompatible file: %d\n%s%s", code, out, errOut)
	}
	out, _, code = runIn(t, dir, "", "registry", "check", "orders-value", filepath.Join(dir, "schemas", "orders.avsc"))
	if code != 0 || !strings.Contains(out, "is compatible") {
		t.Errorf("registry check of the registered file: %d\n%s", code, out)
	}
	out, _, code = runIn(t, dir, "", "registry", "level")
	if code != 0 || strings.TrimSpace(out) != "global: BACKWARD" {
		t.Errorf("registry level: %d %s", code, out)
	}
}

// Without a stack in this directory the registry commands say so in one line, with what to do.
func TestRegistryCommandsWithoutAStack(t *testing.T) {
	dir, _ := stackDir(t, typedYAML)
	_, errOut, code := runIn(t, dir, "", "registry", "subjects")
	if code != 1 || !strings.Contains(errOut, "devstack up") || !strings.Contains(errOut, "--registry URL") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("no stack: %d %q", code, errOut)
	}
}
