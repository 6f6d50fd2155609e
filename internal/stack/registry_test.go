package stack

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
	"github.com/devstack-dev/devstack/internal/event"
)

// registryStack runs the embedded broker (persisted, so a restart keeps _schemas), the schema registry
// with one subject from a file, and a service that, when it starts, asks the registry for that subject's
// latest version: it proves the subject was registered before the services started.
const registryStack = `
name: regtest
broker: {port: ${BROKER_PORT}}
registry:
  port: ${REGISTRY_PORT}
  subjects:
    orders-value:
      file: schemas/orders.avsc
      compatibility: BACKWARD
services:
  probe:
    command: >-
      echo "registry=$$SCHEMA_REGISTRY_URL";
      python3 -c "import os,urllib.request; print('latest=' + urllib.request.urlopen(os.environ['SCHEMA_REGISTRY_URL'] + '/subjects/orders-value/versions/latest').read().decode(), flush=True)";
      exec sleep 600
    settle: 0s
`

const (
	ordersV1 = `{
  "type": "record",
  "name": "Order",
  "fields": [
    {"name": "id", "type": "string"}
  ]
}
`
	// v2 adds a field with a default: a reader of v2 reads v1's data (BACKWARD)
	ordersV2 = `{
  "type": "record",
  "name": "Order",
  "fields": [
    {"name": "id", "type": "string"},
    {"name": "note", "type": "string", "default": ""}
  ]
}
`
	// incompatible with v2: a new field without a default cannot be read from v2's data
	ordersIncompatible = `{
  "type": "record",
  "name": "Order",
  "fields": [
    {"name": "id", "type": "string"},
    {"name": "note", "type": "string", "default": ""},
    {"name": "total", "type": "long"}
  ]
}
`
	// not JSON: line 4 lacks a comma
	ordersInvalid = `{
  "type": "record",
  "name": "Order"
  "fields": []
}
`
)

type latest struct {
	Subject string `json:"subject"`
	ID      int    `json:"id"`
	Version int    `json:"version"`
	Schema  string `json:"schema"`
}

func getLatest(t *testing.T, base, subject string) (latest, int) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(base + "/subjects/" + subject + "/versions/latest")
	if err != nil {
		t.Fatalf("GET latest: %v", err)
	}
	defer resp.Body.Close()
	var l latest
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &l); err != nil {
			t.Fatalf("GET latest: %v: %s", err, b)
		}
	}
	return l, resp.StatusCode
}

func postJSON(t *testing.T, url, body string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Post(url, "application/vnd.schemaregistry.v1+json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func registryComp(st *running) event.Component {
	c, _ := st.Bus().Snapshot().Component(CompRegistry)
	return c
}

func startReady(t *testing.T, rs realStack) *running {
	t.Helper()
	st := start(t, rs.load(t), Options{NoControl: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.WaitReady(ctx); err != nil {
		for _, l := range st.LogStore().Tail(200, nil) {
			t.Logf("%s %s: %s", l.Source, l.Stream, l.Text)
		}
		t.Fatalf("WaitReady: %v", err)
	}
	return st
}

// serviceSaid waits for the line of service name that starts with prefix.
func serviceSaid(t *testing.T, st *running, name, prefix string) string {
	t.Helper()
	var said string
	waitUntil(t, 20*time.Second, name+"'s line "+prefix, func() bool {
		for _, l := range st.LogStore().Tail(200, event.SourceFilter(name)) {
			if strings.HasPrefix(l.Text, prefix) {
				said = strings.TrimPrefix(l.Text, prefix)
				return true
			}
		}
		return false
	})
	return said
}

// Schemas as code through the real broker and registry: registry.subjects is registered before the
// services start; the registry is a ready component with its address in the endpoints, and services get
// SCHEMA_REGISTRY_URL; a saved compatible edit registers a new version; an incompatible or unparsable
// edit is refused with its reasons (file:line where the parser knows) in the component's problems, the
// log and a notification, and the registered version stays; the next good save clears the refusal; after
// a restart every id and version is back.
func TestRegistrySchemasAsCode(t *testing.T) {
	rs := newRealStack(t, registryStack)
	schemaFile := filepath.Join(rs.dir, "schemas", "orders.avsc")
	if err := os.MkdirAll(filepath.Dir(schemaFile), 0o755); err != nil {
		t.Fatal(err)
	}
	save := func(text string) {
		t.Helper()
		if err := os.WriteFile(schemaFile, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	save(ordersV1)
	regPort := rs.ports["REGISTRY_PORT"]
	base := fmt.Sprintf("http://127.0.0.1:%d", regPort)

	st := startReady(t, rs)
	c := registryComp(st)
	if c.Status != event.StatusReady || c.Addr != fmt.Sprintf("127.0.0.1:%d", regPort) || c.Detail != "1 subject" || len(c.Problems) > 0 {
		t.Errorf("registry component %+v; want ready on port %d with 1 subject and no problems", c, regPort)
	}
	if e := control.EndpointsOf(st.Bus().Snapshot(), ""); e.Registry != c.Addr {
		t.Errorf("endpoints say the registry is at %q, want %q", e.Registry, c.Addr)
	}
	if got := serviceSaid(t, st, "probe", "registry="); got != base {
		t.Errorf("the service got SCHEMA_REGISTRY_URL=%q, want %q", got, base)
	}
	// the service asked the registry as it started: the subject was already there
	var atStart latest
	if err := json.Unmarshal([]byte(serviceSaid(t, st, "probe", "latest=")), &atStart); err != nil || atStart.Version != 1 || atStart.ID < 1 {
		t.Fatalf("the service saw %+v (%v) when it started; want version 1 of orders-value", atStart, err)
	}
	if code, body := func() (int, string) {
		resp, err := http.Get(base + "/config/orders-value")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}(); code != 200 || !strings.Contains(body, "BACKWARD") {
		t.Errorf("GET /config/orders-value: %d %s; want the subject's level from devstack.yaml", code, body)
	}

	// a compatible save registers version 2
	save(ordersV2)
	waitUntil(t, 10*time.Second, "version 2 registered", func() bool { l, _ := getLatest(t, base, "orders-value"); return l.Version == 2 })
	v2, _ := getLatest(t, base, "orders-value")

	// an incompatible save is refused with the checker's reasons; version 2 stays
	_, events, unsubscribe := st.Bus().Subscribe(1024)
	defer unsubscribe()
	save(ordersIncompatible)
	waitUntil(t, 10*time.Second, "the incompatible save refused", func() bool { return len(registryComp(st).Problems) > 0 })
	c = registryComp(st)
	t.Logf("refused: %q", c.Problems)
	if !strings.HasPrefix(c.Problems[0], "schemas/orders.avsc: subject orders-value: incompatible") || !strings.Contains(c.Problems[0], "total") {
		t.Errorf("problems %q; want schemas/orders.avsc: subject orders-value: incompatible … naming the field total", c.Problems)
	}
	if c.Detail != "1 subject, 1 refused" || c.Status != event.StatusReady {
		t.Errorf("registry component %+v; want ready, 1 subject, 1 refused", c)
	}
	if l, _ := getLatest(t, base, "orders-value"); l.Version != 2 || l.ID != v2.ID {
		t.Errorf("after the refusal the latest is %+v, want version 2 (id %d)", l, v2.ID)
	}
	if !logged(st, CompRegistry, "refused: schemas/orders.avsc: subject orders-value: incompatible") {
		t.Errorf("the refusal is not in the log")
	}
	notified := false
	for len(events) > 0 && !notified {
		ev := <-events
		notified = ev.Kind == event.KindStack && ev.Level == "error" && strings.Contains(ev.Message, "subject orders-value") &&
			strings.Contains(ev.Message, "version 2 stays registered")
	}
	if !notified {
		t.Errorf("no error notification of the refusal on the bus (the TUI shows those)")
	}

	// a file that does not parse: refused at its line
	save(ordersInvalid)
	waitUntil(t, 10*time.Second, "the invalid save refused", func() bool {
		p := registryComp(st).Problems
		return len(p) == 1 && strings.HasPrefix(p[0], "schemas/orders.avsc:4:")
	})
	t.Logf("refused: %q", registryComp(st).Problems)
	if l, _ := getLatest(t, base, "orders-value"); l.Version != 2 {
		t.Errorf("after the invalid save the latest is version %d, want 2", l.Version)
	}

	// the next good save clears the refusal
	save(ordersV2)
	waitUntil(t, 10*time.Second, "the refusal cleared", func() bool { return len(registryComp(st).Problems) == 0 })
	if c := registryComp(st); c.Detail != "1 subject" {
		t.Errorf("detail %q after the good save, want 1 subject", c.Detail)
	}

	// a restart: the same ids and versions, and the unchanged file registers nothing new
	if err := st.stop(t); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if !portFree(regPort) {
		t.Fatalf("the registry still listens on %d after Run returned", regPort)
	}
	st2 := startReady(t, rs)
	if l, code := getLatest(t, base, "orders-value"); code != 200 || l.Version != 2 || l.ID != v2.ID {
		t.Errorf("after a restart the latest is %+v (%d), want version 2 with id %d", l, code, v2.ID)
	}
	var said latest
	if err := json.Unmarshal([]byte(serviceSaid(t, st2, "probe", "latest=")), &said); err != nil || said.Version != 2 || said.ID != v2.ID {
		t.Errorf("after a restart the service saw %+v (%v), want version 2", said, err)
	}
}

// A schema file the registry refuses at start does not stop the stack: the services start, the refusal
// shows with the registry.
func TestRegistryRefusalAtStartKeepsTheStack(t *testing.T) {
	rs := newRealStack(t, strings.Replace(registryStack, "broker: {port: ${BROKER_PORT}}", "broker: {port: ${BROKER_PORT}, persist: false}", 1))
	schemaFile := filepath.Join(rs.dir, "schemas", "orders.avsc")
	if err := os.MkdirAll(filepath.Dir(schemaFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(schemaFile, []byte(ordersInvalid), 0o644); err != nil {
		t.Fatal(err)
	}
	st := startReady(t, rs)
	c := registryComp(st)
	if c.Status != event.StatusReady || len(c.Problems) != 1 || !strings.HasPrefix(c.Problems[0], "schemas/orders.avsc:4:") || !strings.Contains(c.Problems[0], "subject orders-value: invalid AVRO schema") {
		t.Errorf("registry component %+v; want ready with the refusal at schemas/orders.avsc:4", c)
	}
	if got := serviceSaid(t, st, "probe", "registry="); got == "" {
		t.Errorf("the service did not start")
	}
	if _, code := getLatest(t, "http://"+c.Addr, "orders-value"); code != http.StatusNotFound {
		t.Errorf("GET latest of the refused subject: %d, want 404", code)
	}
}

// logged reports whether source's log has a line containing text.
func logged(st *running, source, text string) bool {
	for _, l := range st.LogStore().Tail(500, event.SourceFilter(source)) {
		if strings.Contains(l.Text, text) {
			return true
		}
	}
	return false
}

// registry.subjects follow devstack.yaml while the stack runs: a subject added is registered (its level
// set first) and its file watched; one removed is no longer watched and stays registered.
func TestRegistrySubjectsFollowDevstackYAML(t *testing.T) {
	rs := newRealStack(t, strings.Replace(registryStack, "broker: {port: ${BROKER_PORT}}", "broker: {port: ${BROKER_PORT}, persist: false}", 1))
	dir := filepath.Join(rs.dir, "schemas")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("orders.avsc", ordersV1)
	write("users.avsc", strings.ReplaceAll(ordersV1, "Order", "User"))
	st := startReady(t, rs)
	base := "http://" + registryComp(st).Addr

	yaml, _ := os.ReadFile(rs.path)
	added := strings.Replace(string(yaml), "services:", "    users-value: {file: schemas/users.avsc, compatibility: FULL}\nservices:", 1)
	rs.write(t, added)
	waitUntil(t, 10*time.Second, "users-value registered from the saved devstack.yaml", func() bool {
		_, code := getLatest(t, base, "users-value")
		return code == http.StatusOK
	})
	if resp, err := http.Get(base + "/config/users-value"); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "FULL") {
			t.Errorf("users-value's level: %s, want FULL from devstack.yaml", b)
		}
	}
	waitUntil(t, 5*time.Second, "the detail counts 2 subjects", func() bool { return registryComp(st).Detail == "2 subjects" })
	// the added subject's file is watched
	write("users.avsc", strings.ReplaceAll(ordersV2, "Order", "User"))
	waitUntil(t, 10*time.Second, "users-value version 2", func() bool { l, _ := getLatest(t, base, "users-value"); return l.Version == 2 })

	// removed: still registered, no longer followed
	rs.write(t, string(yaml))
	waitUntil(t, 5*time.Second, "the detail counts 1 subject", func() bool { return registryComp(st).Detail == "1 subject" })
	write("users.avsc", strings.ReplaceAll(ordersIncompatible, "Order", "User"))
	time.Sleep(time.Second) // a debounce and a registration, were it still followed
	if l, code := getLatest(t, base, "users-value"); code != http.StatusOK || l.Version != 2 {
		t.Errorf("users-value after it was removed from devstack.yaml: %+v (%d), want version 2 still registered", l, code)
	}
	if p := registryComp(st).Problems; len(p) > 0 {
		t.Errorf("a subject no longer listed was registered again: %q", p)
	}
}
