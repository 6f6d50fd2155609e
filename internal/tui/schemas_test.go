package tui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/devstack-dev/devstack/internal/broker"
	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/schemareg"
	"github.com/devstack-dev/devstack/internal/schemas"
	"github.com/devstack-dev/devstack/internal/serde"
)

const invoiceAvsc = `{"type":"record","name":"Invoice","namespace":"shop","fields":[
 {"name":"id","type":"long"},{"name":"total","type":"double"},{"name":"memo","type":["null","string"],"default":null}]}`

// startRegistry runs the real schema registry (on a real broker) with invoiceAvsc registered as
// invoices-value, and returns its address.
func startRegistry(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := broker.Start(ctx, broker.Options{AutoCreate: true, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	r, err := schemareg.Start(ctx, schemareg.Options{Addr: "127.0.0.1:0", Kafka: []kgo.Opt{kgo.SeedBrokers(b.Addr())}, Topic: "_schemas", Compatibility: schemas.Backward})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	body, _ := json.Marshal(map[string]string{"schema": invoiceAvsc})
	resp, err := http.Post(r.URL()+"/subjects/invoices-value/versions", "application/vnd.schemaregistry.v1+json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("register: %s", resp.Status)
	}
	return r.Addr()
}

// typedFixture is the fixture stack with a registry and an invoices topic holding an Avro record
// and one framed with an id the registry does not know.
func typedFixture(t *testing.T, addr string) *fakeCtrl {
	t.Helper()
	f := fixture()
	f.bus.SetComponent(event.Component{Name: "registry", Status: event.StatusReady, Addr: addr})
	reg, err := serde.NewRegistry("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	res, err := reg.BySubject(context.Background(), "invoices-value", -1)
	if err != nil {
		t.Fatal(err)
	}
	avroRec, err := serde.Encode(res, []byte(`{"id": 1042, "total": 54.5, "memo": "gift"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.createTopic("invoices", 1)
	f.mu.Unlock()
	at := func(ago time.Duration) time.Time { return fixedNow.Add(-ago) }
	_ = f.Produce(context.Background(), "invoices", []event.Message{
		{Key: []byte("1042"), Value: avroRec, Timestamp: at(20 * time.Second)},
		{Key: []byte("1043"), Value: serde.AppendFrame(nil, 999, nil), Timestamp: at(10 * time.Second)},
	})
	f.mu.Lock()
	f.calls = nil
	f.mu.Unlock()
	return f
}

// TestGoldenSchemaFrames: the Messages view shows an Avro record decoded with its subject, version and
// id, and a record whose id the registry does not know as such, with its bytes.
// Update with: go test ./internal/tui -run TestGoldenSchemaFrames -update
func TestGoldenSchemaFrames(t *testing.T) {
	addr := startRegistry(t)
	// both records' schemas fetched: the Avro one decoded in the list, the unknown id said so
	open := []step{{wait: []string{"analytics"}}, {keys: "3", wait: []string{"invoices"}},
		{keys: "\r", wait: []string{"is unknown to the registry", `"total":54.5`}}}
	for _, v := range []struct {
		name  string
		steps []step
	}{
		{"unknown_id", open},
		{"avro", append(open[:len(open):len(open)], step{keys: "k", wait: []string{"invoices-value v1"}})},
	} {
		for _, size := range [][2]int{{80, 24}, {120, 40}} {
			t.Run(fmt.Sprintf("%s_%dx%d", v.name, size[0], size[1]), func(t *testing.T) {
				f := typedFixture(t, addr)
				m := newModel(context.Background(), f, Options{Version: "test"}, testConfig(termenv.ANSI))
				requireGoldenFrame(t, m, size, v.steps, nil)
			})
		}
	}
}

// TestProduceWithSubject: the produce dialog encodes the JSON value with a subject of the stack's
// registry, and refuses a value that does not match with the path.
func TestProduceWithSubject(t *testing.T) {
	addr := startRegistry(t)
	f := typedFixture(t, addr)
	m := newTestModel(t, f, config{}, 100, 30)
	press(m, "4")
	m.rec.topic = "invoices"
	press(m, "P", "shift+tab", "invoices-value", "tab", `{"id": 7, "total": "free"}`)
	msg := await[produceEncodedMsg](t, press(m, "ctrl+s"))
	m.Update(msg)
	p, ok := m.modal.(*produceModal)
	if !ok || !strings.Contains(p.err, "$.total: want double, got string") || !strings.Contains(m.View(), "$.total: want") {
		t.Fatalf("a mismatch was not refused with its path:\n%s", m.View())
	}
	p.value.SetValue(`{"id": 7, "total": 9.5}`)
	msg = await[produceEncodedMsg](t, press(m, "ctrl+s"))
	if msg.err != nil {
		t.Fatal(msg.err)
	}
	_, cmd := m.Update(msg)
	if m.modal != nil {
		t.Fatal("form still open after the value was encoded")
	}
	if a := await[actionMsg](t, cmd); a.err != nil {
		t.Fatal(a.err)
	}
	f.mu.Lock()
	recs := f.topics["invoices"].records[0]
	f.mu.Unlock()
	got := recs[len(recs)-1]
	reg, _ := serde.NewRegistry("http://" + addr)
	d, err := serde.Decode(context.Background(), reg, got.Value, "invoices-value")
	if err != nil || string(d.JSON) != `{"id":7,"total":9.5,"memo":null}` || d.Info.Subject != "invoices-value" {
		t.Fatalf("produced %x: %s %+v %v", got.Value, d.JSON, d.Info, err)
	}
	// a subject the registry does not have
	press(m, "P", "shift+tab", "nope-value", "tab", `{}`)
	msg = await[produceEncodedMsg](t, press(m, "ctrl+s"))
	m.Update(msg)
	if p, ok := m.modal.(*produceModal); !ok || !strings.Contains(p.err, `subject "nope-value" is not registered`) {
		t.Fatalf("unknown subject:\n%s", m.View())
	}
}

// TestFilterMatchesDecodedValues: the Messages filter finds a registry-framed record by its decoded
// JSON (54.5 is nowhere in the Avro bytes).
func TestFilterMatchesDecodedValues(t *testing.T) {
	addr := startRegistry(t)
	f := typedFixture(t, addr)
	m := newModel(context.Background(), f, Options{Version: "test"}, testConfig(termenv.Ascii))
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30))
	t.Cleanup(func() { _ = tm.Quit() })
	var out bytes.Buffer
	waitScreen(t, tm, &out, "analytics")
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("3")})
	waitScreen(t, tm, &out, "invoices")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitScreen(t, tm, &out, `"total":54.5`)
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("/54.5")})
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitScreen(t, tm, &out, "1/2 records")
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*Model)
	if len(fm.rec.matches) != 1 || fm.rec.ring.ptr(int(fm.rec.matches[0]-fm.rec.ring.first())).Offset != 0 {
		t.Fatalf("filter 54.5 lists %v", fm.rec.matches)
	}
}
