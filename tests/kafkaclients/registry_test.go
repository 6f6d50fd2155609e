package kafkaclients

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/control"
)

// regCount is how many records each registry client writes per schema type.
const regCount = 10

// registration is one subject version as a client saw it registered.
type registration struct {
	Subject string `json:"subject"`
	ID      int    `json:"id"`
	Version int    `json:"version"`
	Type    string `json:"type"`
}

// regResult is what a registry driver reports; the Node and Python drivers print it as JSON.
type regResult struct {
	Registered []registration `json:"registered"`
	Error      string         `json:"error"`
}

// A regPhase is one step of a registry client's scenario:
//
//	roundtrip: register the client's schemas through its serializer, produce regCount records per schema
//	           type with acks=all, consume them from offset 0 with a deserializer that fetches the
//	           writer's schema by id, and compare with what was produced.
//	consume:   only the consuming half, with new clients (nothing cached): after a restart.
//	compat:    the registry API through the client (compatibility checks, listing, levels, deletes).
type regPhase struct {
	Kind     string
	Brokers  string
	Registry string   // base URL
	Prefix   string   // topics <Prefix>.<type>, subjects <Prefix>.<type>-value
	Types    []string // the schema types to round-trip (Node and Python)
	Count    int
}

type regDriver interface {
	run(ctx context.Context, t *testing.T, p regPhase) (regResult, error)
}

type regClient struct {
	name    string
	driver  regDriver
	prefix  string   // topics <prefix>.<topic>, subjects <prefix>.<topic>-value
	topics  []string // what it produces to: the schema types it round-trips (the Go client: "order")
	phases  []string // run in the fresh stage; "consume" runs after each restart when topics is not empty
	missing string
}

func registryClients(t *testing.T) []regClient {
	nodeDir, _ := filepath.Abs("node")
	pyDir, _ := filepath.Abs("python")
	py := filepath.Join(pyDir, ".venv", "bin", "python")
	const setup = "run tests/kafkaclients/setup.sh"
	nodeMissing := ""
	if _, err := exec.LookPath("node"); err != nil {
		nodeMissing = "node is not on PATH (install Node.js 20 or newer)"
	} else if m := pinnedNodeMissing(nodeDir, "@kafkajs/confluent-schema-registry", setup); m != "" {
		nodeMissing = m
	} else {
		nodeMissing = pinnedNodeMissing(nodeDir, "kafkajs", setup)
	}
	// The serializers import their schema libraries (fastavro, jsonschema, protobuf) when imported.
	pyMods := "confluent_kafka.schema_registry.avro, confluent_kafka.schema_registry.json_schema, confluent_kafka.schema_registry.protobuf"
	pyMissing := pinnedPythonMissing(py, pyDir, pyMods, "confluent-kafka", "requirements.txt", "", setup)
	pyDriver := regExec{name: "confluent-kafka", argv: []string{py, "registry_driver.py"}, dir: pyDir}
	nodeDriver := regExec{name: "kafkajs", argv: []string{"node", "registry.mjs"}, dir: nodeDir}

	cs := []regClient{
		{name: "franz-go-sr", driver: franzSRDriver{}, prefix: "rc.franz-go-sr", topics: []string{"order"}, phases: []string{"roundtrip"}},
		// The registry API through confluent-kafka's SchemaRegistryClient.
		{name: "confluent-kafka-api", driver: pyDriver, prefix: "rc.confluent-kafka", phases: []string{"compat"}, missing: pyMissing},
	}
	// One client per schema type, so one type's failure does not hide the others' persistence checks.
	for _, typ := range []string{"avro", "json", "protobuf"} {
		cs = append(cs,
			regClient{name: "confluent-kafka-" + typ, driver: pyDriver, prefix: "rc.confluent-kafka", topics: []string{typ}, phases: []string{"roundtrip"}, missing: pyMissing},
			regClient{name: "kafkajs-" + typ, driver: nodeDriver, prefix: "rc.kafkajs", topics: []string{typ}, phases: []string{"roundtrip"}, missing: nodeMissing})
	}
	return cs
}

// TestRegistryClients drives devstack's schema registry (`devstack up --no-tui` with the broker and the
// registry) with the registry clients our users' services use:
//
//	confluent-kafka (Python): SchemaRegistryClient with the Avro, JSON Schema and Protobuf serializers
//	                          and deserializers round-tripping records through the broker; the registry
//	                          API through the client (test_compatibility, listing, levels, deletes).
//	kafkajs + @kafkajs/confluent-schema-registry (Node): Avro, JSON Schema and Protobuf round trips.
//	franz-go pkg/sr (Go): an Avro record referencing another subject's type (schema references),
//	                      encoded with sr.Serde and hamba/avro, decoded by a consumer that resolves the
//	                      writer's schema and its references by id.
//
// Then the stack is stopped with SIGTERM and started, and later killed with SIGKILL and started: each
// time every schema id, subject, version and level must be back as it was (GET /schemas/ids/N for every
// N, every subject's versions, deleted ones included), every client's consumer must still decode the
// records written before, and a new schema must get a new, larger id.
func TestRegistryClients(t *testing.T) {
	if testing.Short() {
		t.Skip("starts devstack with the schema registry and drives three registry clients; skipped with -short")
	}
	var cs []*regClient
	for _, c := range registryClients(t) {
		if isMissing(t, c.name, c.missing) {
			continue
		}
		cs = append(cs, &c)
	}
	if t.Failed() {
		t.FailNow()
	}

	b := startRegistryStack(t)
	t.Logf("schema registry under test: %s", b.registry)
	checkEndpointsRegistry(t, b)
	var topics []string
	for _, c := range cs {
		for _, s := range c.topics {
			topics = append(topics, c.prefix+"."+s)
		}
	}
	createTopicsN(t, b.addr, 1, topics...)

	failed := map[string]bool{}
	var regs []registration
	run := func(t *testing.T, c *regClient, kind string) {
		ctx, cancel := context.WithTimeout(context.Background(), phaseTimeout)
		defer cancel()
		p := regPhase{Kind: kind, Brokers: b.addr, Registry: "http://" + b.registry, Prefix: c.prefix, Types: c.topics, Count: regCount}
		start := time.Now()
		res, err := c.driver.run(ctx, t, p)
		t.Logf("%s %s: %s", c.name, kind, time.Since(start).Round(time.Millisecond))
		if err != nil {
			t.Fatalf("%s %s: %v%s", c.name, kind, err, b.exitReport())
		}
		if kind != "consume" {
			regs = append(regs, res.Registered...)
		}
	}
	stage := func(name string, fn func(t *testing.T, c *regClient)) {
		t.Run(name, func(t *testing.T) {
			for _, c := range cs {
				t.Run(c.name, func(t *testing.T) {
					if failed[c.name] {
						t.Skipf("%s failed an earlier stage", c.name)
					}
					defer func() {
						if t.Failed() {
							failed[c.name] = true
						}
						if !b.running() {
							t.Fatalf("devstack exited while %s ran%s", c.name, b.exitReport())
						}
					}()
					fn(t, c)
				})
			}
		})
	}

	stage("fresh", func(t *testing.T, c *regClient) {
		for _, kind := range c.phases {
			run(t, c, kind)
		}
	})
	before := takeSnapshot(t, b.registry, regs)
	for _, r := range regs {
		got := before.Records[r.Subject+"/"+strconv.Itoa(r.Version)]
		var rec struct {
			ID int `json:"id"`
		}
		if json.Unmarshal([]byte(got), &rec) != nil || rec.ID != r.ID {
			t.Errorf("a client registered %s version %d with id %d; GET /subjects/%s/versions/%d says: %s", r.Subject, r.Version, r.ID, r.Subject, r.Version, got)
		}
	}

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		name := map[syscall.Signal]string{syscall.SIGTERM: "sigterm", syscall.SIGKILL: "sigkill"}[sig]
		b.restart(sig)
		t.Run("held-after-"+name, func(t *testing.T) {
			after := takeSnapshot(t, b.registry, regs)
			for _, d := range before.diff(after) {
				t.Error(d)
			}
		})
		stage("decode-after-"+name, func(t *testing.T, c *regClient) {
			if len(c.topics) == 0 {
				t.Skipf("%s writes no records", c.name)
			}
			run(t, c, "consume")
		})
		t.Run("new-id-after-"+name, func(t *testing.T) {
			id := registerAvro(t, b.registry, "rc.after-"+name+"-value", fmt.Sprintf(`{"type":"record","name":"After_%s","fields":[{"name":"n","type":"long"}]}`, name))
			if id <= before.MaxID {
				t.Errorf("a new schema registered after the %s restart got id %d; want one larger than every id before (%d)", name, id, before.MaxID)
			}
		})
		before = takeSnapshot(t, b.registry, regs)
	}
}

// checkEndpointsRegistry checks that the control API's /v1/endpoints (what `devstack` commands and
// scripts use to find the parts of a running stack) names the registry where devstack.yaml put it.
func checkEndpointsRegistry(t *testing.T, b *brokerProc) {
	t.Helper()
	cl, err := control.Dial(filepath.Join(b.dir, ".devstack"))
	if err != nil {
		t.Fatalf("finding the control API of the stack in %s: %v", b.dir, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := cl.Endpoints(ctx)
	if err != nil {
		t.Fatalf("GET /v1/endpoints: %v", err)
	}
	if e.Registry != b.registry {
		t.Errorf("GET /v1/endpoints says the registry is at %q; devstack.yaml put it at %s", e.Registry, b.registry)
	}
}

// ---- the registry's state, as its REST API shows it ----

// regSnapshot is everything a client can read back from the registry, each answer as "status body"
// with the body's JSON re-encoded (key order does not matter).
type regSnapshot struct {
	MaxID   int
	Answers map[string]string // request path -> "status body"
	Records map[string]string // "subject/version" -> body of GET /subjects/{s}/versions/{v}
}

// takeSnapshot reads the global level and mode, every subject (deleted ones included) with its level,
// versions and each version, and GET /schemas/ids/N (and its /versions) for every N from 1 to two past
// the largest id seen.
func takeSnapshot(t *testing.T, addr string, regs []registration) regSnapshot {
	t.Helper()
	base := "http://" + addr
	s := regSnapshot{Answers: map[string]string{}, Records: map[string]string{}}
	get := func(path string) (int, string) {
		code, body := httpDo(t, http.MethodGet, base+path, "")
		s.Answers[path] = strconv.Itoa(code) + " " + canonJSON(body)
		return code, body
	}
	get("/config")
	get("/mode")
	get("/subjects")
	code, body := get("/subjects?deleted=true")
	var subjects []string
	if code != http.StatusOK || json.Unmarshal([]byte(body), &subjects) != nil {
		t.Fatalf("GET /subjects?deleted=true: %d %s", code, body)
	}
	for _, r := range regs {
		s.MaxID = max(s.MaxID, r.ID)
	}
	for _, subj := range subjects {
		esc := "/subjects/" + pathEscape(subj)
		get("/config/" + pathEscape(subj))
		get(esc + "/versions")
		code, body := get(esc + "/versions?deleted=true")
		var versions []int
		if code != http.StatusOK || json.Unmarshal([]byte(body), &versions) != nil {
			t.Fatalf("GET %s/versions?deleted=true: %d %s", esc, code, body)
		}
		for _, v := range versions {
			path := esc + "/versions/" + strconv.Itoa(v) + "?deleted=true"
			code, body := get(path)
			var rec struct {
				ID int `json:"id"`
			}
			if code != http.StatusOK || json.Unmarshal([]byte(body), &rec) != nil {
				t.Fatalf("GET %s: %d %s", path, code, body)
			}
			s.MaxID = max(s.MaxID, rec.ID)
			s.Records[subj+"/"+strconv.Itoa(v)] = canonJSON(body)
		}
	}
	if s.MaxID == 0 {
		t.Fatalf("the registry holds no schema at all (subjects: %v)", subjects)
	}
	for id := 1; id <= s.MaxID+2; id++ {
		get("/schemas/ids/" + strconv.Itoa(id))
		get("/schemas/ids/" + strconv.Itoa(id) + "/versions")
	}
	return s
}

// diff lists every answer that changed from s to after.
func (s regSnapshot) diff(after regSnapshot) []string {
	var out []string
	for path, want := range s.Answers {
		got, ok := after.Answers[path]
		switch {
		case !ok && strings.HasPrefix(path, "/schemas/ids/"):
			out = append(out, fmt.Sprintf("GET %s answered %s before the restart; after it, it was not asked (the largest id the registry shows is lower now)", path, clip(want)))
		case !ok:
			out = append(out, fmt.Sprintf("GET %s answered %s before the restart; after it, it was not asked (its subject is gone from /subjects?deleted=true)", path, clip(want)))
		case got != want:
			out = append(out, fmt.Sprintf("GET %s changed across the restart:\n  before: %s\n  after:  %s", path, clip(want), clip(got)))
		}
	}
	for path, got := range after.Answers {
		if _, ok := s.Answers[path]; !ok && !strings.HasPrefix(path, "/schemas/ids/") {
			out = append(out, fmt.Sprintf("GET %s answers %s after the restart but was not there before", path, clip(got)))
		}
	}
	sort.Strings(out)
	return out
}

func clip(s string) string {
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}

func pathEscape(s string) string { return url.PathEscape(s) }

func canonJSON(body string) string {
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		return body
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func httpDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	return resp.StatusCode, string(b)
}

// registerAvro registers an Avro schema with POST /subjects/{s}/versions and returns its id.
func registerAvro(t *testing.T, addr, subject, schema string) int {
	t.Helper()
	req, _ := json.Marshal(map[string]string{"schema": schema})
	code, body := httpDo(t, http.MethodPost, "http://"+addr+"/subjects/"+pathEscape(subject)+"/versions", string(req))
	var res struct {
		ID int `json:"id"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &res) != nil || res.ID == 0 {
		t.Fatalf("POST /subjects/%s/versions: %d %s", subject, code, body)
	}
	return res.ID
}

// ---- Node and Python registry drivers: one child process per phase ----

type regExec struct {
	name string
	argv []string
	dir  string
}

func (d regExec) run(ctx context.Context, t *testing.T, p regPhase) (regResult, error) {
	args := append(append([]string(nil), d.argv[1:]...),
		"--phase", p.Kind, "--brokers", p.Brokers, "--registry", p.Registry, "--prefix", p.Prefix,
		"--count", strconv.Itoa(p.Count))
	if len(p.Types) > 0 {
		args = append(args, "--types", strings.Join(p.Types, ","))
	}
	if dl, ok := ctx.Deadline(); ok {
		args = append(args, "--timeout-ms", strconv.FormatInt(time.Until(dl).Milliseconds()-5000, 10))
	}
	return runDriver[regResult](ctx, t, d.name, p.Kind, d.dir, nil, d.argv[0], args)
}
