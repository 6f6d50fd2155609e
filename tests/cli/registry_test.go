package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/control"
)

const registryYAML = `name: regcli
control: {port: ${CONTROL_PORT}}
broker: {port: ${BROKER_PORT}, persist: false}
registry:
  port: ${REGISTRY_PORT}
  subjects:
    orders-value: {file: schemas/orders.avsc}
services:
  app:
    command: echo "registry=$SCHEMA_REGISTRY_URL"; exec sleep 1000
    settle: 0s
tests:
  - name: registry-env
    command: >-
      python3 -c "import os, urllib.request; u = os.environ['SCHEMA_REGISTRY_URL']; print('TESTREG=' + u);
      print(urllib.request.urlopen(u + '/subjects/orders-value/versions/latest').read().decode())"
`

const ordersAvsc = `{"type": "record", "name": "Order", "fields": [
  {"name": "id", "type": "string"}
]}
`

// A user's view of the schema registry: `devstack up` registers registry.subjects and says where the
// registry listens; a registry client reads the subject over HTTP; an incompatible save is refused and
// `devstack status` says why; `devstack test` beside it gets its own registry in SCHEMA_REGISTRY_URL.
func TestUpRunsTheSchemaRegistry(t *testing.T) {
	dir, ports := stackDir(t, registryYAML)
	writeFiles(t, dir, map[string]string{"schemas/orders.avsc": ordersAvsc})
	schemaFile := filepath.Join(dir, "schemas", "orders.avsc")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	u := startUp(t, dir)
	base := fmt.Sprintf("http://127.0.0.1:%d", ports["REGISTRY_PORT"])
	u.waitFor(t, "schema registry "+base, time.Minute) // the ready line
	u.waitFor(t, "registry="+base, 20*time.Second)     // the service's SCHEMA_REGISTRY_URL

	// what a registry client does (curl $SCHEMA_REGISTRY_URL/subjects/orders-value/versions/latest)
	resp, err := http.Get(base + "/subjects/orders-value/versions/latest")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var latest struct {
		Subject string
		Version int
		ID      int
	}
	if err := json.Unmarshal(body, &latest); err != nil || resp.StatusCode != 200 || latest.Subject != "orders-value" || latest.Version != 1 {
		t.Fatalf("GET latest of orders-value: %d %s", resp.StatusCode, body)
	}

	// GET /v1/endpoints of the control API (what `devstack registry …` and other clients ask)
	cl, err := control.Dial(filepath.Join(dir, ".devstack"))
	if err != nil {
		t.Fatal(err)
	}
	if ep, err := cl.Endpoints(context.Background()); err != nil || ep.Registry != fmt.Sprintf("127.0.0.1:%d", ports["REGISTRY_PORT"]) {
		t.Errorf("endpoints %+v, %v; want the registry on port %d", ep, err, ports["REGISTRY_PORT"])
	}

	out, code := run(t, dir, "status")
	if code != 0 || !strings.Contains(out, "registry") || !strings.Contains(out, "1 subject") || !strings.Contains(out, fmt.Sprintf("127.0.0.1:%d", ports["REGISTRY_PORT"])) {
		t.Errorf("devstack status does not show the registry:\n%s", out)
	}

	// an incompatible save (a new field without a default) is refused; status says where and why
	incompatible := strings.Replace(ordersAvsc, `{"name": "id", "type": "string"}`, `{"name": "id", "type": "string"}, {"name": "total", "type": "long"}`, 1)
	if err := os.WriteFile(schemaFile, []byte(incompatible), 0o644); err != nil {
		t.Fatal(err)
	}
	var problems []string
	for deadline := time.Now().Add(15 * time.Second); len(problems) == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the incompatible save is not in devstack status --json")
		}
		out, _ := run(t, dir, "status", "--json")
		var st struct {
			Components []struct {
				Name     string
				Problems []string
			}
		}
		_ = json.Unmarshal([]byte(out), &st)
		for _, c := range st.Components {
			if c.Name == "registry" {
				problems = c.Problems
			}
		}
	}
	if !strings.HasPrefix(problems[0], "schemas/orders.avsc: subject orders-value: incompatible") {
		t.Errorf("problems %q", problems)
	}
	out, _ = run(t, dir, "status")
	if !strings.Contains(out, "! registry: schemas/orders.avsc: subject orders-value: incompatible") || !strings.Contains(out, "1 refused") {
		t.Errorf("devstack status does not show the refusal:\n%s", out)
	}
	u.waitFor(t, "! registry refused schemas/orders.avsc for subject orders-value (version 1 stays registered)", 5*time.Second)
	if resp, err := http.Get(base + "/subjects/orders-value/versions"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.TrimSpace(string(b)) != "[1]" {
			t.Errorf("versions after the refusal: %s, want [1]", b)
		}
	}

	// devstack test beside it: its own registry on a free port, in the test command's environment
	out, code = run(t, dir, "test")
	if code != 0 || !strings.Contains(out, "TESTREG=http://127.0.0.1:") || strings.Contains(out, "TESTREG="+base) || !strings.Contains(out, `"subject":"orders-value"`) {
		t.Errorf("devstack test: exit %d, want its own registry in SCHEMA_REGISTRY_URL:\n%s", code, out)
	}
}
