package schemareg

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/devstack-dev/devstack/internal/schemas"
)

// syncBuffer is a log destination tests read while the registry writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestExistingTopic: a _schemas topic made by someone else, with other settings, is used and the log
// says what differs.
func TestExistingTopic(t *testing.T) {
	c := cluster(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("delete")}, "_schemas"); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	r, err := Start(ctx, Options{
		Addr: "127.0.0.1:0", Kafka: []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, Topic: "_schemas",
		Compatibility: schemas.Backward, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, want := range []string{"partitions=3", "cleanup.policy=delete"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log does not say %s:\n%s", want, logs.String())
		}
	}
	if _, err := client(t, r).CreateSchema(ctx, "a-value", sr.Schema{Schema: orderV1}); err != nil {
		t.Errorf("registering on the existing topic: %v", err)
	}
}

// TestConfluentRecords: a _schemas topic written by Confluent's registry (its key and value shapes,
// no content keys) is read: subjects, ids, levels and deletes are back, and the same schema registered
// under another subject gets the id Confluent gave it.
func TestConfluentRecords(t *testing.T) {
	c := cluster(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("_schemas"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, "_schemas"); err != nil {
		t.Fatal(err)
	}
	recs := [][2]string{
		{`{"keytype":"NOOP","magic":0}`, ``},
		{`{"keytype":"SCHEMA","subject":"orders-value","version":1,"magic":1}`, `{"subject":"orders-value","version":1,"id":7,"schema":"{\"type\":\"record\",\"name\":\"Order\",\"namespace\":\"shop\",\"fields\":[{\"name\":\"id\",\"type\":\"string\"}]}","deleted":false}`},
		{`{"keytype":"SCHEMA","subject":"gone-value","version":1,"magic":1}`, `{"subject":"gone-value","version":1,"id":9,"schema":"\"string\"","deleted":false}`},
		{`{"keytype":"DELETE_SUBJECT","subject":"gone-value","magic":0}`, `{"subject":"gone-value","version":1}`},
		{`{"keytype":"CONFIG","subject":null,"magic":0}`, `{"compatibilityLevel":"FULL"}`},
		{`{"keytype":"CONFIG","subject":"orders-value","magic":0}`, `{"compatibilityLevel":"NONE"}`},
		{`{"keytype":"MODE","subject":null,"magic":0}`, `{"mode":"READWRITE"}`},
		{`{"keytype":"SCHEMA","subject":"tomb-value","version":1,"magic":1}`, `{"subject":"tomb-value","version":1,"id":8,"schema":"\"int\"","deleted":true}`},
		{`{"keytype":"SCHEMA","subject":"tomb-value","version":1,"magic":1}`, ""}, // a hard delete
		{`not json`, `{}`},
	}
	for _, kv := range recs {
		rec := &kgo.Record{Key: []byte(kv[0])}
		if kv[1] != "" {
			rec.Value = []byte(kv[1])
		}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	r := start(t, c)
	src := client(t, r)
	if subs := must(src.Subjects(ctx))(t); strings.Join(subs, ",") != "orders-value" {
		t.Errorf("subjects: %v", subs)
	}
	if subs := must(src.Subjects(sr.WithParams(ctx, sr.ShowDeleted)))(t); strings.Join(subs, ",") != "gone-value,orders-value" {
		t.Errorf("subjects with the deleted: %v", subs)
	}
	if cr := src.Compatibility(ctx); cr[0].Level != sr.CompatFull {
		t.Errorf("global level: %v", cr[0].Level)
	}
	if cr := src.Compatibility(ctx, "orders-value"); cr[0].Level != sr.CompatNone {
		t.Errorf("orders-value's level: %v", cr[0].Level)
	}
	spaced := "{ \"type\": \"record\", \"name\": \"Order\", \"namespace\": \"shop\",\n  \"fields\": [ { \"name\": \"id\", \"type\": \"string\" } ] }"
	ss := must(src.CreateSchema(ctx, "audit-value", sr.Schema{Schema: spaced}))(t)
	if ss.ID != 7 {
		t.Errorf("Confluent's schema under another subject: id %d, want 7", ss.ID)
	}
	n := must(src.CreateSchema(ctx, "new-value", sr.Schema{Schema: `"bytes"`}))(t)
	if n.ID != 10 {
		t.Errorf("a new schema's id: %d, want 10 (after Confluent's 7, 8 and 9)", n.ID)
	}
}
