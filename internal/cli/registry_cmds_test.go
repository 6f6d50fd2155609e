package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/devstack-dev/devstack/internal/schemareg"
	"github.com/devstack-dev/devstack/internal/schemas"
)

// startTestRegistry runs the real schema registry on a test broker.
func startTestRegistry(t *testing.T) (brokerAddr, url string) {
	t.Helper()
	b := startTestBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := schemareg.Start(ctx, schemareg.Options{Addr: "127.0.0.1:0", Kafka: []kgo.Opt{kgo.SeedBrokers(b.Addr())},
		Topic: "_schemas", Compatibility: schemas.Backward})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return b.Addr(), r.URL()
}

const orderV1 = `{"type":"record","name":"Order","namespace":"shop","fields":[
 {"name":"id","type":"long"},
 {"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[
   {"name":"sku","type":"string"},{"name":"price","type":"double"}]}}}]}`

// v2 adds a field with a default: BACKWARD compatible.
const orderV2 = `{"type":"record","name":"Order","namespace":"shop","fields":[
 {"name":"id","type":"long"},
 {"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[
   {"name":"sku","type":"string"},{"name":"price","type":"double"}]}}},
 {"name":"note","type":["null","string"],"default":null}]}`

// incompatible adds a field without a default.
const orderBad = `{"type":"record","name":"Order","namespace":"shop","fields":[
 {"name":"id","type":"long"},
 {"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[
   {"name":"sku","type":"string"},{"name":"price","type":"double"}]}}},
 {"name":"customer","type":"string"}]}`

// TestRegistryCommands: what a user does with `devstack registry`, `produce --schema` and `consume`
// against the real registry and broker.
func TestRegistryCommands(t *testing.T) {
	brokers, reg := startTestRegistry(t)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	v1, v2, bad := write("v1.avsc", orderV1), write("v2.avsc", orderV2), write("bad.avsc", orderBad)

	// A new subject: check says it would be version 1.
	out := mustCLI(t, "", "registry", "check", "orders-value", v1, "--registry", reg)
	if !strings.Contains(out, "not registered yet") {
		t.Errorf("check of a new subject:\n%s", out)
	}
	// Register v1 and v2 through the REST API as a service's serializer would.
	registerSchema(t, reg, "orders-value", orderV1)
	registerSchema(t, reg, "orders-value", orderV2)

	out = mustCLI(t, "", "registry", "subjects", "--registry", reg)
	if !strings.Contains(out, "SUBJECT") || !regexpLine(out, `orders-value\s+2\s+AVRO\s+\d+`) {
		t.Errorf("subjects:\n%s", out)
	}
	var rows []subjectRow
	if err := json.Unmarshal([]byte(mustCLI(t, "", "registry", "subjects", "--json", "--registry", reg)), &rows); err != nil || len(rows) != 1 || rows[0].Version != 2 {
		t.Errorf("subjects --json: %+v %v", rows, err)
	}

	out = mustCLI(t, "", "registry", "show", "orders-value", "1", "--registry", reg)
	if !strings.Contains(out, "orders-value  version 1") || !strings.Contains(out, `"name": "items",`) {
		t.Errorf("show v1 (pretty-printed):\n%s", out)
	}
	out = mustCLI(t, "", "registry", "diff", "orders-value", "1", "2", "--registry", reg)
	if !strings.Contains(out, "--- orders-value version 1") || !strings.Contains(out, `+      "name": "note",`) {
		t.Errorf("diff:\n%s", out)
	}

	// check: compatible, then incompatible with exit 1 and the reason.
	out = mustCLI(t, "", "registry", "check", "orders-value", v2, "--registry", reg)
	if !strings.Contains(out, "is compatible") {
		t.Errorf("check v2:\n%s", out)
	}
	out, _, err := runCLI(t, "", "registry", "check", "orders-value", bad, "--registry", reg)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(out, "NOT compatible") || !strings.Contains(out, "customer") {
		t.Errorf("check of an incompatible file: err %v\n%s", err, out)
	}

	// level: the global level, a subject's own, reset.
	if out := mustCLI(t, "", "registry", "level", "--registry", reg); !strings.Contains(out, "global: BACKWARD") {
		t.Errorf("level: %s", out)
	}
	if out := mustCLI(t, "", "registry", "level", "orders-value", "--registry", reg); !strings.Contains(out, "BACKWARD (the global level") {
		t.Errorf("level orders-value: %s", out)
	}
	mustCLI(t, "", "registry", "level", "orders-value", "none", "--registry", reg)
	if out := mustCLI(t, "", "registry", "level", "orders-value", "--registry", reg); strings.TrimSpace(out) != "orders-value: NONE" {
		t.Errorf("level after set: %s", out)
	}
	if out := mustCLI(t, "", "registry", "check", "orders-value", bad, "--registry", reg); !strings.Contains(out, "is compatible") {
		t.Errorf("check under NONE: %s", out)
	}
	if out := mustCLI(t, "", "registry", "level", "orders-value", "--reset", "--registry", reg); !strings.Contains(out, "the global level BACKWARD applies") {
		t.Errorf("level --reset: %s", out)
	}
	if out := mustCLI(t, "", "registry", "level", "-", "full", "--registry", reg); strings.TrimSpace(out) != "global: FULL" {
		t.Errorf("set the global level: %s", out)
	}
	if out := mustCLI(t, "", "registry", "level", "orders-value", "--json", "--registry", reg); !strings.Contains(out, `"level": "FULL"`) || !strings.Contains(out, `"global": true`) {
		t.Errorf("level --json: %s", out)
	}
	mustCLI(t, "", "registry", "level", "orders-value", "NONE", "--registry", reg)
	if _, _, err := runCLI(t, "", "registry", "level", "orders-value", "SIDEWAYS", "--registry", reg); err == nil || !strings.Contains(err.Error(), "invalid compatibility level") {
		t.Errorf("bad level: %v", err)
	}

	// produce with the subject's latest, consume it back decoded.
	mustCLI(t, `{"id": 7, "items": [{"sku": "a", "price": 1.5}], "note": "gift"}`+"\n",
		"produce", "orders", "--schema", "--brokers", brokers, "--registry", reg)
	// an older version by number
	mustCLI(t, `{"id": 8, "items": []}`+"\n", "produce", "orders", "--value-subject", "orders-value", "--version", "1", "--brokers", brokers, "--registry", reg)
	// a wrong field is refused with its path, and nothing is produced
	_, _, err = runCLI(t, `{"id": 9, "items": [{"sku": "a", "price": 1}, {"sku": "b", "price": "2"}]}`+"\n",
		"produce", "orders", "--schema", "--brokers", brokers, "--registry", reg)
	if err == nil || !strings.Contains(err.Error(), "$.items[1].price: want double, got string") {
		t.Errorf("produce of a mismatch: %v", err)
	}

	consumed := strings.TrimSpace(mustCLI(t, "", "consume", "orders", "--from-beginning", "-n", "2", "--json", "--brokers", brokers, "--registry", reg))
	type consumedRecord struct {
		Value  json.RawMessage `json:"value"`
		Schema struct {
			Subject string `json:"subject"`
			Version int    `json:"version"`
			ID      int    `json:"id"`
			Type    string `json:"type"`
		} `json:"schema"`
	}
	var got []consumedRecord
	for _, line := range strings.Split(consumed, "\n") {
		var r consumedRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if len(got) != 2 {
		t.Fatalf("consumed %d records:\n%s", len(got), consumed)
	}
	if string(got[0].Value) != `{"id":7,"items":[{"sku":"a","price":1.5}],"note":{"string":"gift"}}` || got[0].Schema.Subject != "orders-value" || got[0].Schema.Version != 2 || got[0].Schema.Type != "AVRO" {
		t.Errorf("record 0: %s %+v", got[0].Value, got[0].Schema)
	}
	if string(got[1].Value) != `{"id":8,"items":[]}` || got[1].Schema.Version != 1 {
		t.Errorf("record 1: %s %+v", got[1].Value, got[1].Schema)
	}
	out = mustCLI(t, "", "consume", "orders", "--from-beginning", "-n", "1", "--brokers", brokers, "--registry", reg)
	if !strings.Contains(out, "schema: subject orders-value version 2, id") || !strings.Contains(out, `"sku": "a"`) {
		t.Errorf("consume text:\n%s", out)
	}

	// An id the registry does not know: said so, with the bytes.
	mustCLI(t, "\x00\x00\x00\x03\xe7\x02\n", "produce", "orders", "--brokers", brokers)
	out = mustCLI(t, "", "consume", "orders", "-n", "1", "--brokers", brokers, "--registry", reg)
	if !strings.Contains(out, "schema id 999 is unknown to the registry") || !strings.Contains(out, `\x00\x00\x00\x03\xe7\x02`) {
		t.Errorf("unknown id:\n%s", out)
	}
	out = mustCLI(t, "", "consume", "orders", "-n", "1", "--no-decode", "--brokers", brokers, "--registry", reg)
	if strings.Contains(out, "unknown") {
		t.Errorf("--no-decode still decodes:\n%s", out)
	}

	// Keys too: --key-subject encodes them, consume decodes them.
	registerSchema(t, reg, "keyed-key", `{"type":"string"}`)
	registerSchema(t, reg, "keyed-value", orderV1)
	mustCLI(t, "\"user-7\"|{\"id\": 1, \"items\": []}\n", "produce", "keyed", "--schema", "--key-subject", "keyed-key", "-K", "|", "--brokers", brokers, "--registry", reg)
	var keyed struct {
		Key       string `json:"key"`
		KeySchema struct {
			Subject string `json:"subject"`
		} `json:"key_schema"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, "", "consume", "keyed", "-n", "1", "--json", "--brokers", brokers, "--registry", reg)), &keyed); err != nil ||
		keyed.Key != `"user-7"` || keyed.KeySchema.Subject != "keyed-key" || string(keyed.Value) != `{"id":1,"items":[]}` {
		t.Errorf("keyed record: %+v %v", keyed, err)
	}
	if _, _, err := runCLI(t, "7|{}\n", "produce", "keyed", "--key-subject", "keyed-key", "-K", "|", "--brokers", brokers, "--registry", reg); err == nil || !strings.Contains(err.Error(), "the key does not match subject keyed-key") {
		t.Errorf("a wrong key: %v", err)
	}

	// --deleted lists soft-deleted subjects too.
	registerSchema(t, reg, "gone-value", `{"type":"string"}`)
	req, _ := http.NewRequest(http.MethodDelete, reg+"/subjects/gone-value", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("soft delete: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if out := mustCLI(t, "", "registry", "subjects", "--registry", reg); strings.Contains(out, "gone-value") {
		t.Errorf("a deleted subject is listed without --deleted:\n%s", out)
	}
	if out := mustCLI(t, "", "registry", "subjects", "--deleted", "--registry", reg); !regexpLine(out, `gone-value \(deleted\)\s+1\s+AVRO`) {
		t.Errorf("subjects --deleted:\n%s", out)
	}

	// Errors in one line with what to do.
	if _, _, err := runCLI(t, "", "registry", "show", "nope-value", "--registry", reg); err == nil || !strings.Contains(err.Error(), "`devstack registry subjects` lists them") {
		t.Errorf("unknown subject: %v", err)
	}
	if _, _, err := runCLI(t, "", "registry", "subjects", "--registry", "http://127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "no schema registry answers at http://127.0.0.1:1") {
		t.Errorf("no registry: %v", err)
	}
}

// TestRegistryNoStack: without a running stack (and no --registry) the commands say where none runs.
func TestRegistryNoStack(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "devstack.yaml")
	if err := os.WriteFile(cfg, []byte("name: t\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCLI(t, "", "registry", "subjects", "-c", cfg)
	if err == nil || !strings.Contains(err.Error(), "or pass --registry URL") || !strings.Contains(err.Error(), dir) {
		t.Errorf("no stack: %v", err)
	}
	_, _, err = runCLI(t, "", "registry", "subjects", "--registry", "localhost:8081")
	if err == nil || !strings.Contains(err.Error(), "want a URL like http://127.0.0.1:8081") {
		t.Errorf("bad --registry: %v", err)
	}
}

func registerSchema(t *testing.T, url, subject, text string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"schema": text})
	resp, err := httpPost(url+"/subjects/"+subject+"/versions", body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(resp, `"id"`) {
		t.Fatalf("register %s: %s", subject, resp)
	}
}

func regexpLine(out, re string) bool { return regexp.MustCompile(re).MatchString(out) }

func httpPost(url string, body []byte) (string, error) {
	resp, err := http.Post(url, "application/vnd.schemaregistry.v1+json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestTypedJSONSchemaAndProtobuf: produce and consume through JSON Schema and Protobuf subjects (the
// Protobuf message chosen with --message, nested ones too), mismatches refused with their paths.
func TestTypedJSONSchemaAndProtobuf(t *testing.T) {
	brokers, reg := startTestRegistry(t)
	register := func(subject, typ, text string) {
		body, _ := json.Marshal(map[string]string{"schemaType": typ, "schema": text})
		if r, err := httpPost(reg+"/subjects/"+subject+"/versions", body); err != nil || !strings.Contains(r, `"id"`) {
			t.Fatalf("register %s: %s %v", subject, r, err)
		}
	}
	register("j-value", "JSON", `{"type":"object","properties":{"items":{"type":"array","items":{"type":"object","properties":{"price":{"type":"number"}}}}},"required":["items"]}`)
	register("p-value", "PROTOBUF", "syntax = \"proto3\";\npackage shop;\nmessage Order {\n  int64 id = 1;\n  message Item { string sku = 1; }\n  repeated Item items = 2;\n}\nmessage Refund { int64 order_id = 1; }\n")
	flags := []string{"--brokers", brokers, "--registry", reg}

	mustCLI(t, `{"items":[{"price":1}]}`+"\n", append([]string{"produce", "j", "--schema"}, flags...)...)
	if _, _, err := runCLI(t, `{"items":[{"price":"1"}]}`+"\n", append([]string{"produce", "j", "--schema"}, flags...)...); err == nil || !strings.Contains(err.Error(), "$.items[0].price: got string, want number") {
		t.Errorf("JSON Schema mismatch: %v", err)
	}
	out := mustCLI(t, "", append([]string{"consume", "j", "-n", "1", "--json"}, flags...)...)
	if !strings.Contains(out, `"value":{"items":[{"price":1}]}`) || !strings.Contains(out, `"subject":"j-value","version":1,"id":1,"type":"JSON"`) {
		t.Errorf("JSON Schema record: %s", out)
	}

	mustCLI(t, `{"id":"5","items":[{"sku":"a"}]}`+"\n", append([]string{"produce", "p", "--schema"}, flags...)...)
	mustCLI(t, `{"order_id":"6"}`+"\n", append([]string{"produce", "p", "--schema", "--message", "Refund"}, flags...)...)
	mustCLI(t, `{"sku":"z"}`+"\n", append([]string{"produce", "p", "--schema", "--message", "shop.Order.Item"}, flags...)...)
	if _, _, err := runCLI(t, `{"id":"5","items":[{"sku":1}]}`+"\n", append([]string{"produce", "p", "--schema"}, flags...)...); err == nil || !strings.Contains(err.Error(), "$.items[0].sku: want string, got number 1") {
		t.Errorf("Protobuf mismatch: %v", err)
	}
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(mustCLI(t, "", append([]string{"consume", "p", "--from-beginning", "-n", "3", "--json"}, flags...)...)), "\n") {
		var r struct {
			Value  json.RawMessage `json:"value"`
			Schema struct{ Message string }
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, r.Schema.Message+" "+string(r.Value))
	}
	want := []string{`shop.Order {"id":"5","items":[{"sku":"a"}]}`, `shop.Refund {"order_id":"6"}`, `shop.Order.Item {"sku":"z"}`}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Errorf("Protobuf records:\n%s\nwant\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
	if out := mustCLI(t, "", "registry", "show", "p-value", "--registry", reg); !strings.Contains(out, "message Refund") || !strings.Contains(out, "PROTOBUF") {
		t.Errorf("show p-value:\n%s", out)
	}
}
