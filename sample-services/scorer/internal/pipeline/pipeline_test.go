package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/devstack-dev/devstack/sample-services/scorer/internal/codec"
	"github.com/devstack-dev/devstack/sample-services/scorer/internal/events"
	"github.com/devstack-dev/devstack/sample-services/scorer/internal/risk"
)

// schemaFile is sample-services/schemas/<name>, the contract every service shares.
func schemaFile(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "schemas", name)
}

// registry is an in-memory registry (franz-go's srfake: the scorer's unit tests run alone) holding
// the schema files as devstack.yaml's registry.subjects registers them. The e2e suite runs the scorer
// against devstack's own registry.
type registry struct {
	*srfake.Registry
	placedID int
	placed   avro.Schema
}

func startRegistry(t *testing.T) *registry {
	t.Helper()
	r := &registry{Registry: srfake.New()}
	t.Cleanup(r.Close)
	r.placedID, r.placed = r.register(t, events.SubjectPlaced, avscText(t, "orders.placed.avsc"))
	r.register(t, events.SubjectScored, avscText(t, "orders.scored.avsc"))
	return r
}

func avscText(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(schemaFile(name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (r *registry) register(t *testing.T, subject, text string) (int, avro.Schema) {
	t.Helper()
	s, err := avro.Parse(text)
	if err != nil {
		t.Fatalf("%s: %v", subject, err)
	}
	id, _, err := r.RegisterSchema(subject, sr.Schema{Schema: text, Type: sr.TypeAvro})
	if err != nil {
		t.Fatalf("register %s: %v", subject, err)
	}
	return id, s
}

// latest is the subject's latest id and schema.
func (r *registry) latest(t *testing.T, subject string) (int, avro.Schema) {
	t.Helper()
	cl, err := sr.NewClient(sr.URLs(r.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := cl.SchemaByVersion(context.Background(), subject, -1)
	if err != nil {
		t.Fatalf("latest %s: %v", subject, err)
	}
	s, err := avro.Parse(ss.Schema.Schema)
	if err != nil {
		t.Fatal(err)
	}
	return ss.ID, s
}

func (r *registry) placedValue(t *testing.T, o events.OrderPlaced) []byte {
	t.Helper()
	v, err := codec.PlacedValue(r.placed, r.placedID, o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// schema compiles sample-services/schemas/<topic>.schema.json (the dead letters' JSON Schema).
func schema(t *testing.T, topic string) *jsonschema.Schema {
	t.Helper()
	path := schemaFile(topic + ".schema.json")
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	s, err := c.Compile(path)
	if err != nil {
		t.Fatalf("compile %s: %v", path, err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, value []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(value))
	if err != nil {
		t.Fatalf("not JSON: %v: %s", err, value)
	}
	if err := s.Validate(v); err != nil {
		t.Fatalf("violates %s: %v\n%s", s.Location, err, value)
	}
}

func startBroker(t *testing.T) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, events.TopicPlaced, events.TopicScored, events.TopicDLQ))
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func startPipeline(t *testing.T, brokers []string, reg *registry, with ...func(*Options)) (stop func()) {
	t.Helper()
	// RefreshEvery 0: every record looks up the latest orders.scored, so a new version is used at once.
	cdc, err := codec.New(codec.Options{RegistryURL: reg.URL(), ScoredSubject: events.SubjectScored})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Brokers: brokers, Group: "scorer-test", Scorer: risk.New(risk.DefaultConfig()), Codec: cdc}
	for _, f := range with {
		f(&opts)
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once bool
	stop = func() {
		if once {
			return
		}
		once = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		p.Close()
	}
	t.Cleanup(stop)
	return stop
}

func placed(n int, user string) events.OrderPlaced {
	return events.OrderPlaced{
		SchemaVersion: 1,
		OrderID:       fmt.Sprintf("00000000-0000-4000-8000-%012d", n),
		UserID:        user,
		Items:         []events.Item{{SKU: "book", Quantity: 2, UnitPriceCents: 1250}},
		TotalCents:    2500,
		Currency:      "EUR",
		PlacedAt:      time.Now().UTC().Truncate(time.Millisecond),
	}
}

// collector reads orders.scored and orders.dlq from the start.
type collector struct {
	cl  *kgo.Client
	got map[string][]*kgo.Record
}

func newCollector(t *testing.T, brokers []string) *collector {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(events.TopicScored, events.TopicDLQ),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &collector{cl: cl, got: map[string][]*kgo.Record{}}
}

// waitFor polls until topic has n records or the deadline passes.
func (c *collector) waitFor(t *testing.T, topic string, n int) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(c.got[topic]) < n {
		fs := c.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("timed out waiting for %d records on %s, have %d", n, topic, len(c.got[topic]))
		}
		fs.EachRecord(func(r *kgo.Record) { c.got[r.Topic] = append(c.got[r.Topic], r) })
	}
	return c.got[topic]
}

func headerOf(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

func decodeScored(t *testing.T, reg *registry, r *kgo.Record) events.OrderScored {
	t.Helper()
	id, err := codec.SchemaID(r.Value)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	writer, err := cl.SchemaByID(context.Background(), id)
	if err != nil {
		t.Fatalf("orders.scored written with schema id %d, unknown to the registry: %v", id, err)
	}
	s, err := codec.DecodeScored(avro.MustParse(writer.Schema), r.Value)
	if err != nil {
		t.Fatalf("decode orders.scored: %v", err)
	}
	return s
}

// newProducer is a client of brokers for the test's records, closed when the test ends.
func newProducer(t *testing.T, brokers []string) *kgo.Client {
	t.Helper()
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	return prod
}

func TestPipelineScoresAndDeadLetters(t *testing.T) {
	brokers := startBroker(t)
	reg := startRegistry(t)
	startPipeline(t, brokers, reg)
	prod := newProducer(t, brokers)

	const user = "11111111-1111-4111-8111-111111111111"
	produce := func(value []byte, corr string) {
		t.Helper()
		r := &kgo.Record{Topic: events.TopicPlaced, Key: []byte(user), Value: value,
			Headers: []kgo.RecordHeader{{Key: events.HeaderCorrelationID, Value: []byte(corr)}}}
		if err := prod.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	invalid := placed(2, user)
	invalid.UserID = ""
	unknownID := reg.placedValue(t, placed(5, user))
	unknownID[4] = 99 // schema id 99: not in the registry

	produce(reg.placedValue(t, placed(1, user)), "req-1")
	produce([]byte("{this is not avro"), "req-poison")
	produce(reg.placedValue(t, invalid), "req-invalid")
	produce(unknownID, "req-unknown-id")
	produce(reg.placedValue(t, placed(3, user)), "req-3")

	c := newCollector(t, brokers)
	scored := c.waitFor(t, events.TopicScored, 2)
	dlq := c.waitFor(t, events.TopicDLQ, 3)

	scoredID, _ := reg.latest(t, events.SubjectScored)
	dlqSchema := schema(t, events.TopicDLQ)
	avroRecord := func(order int, windowOrders int) func(t *testing.T, r *kgo.Record) {
		return func(t *testing.T, r *kgo.Record) {
			if id, err := codec.SchemaID(r.Value); err != nil || id != scoredID {
				t.Fatalf("schema id = %d (%v), want orders.scored-value's latest %d", id, err, scoredID)
			}
			s := decodeScored(t, reg, r)
			if s.OrderID != placed(order, user).OrderID || s.Window.Orders != windowOrders || s.Decision != risk.Approve {
				t.Fatalf("unexpected score %+v", s)
			}
			if s.PlacedAt.IsZero() || s.ScoredAt.IsZero() || len(s.Reasons) != 0 {
				t.Fatalf("dates or reasons lost: %+v", s)
			}
			if got := headerOf(r, events.HeaderContentType); got != events.ContentTypeAvro {
				t.Fatalf("content-type = %q", got)
			}
		}
	}
	deadLetter := func(offset int64, errContains string, original []byte) func(t *testing.T, r *kgo.Record) {
		return func(t *testing.T, r *kgo.Record) {
			validate(t, dlqSchema, r.Value)
			var d events.DeadLetter
			_ = json.Unmarshal(r.Value, &d)
			if d.SourceTopic != events.TopicPlaced || d.Offset != offset || d.ConsumerGroup != "scorer-test" || !strings.Contains(d.Error, errContains) {
				t.Fatalf("unexpected dead letter %+v", d)
			}
			if original != nil && !bytes.Equal(d.ValueBase64, original) {
				t.Fatalf("dead letter lost the original bytes: %q", d.ValueBase64)
			}
		}
	}
	tests := []struct {
		name  string
		rec   *kgo.Record
		corr  string
		check func(t *testing.T, r *kgo.Record)
	}{
		{"first order scored", scored[0], "req-1", avroRecord(1, 1)},
		{"order after the poison messages still scored", scored[1], "req-3", avroRecord(3, 2)},
		{"not Confluent-framed Avro dead-lettered", dlq[0], "req-poison", deadLetter(1, "magic byte", []byte("{this is not avro"))},
		{"invalid order dead-lettered", dlq[1], "req-invalid", deadLetter(2, "user_id", nil)},
		{"unknown schema id dead-lettered", dlq[2], "req-unknown-id", deadLetter(3, "schema id 99", unknownID)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := headerOf(tt.rec, events.HeaderCorrelationID); got != tt.corr {
				t.Fatalf("correlation-id = %q, want %q", got, tt.corr)
			}
			if string(tt.rec.Key) != user {
				t.Fatalf("key = %q, want the user id", tt.rec.Key)
			}
			tt.check(t, tt.rec)
		})
	}
}

// A compatible new version of either schema (a new field with a default) is picked up while running:
// orders.placed written with it still decodes, orders.scored is written with it.
func TestPipelineFollowsNewSchemaVersions(t *testing.T) {
	brokers := startBroker(t)
	reg := startRegistry(t)
	startPipeline(t, brokers, reg)
	prod := newProducer(t, brokers)
	const user = "44444444-4444-4444-8444-444444444444"
	send := func(v []byte) {
		t.Helper()
		if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: events.TopicPlaced, Key: []byte(user), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	c := newCollector(t, brokers)
	send(reg.placedValue(t, placed(1, user)))
	first := c.waitFor(t, events.TopicScored, 1)[0]
	v1, _ := codec.SchemaID(first.Value)

	withField := func(text, field string) string {
		i := strings.LastIndex(text, "]")
		return text[:i] + `, {"name": "` + field + `", "type": "string", "default": "web"}` + text[i:]
	}
	reg.placedID, reg.placed = reg.register(t, events.SubjectPlaced, withField(avscText(t, "orders.placed.avsc"), "channel"))
	v2, _ := reg.register(t, events.SubjectScored, withField(avscText(t, "orders.scored.avsc"), "channel"))
	if v2 == v1 {
		t.Fatalf("the new orders.scored version got the old id %d", v1)
	}
	send(reg.placedValue(t, placed(2, user))) // written with orders.placed v2
	second := c.waitFor(t, events.TopicScored, 2)[1]
	if id, _ := codec.SchemaID(second.Value); id != v2 {
		t.Fatalf("orders.scored after the new version: schema id %d, want %d (v1 was %d)", id, v2, v1)
	}
	if s := decodeScored(t, reg, second); s.OrderID != placed(2, user).OrderID || s.Window.Orders != 2 {
		t.Fatalf("unexpected score %+v", s)
	}
	if n := len(c.got[events.TopicDLQ]); n != 0 {
		t.Fatalf("%d dead letters, want none", n)
	}
}

func TestPipelineCommitsOffsets(t *testing.T) {
	brokers := startBroker(t)
	reg := startRegistry(t)
	stop := startPipeline(t, brokers, reg)
	prod := newProducer(t, brokers)
	const user = "22222222-2222-4222-8222-222222222222"
	send := func(n int) {
		if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: events.TopicPlaced, Key: []byte(user), Value: reg.placedValue(t, placed(n, user))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	c := newCollector(t, brokers)
	send(1)
	c.waitFor(t, events.TopicScored, 1)
	stop()

	// A new member of the same group resumes after the committed offset: order 1 is not scored again.
	startPipeline(t, brokers, reg)
	send(2)
	got := c.waitFor(t, events.TopicScored, 2)
	if s := decodeScored(t, reg, got[1]); s.OrderID != placed(2, user).OrderID {
		t.Fatalf("second scored record is %s, want order 2 (order 1 was re-consumed?)", s.OrderID)
	}
	// Produced by the idempotent producer: a producer id is assigned.
	if got[1].ProducerID < 0 {
		t.Fatalf("record has no producer id; idempotent producing is off")
	}
}

// The events round-trip through the schema file: every field the scorer reads arrives.
func TestPlacedSchemaMatchesEvents(t *testing.T) {
	reg := startRegistry(t)
	cdc, err := codec.New(codec.Options{RegistryURL: reg.URL(), ScoredSubject: events.SubjectScored})
	if err != nil {
		t.Fatal(err)
	}
	for _, country := range []string{"DE", ""} {
		in := placed(1, "33333333-3333-4333-8333-333333333333")
		in.ShippingCountry = country
		out, err := cdc.DecodePlaced(context.Background(), reg.placedValue(t, in))
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(out) != fmt.Sprint(in) || !out.PlacedAt.Equal(in.PlacedAt) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
		}
	}
}
