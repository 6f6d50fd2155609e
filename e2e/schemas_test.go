//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestSchemaEvolution edits sample-services/schemas/orders.placed.avsc (registered by devstack.yaml's
// registry.subjects) in a copy of the running stack while orders flow through users (NestJS, Avro out),
// the scorer (Go) and analytics (Django):
//   - an incompatible edit (a new field without a default) is refused: `devstack status` says so, the
//     registry's latest version stays, and orders keep flowing with the old version;
//   - a compatible edit (a new field with a default) becomes a new version, the producer writes with it
//     (its id in the record, the new field in the value) and both consumers still decode it.
//
// It runs in a copy (like TestHotReload) so the repository's schema file is never touched.
func TestSchemaEvolution(t *testing.T) {
	bin, dir := newStackCopy(t)
	g, ports := startStackPorts(t, bin, dir)
	reg := &registryClient{base: fmt.Sprintf("http://127.0.0.1:%d", ports["REGISTRY_PORT"]), hc: gatewayHTTPClient()}
	file := filepath.Join(dir, "sample-services", "schemas", "orders.placed.avsc")
	original, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.WriteFile(file, original, 0o644) })

	const subject = "orders.placed-value"
	base := reg.latest(t, subject)
	watch := watchPlaced(t, fmt.Sprintf("127.0.0.1:%d", ports["BROKER_PORT"]), reg)
	u := g.newUser(t, "schemas")
	analyst := g.clientToken(t)
	scored := func(what string, o order) {
		t.Helper()
		g.waitScored(t, analyst, o.ID, what)
	}
	o0, _ := g.placeOrder(t, u, "before", 1, 1000)
	scored("an order before any edit is scored", o0)
	if rec := watch.order(t, o0.ID); rec.schemaID != base.ID {
		t.Fatalf("orders.placed written with schema id %d, want %s's latest %d", rec.schemaID, subject, base.ID)
	}

	t.Run("incompatible edit refused", func(t *testing.T) {
		field := "e2e_required_" + randomHex(4)
		writeWithField(t, file, original, `{"name": "`+field+`", "type": "string"}`)
		eventually(t, 60*time.Second, "devstack status reports the refused edit", func() (bool, string) {
			out := devstackStatus(t, bin, dir, ports)
			return strings.Contains(out, subject) && strings.Contains(strings.ToLower(out), "incompatible"), out
		})
		if now := reg.latest(t, subject); now.Version != base.Version || now.ID != base.ID {
			t.Fatalf("latest %s is version %d (id %d) after an incompatible edit; want version %d (id %d) to stay", subject, now.Version, now.ID, base.Version, base.ID)
		}
		for _, v := range reg.versions(t, subject) {
			if s := reg.version(t, subject, v); strings.Contains(s.Schema, field) {
				t.Fatalf("the incompatible schema was registered as version %d", v)
			}
		}
		o, _ := g.placeOrder(t, u, "while-refused", 1, 1100)
		scored("an order placed while the edit is refused is scored", o)
		if rec := watch.order(t, o.ID); rec.schemaID != base.ID {
			t.Fatalf("orders.placed written with schema id %d, want the running version's %d", rec.schemaID, base.ID)
		}
	})

	t.Run("compatible edit picked up", func(t *testing.T) {
		field := "e2e_channel_" + randomHex(4)
		writeWithField(t, file, original, `{"name": "`+field+`", "type": "string", "default": "web"}`)
		var newer subjectVersion
		eventually(t, 60*time.Second, "the compatible edit is registered as a new version", func() (bool, string) {
			newer = reg.latest(t, subject)
			return newer.Version > base.Version && strings.Contains(newer.Schema, field), fmt.Sprintf("latest: version %d id %d", newer.Version, newer.ID)
		})
		eventually(t, 60*time.Second, "devstack status no longer reports a refused edit", func() (bool, string) {
			out := devstackStatus(t, bin, dir, ports)
			return !strings.Contains(strings.ToLower(out), "incompatible"), out
		})
		// users looks the latest id up again within a second (SCHEMA_LATEST_TTL_MS); place orders until
		// one is written with the new version, then it must be scored like any other.
		var o order
		var rec placedRecord
		eventually(t, 30*time.Second, "an order written with the new version", func() (bool, string) {
			o, _ = g.placeOrder(t, u, "after-edit", 1, 1200)
			rec = watch.order(t, o.ID)
			return rec.schemaID == newer.ID, fmt.Sprintf("order %s written with schema id %d, want %d", o.ID, rec.schemaID, newer.ID)
		})
		if got := rec.value[field]; got != "web" {
			t.Fatalf("the new field %s = %v in the record, want its default \"web\" (value %v)", field, got, rec.value)
		}
		scored("an order written with the new version is scored (scorer and analytics decode it)", o)
	})
}

func writeWithField(t *testing.T, file string, original []byte, field string) {
	t.Helper()
	i := bytes.LastIndexByte(original, ']') // the end of the record's fields
	if i < 0 {
		t.Fatalf("%s: no fields array", file)
	}
	edited := append(append(append([]byte{}, original[:i]...), []byte(",\n    "+field+"\n  ")...), original[i:]...)
	if err := os.WriteFile(file, edited, 0o644); err != nil {
		t.Fatal(err)
	}
}

// devstackStatus runs `devstack status` against the copy (its control port).
func devstackStatus(t *testing.T, bin, dir string, ports map[string]int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "status")
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); ports[name] == 0 && !strings.HasPrefix(name, "DEVSTACK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range ports {
		cmd.Env = append(cmd.Env, k+"="+strconv.Itoa(v))
	}
	out, err := cmd.CombinedOutput()
	if err != nil && ctx.Err() != nil {
		t.Fatalf("devstack status: %v\n%s", err, out)
	}
	return string(out)
}

// registryClient reads the schema registry's REST API (Confluent's v1).
type registryClient struct {
	base string
	hc   *http.Client
}

type subjectVersion struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
	ID      int    `json:"id"`
	Schema  string `json:"schema"`
}

func (r *registryClient) get(t *testing.T, path string, v any) {
	t.Helper()
	res, err := r.hc.Get(r.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
}

func (r *registryClient) latest(t *testing.T, subject string) subjectVersion {
	t.Helper()
	var s subjectVersion
	r.get(t, "/subjects/"+url.PathEscape(subject)+"/versions/latest", &s)
	return s
}

func (r *registryClient) version(t *testing.T, subject string, v int) subjectVersion {
	t.Helper()
	var s subjectVersion
	r.get(t, fmt.Sprintf("/subjects/%s/versions/%d", url.PathEscape(subject), v), &s)
	return s
}

func (r *registryClient) versions(t *testing.T, subject string) []int {
	t.Helper()
	var vs []int
	r.get(t, "/subjects/"+url.PathEscape(subject)+"/versions", &vs)
	return vs
}

type placedRecord struct {
	schemaID int
	value    map[string]any
}

// placedWatcher reads orders.placed from the start and decodes every record with the schema its id
// names, as any consumer of the registry does.
type placedWatcher struct {
	mu      sync.Mutex
	byOrder map[string]placedRecord
}

func watchPlaced(t *testing.T, brokers string, reg *registryClient) *placedWatcher {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics("orders.placed"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	w := &placedWatcher{byOrder: map[string]placedRecord{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	schemas := map[int]avro.Schema{}
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				if len(r.Value) < 5 || r.Value[0] != 0 {
					return // someone's poison message
				}
				id := int(binary.BigEndian.Uint32(r.Value[1:5]))
				s, ok := schemas[id]
				if !ok {
					var err error
					if s, err = avro.Parse(reg.schemaByIDNoFail(id)); err != nil {
						return
					}
					schemas[id] = s
				}
				var v map[string]any
				if err := avro.Unmarshal(s, r.Value[5:], &v); err != nil {
					return
				}
				if oid, _ := v["order_id"].(string); oid != "" {
					w.mu.Lock()
					w.byOrder[oid] = placedRecord{schemaID: id, value: v}
					w.mu.Unlock()
				}
			})
		}
	}()
	t.Cleanup(func() { cancel(); <-done; cl.Close() })
	return w
}

func (r *registryClient) schemaByIDNoFail(id int) string {
	res, err := r.hc.Get(fmt.Sprintf("%s/schemas/ids/%d", r.base, id))
	if err != nil {
		return ""
	}
	defer res.Body.Close()
	var s struct {
		Schema string `json:"schema"`
	}
	_ = json.NewDecoder(res.Body).Decode(&s)
	return s.Schema
}

// order waits for the orders.placed record of order id.
func (w *placedWatcher) order(t *testing.T, id string) placedRecord {
	t.Helper()
	var rec placedRecord
	eventually(t, 30*time.Second, "the orders.placed record of order "+id, func() (bool, string) {
		w.mu.Lock()
		defer w.mu.Unlock()
		var ok bool
		rec, ok = w.byOrder[id]
		return ok, fmt.Sprintf("%d orders seen", len(w.byOrder))
	})
	return rec
}
