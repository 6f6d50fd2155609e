package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/devstack-dev/devstack/sample-services/scorer/internal/events"
	"github.com/devstack-dev/devstack/sample-services/scorer/internal/risk"
)

// schema compiles sample-services/schemas/<topic>.schema.json, the contract every service shares.
func schema(t *testing.T, topic string) *jsonschema.Schema {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "..", "schemas", topic+".schema.json")
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

func startPipeline(t *testing.T, brokers []string) (stop func()) {
	t.Helper()
	p, err := New(Options{Brokers: brokers, Group: "scorer-test", Scorer: risk.New(risk.DefaultConfig())})
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

func TestPipelineScoresAndDeadLetters(t *testing.T) {
	brokers := startBroker(t)
	startPipeline(t, brokers)
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()

	const user = "11111111-1111-4111-8111-111111111111"
	produce := func(value []byte, corr string) {
		t.Helper()
		r := &kgo.Record{Topic: events.TopicPlaced, Key: []byte(user), Value: value,
			Headers: []kgo.RecordHeader{{Key: events.HeaderCorrelationID, Value: []byte(corr)}}}
		if err := prod.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	mustJSON := func(v any) []byte { b, _ := json.Marshal(v); return b }
	invalid := placed(2, user)
	invalid.UserID = ""

	produce(mustJSON(placed(1, user)), "req-1")
	produce([]byte("{this is not json"), "req-poison")
	produce(mustJSON(invalid), "req-invalid")
	produce(mustJSON(placed(3, user)), "req-3")

	c := newCollector(t, brokers)
	scored := c.waitFor(t, events.TopicScored, 2)
	dlq := c.waitFor(t, events.TopicDLQ, 2)

	scoredSchema, dlqSchema := schema(t, events.TopicScored), schema(t, events.TopicDLQ)
	tests := []struct {
		name   string
		rec    *kgo.Record
		schema *jsonschema.Schema
		corr   string
		check  func(t *testing.T, value []byte)
	}{
		{"first order scored", scored[0], scoredSchema, "req-1", func(t *testing.T, v []byte) {
			var s events.OrderScored
			_ = json.Unmarshal(v, &s)
			if s.OrderID != placed(1, user).OrderID || s.Window.Orders != 1 || s.Decision != risk.Approve {
				t.Fatalf("unexpected score %+v", s)
			}
		}},
		{"order after the poison message still scored", scored[1], scoredSchema, "req-3", func(t *testing.T, v []byte) {
			var s events.OrderScored
			_ = json.Unmarshal(v, &s)
			if s.OrderID != placed(3, user).OrderID || s.Window.Orders != 2 {
				t.Fatalf("unexpected score %+v", s)
			}
		}},
		{"bad JSON dead-lettered", dlq[0], dlqSchema, "req-poison", func(t *testing.T, v []byte) {
			var d events.DeadLetter
			_ = json.Unmarshal(v, &d)
			if d.SourceTopic != events.TopicPlaced || d.Offset != 1 || d.Value != "{this is not json" || d.ConsumerGroup != "scorer-test" {
				t.Fatalf("unexpected dead letter %+v", d)
			}
		}},
		{"invalid order dead-lettered", dlq[1], dlqSchema, "req-invalid", func(t *testing.T, v []byte) {
			var d events.DeadLetter
			_ = json.Unmarshal(v, &d)
			if d.Offset != 2 || !bytes.Contains([]byte(d.Error), []byte("user_id")) {
				t.Fatalf("unexpected dead letter %+v", d)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			validate(t, tt.schema, tt.rec.Value)
			if got := headerOf(tt.rec, events.HeaderCorrelationID); got != tt.corr {
				t.Fatalf("correlation-id = %q, want %q", got, tt.corr)
			}
			if string(tt.rec.Key) != user {
				t.Fatalf("key = %q, want the user id", tt.rec.Key)
			}
			tt.check(t, tt.rec.Value)
		})
	}
}

func TestPipelineCommitsOffsets(t *testing.T) {
	brokers := startBroker(t)
	stop := startPipeline(t, brokers)
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const user = "22222222-2222-4222-8222-222222222222"
	send := func(n int) {
		v, _ := json.Marshal(placed(n, user))
		if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: events.TopicPlaced, Key: []byte(user), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	c := newCollector(t, brokers)
	send(1)
	c.waitFor(t, events.TopicScored, 1)
	stop()

	// A new member of the same group resumes after the committed offset: order 1 is not scored again.
	startPipeline(t, brokers)
	send(2)
	got := c.waitFor(t, events.TopicScored, 2)
	var s events.OrderScored
	_ = json.Unmarshal(got[1].Value, &s)
	if s.OrderID != placed(2, user).OrderID {
		t.Fatalf("second scored record is %s, want order 2 (order 1 was re-consumed?)", s.OrderID)
	}
	// Produced by the idempotent producer: a producer id is assigned.
	if got[1].ProducerID < 0 {
		t.Fatalf("record has no producer id; idempotent producing is off")
	}
}

func TestPlacedSchemaMatchesEvents(t *testing.T) {
	v, _ := json.Marshal(placed(1, "33333333-3333-4333-8333-333333333333"))
	validate(t, schema(t, events.TopicPlaced), v)
}
