package schemareg

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/devstack-dev/devstack/internal/schemas"
	"github.com/devstack-dev/devstack/internal/testkit"
)

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
	var logs testkit.SyncBuffer
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

// TestCompactedIDs: once compaction removed a hard-deleted schema's records, the NOOP record the hard
// delete wrote still keeps its id from being given again.
func TestCompactedIDs(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	r := start(t, c)
	src := client(t, r)
	must(src.CreateSchema(ctx, "keep-value", sr.Schema{Schema: orderV1}))(t)
	gone := must(src.CreateSchema(ctx, "gone-value", sr.Schema{Schema: item}))(t)
	must(src.DeleteSubject(ctx, "gone-value", sr.SoftDelete))(t)
	must(src.DeleteSubject(ctx, "gone-value", sr.HardDelete))(t)
	r.Close()

	// What compaction leaves: the latest record of each key, tombstones gone, in a new topic.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("_schemas"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	latest := map[string][]byte{}
	var order []string
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, "_schemas")
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup("_schemas", 0)
	for read := int64(0); read < end.Offset; {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		fs := cl.PollFetches(fctx)
		timedOut := fctx.Err() != nil
		cancel()
		if timedOut {
			t.Fatalf("read %d of %d records of _schemas", read, end.Offset)
		}
		fs.EachRecord(func(rec *kgo.Record) {
			read = rec.Offset + 1
			k := string(rec.Key)
			if _, ok := latest[k]; !ok {
				order = append(order, k)
			}
			latest[k] = rec.Value
		})
	}
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, "_compacted"); err != nil {
		t.Fatal(err)
	}
	for _, k := range order {
		if latest[k] == nil {
			continue
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "_compacted", Key: []byte(k), Value: latest[k]}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	r2, err := Start(ctx, Options{Addr: "127.0.0.1:0", Kafka: []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, Topic: "_compacted", Compatibility: schemas.Backward, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	n := must(client(t, r2).CreateSchema(ctx, "new-value", sr.Schema{Schema: `"bytes"`}))(t)
	if n.ID <= gone.ID {
		t.Errorf("after compaction, a new schema got id %d, want more than %d (hard-deleted)", n.ID, gone.ID)
	}
}

// TestTransactionalTail: a topic whose last offset holds no record a consumer sees (a transaction's
// commit marker; compaction can leave such a tail too) does not keep Start waiting.
func TestTransactionalTail(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	r := start(t, c)
	must(client(t, r).CreateSchema(ctx, "a-value", sr.Schema{Schema: orderV1}))(t)
	r.Close()
	tx, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.TransactionalID("other-writer"), kgo.DefaultProduceTopic("_schemas"))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := tx.ProduceSync(ctx, &kgo.Record{Key: []byte(`{"keytype":"CONFIG","subject":"a-value","magic":0}`), Value: []byte(`{"compatibilityLevel":"NONE"}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	defer func(d time.Duration) { startStall = d }(startStall)
	startStall = 200 * time.Millisecond
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	r2, err := Start(sctx, Options{Addr: "127.0.0.1:0", Kafka: []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, Topic: "_schemas", Compatibility: schemas.Backward, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Start on a topic ending in a transaction marker: %v", err)
	}
	defer r2.Close()
	if cr := client(t, r2).Compatibility(ctx, "a-value"); cr[0].Level != sr.CompatNone {
		t.Errorf("the committed record: level %v, want NONE", cr[0].Level)
	}
}
