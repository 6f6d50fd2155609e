package broker

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/devstack-dev/devstack/internal/event"
)

// gathered returns every sample's value by name and label values ("name{a,b}"), collected by a
// pedantic registry (which also checks the collector's descriptions).
func gathered(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			k := mf.GetName() + "{"
			for i, l := range m.GetLabel() {
				if i > 0 {
					k += ","
				}
				k += l.GetValue()
			}
			k += "}"
			switch {
			case m.Counter != nil:
				out[k] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[k] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

func TestCollectorTopicsAndLag(t *testing.T) {
	b := startBroker(t, Options{Topics: []TopicSpec{{Name: "m", Partitions: 1}}})
	ctx := testCtx(t)
	prod := newClient(t, b.Addr())
	produceN(t, ctx, prod, "m", 0, 10)
	cl := newClient(t, b.Addr(), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("m"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	for n := 0; n < 10; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		n += fs.NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	produceN(t, ctx, prod, "m", 10, 3)

	got := gathered(t, NewCollector(b.Admin, 5*time.Second))
	if v := got["devstack_broker_topic_bytes{m}"]; v < 13*3 {
		t.Errorf("devstack_broker_topic_bytes{m} = %v, want at least the values' bytes", v)
	}
	for k, want := range map[string]float64{
		"devstack_broker_topic_records_in_total{m}": 13,
		"devstack_broker_topic_records{m}":          13,
		"devstack_broker_topic_partitions{m}":       1,
		"devstack_broker_group_lag{g,0,m}":          3,
		"devstack_broker_up{}":                      1,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v; all: %v", k, v, ok, want, got)
		}
	}
}

// A broker that is gone makes the scrape report down within the timeout, not hang.
func TestCollectorBrokerGone(t *testing.T) {
	b := startBroker(t, Options{})
	c := NewCollector(b.Admin, 500*time.Millisecond)
	b.Close()
	start := time.Now()
	got := gathered(t, c)
	if got["devstack_broker_up{}"] != 0 {
		t.Fatalf("up = %v with the broker closed", got["devstack_broker_up{}"])
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("scrape took %s with a 500ms timeout", d)
	}
}

// The out series count what consumers fetched, per topic; devstack's own message tap is not a consumer.
func TestCollectorRecordsOut(t *testing.T) {
	b := startBroker(t, Options{Topics: []TopicSpec{{Name: "m", Partitions: 2}, {Name: "idle", Partitions: 1}}})
	ctx := testCtx(t)
	prod := newClient(t, b.Addr())
	produceN(t, ctx, prod, "m", 0, 10)

	msgs, err := b.Admin().Messages(ctx, event.MessageQuery{Topic: "m", Partition: -1, From: "beginning"})
	if err != nil {
		t.Fatal(err)
	}
	tapped := 0
	for range msgs {
		tapped++
	}
	if tapped != 10 {
		t.Fatalf("tap read %d records, want 10", tapped)
	}
	got := gathered(t, NewCollector(b.Admin, 5*time.Second))
	for k, want := range map[string]float64{
		"devstack_broker_topic_records_out_total{m}":    0,
		"devstack_broker_topic_bytes_out_total{m}":      0,
		"devstack_broker_topic_records_out_total{idle}": 0,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("after the tap read: %s = %v (present %v), want %v", k, v, ok, want)
		}
	}

	consumeN(t, ctx, b.Addr(), "g1", "c1", "m", 10)
	consumeN(t, ctx, b.Addr(), "g2", "c2", "m", 10) // a second group reads them again
	got = gathered(t, NewCollector(b.Admin, 5*time.Second))
	if v := got["devstack_broker_topic_records_out_total{m}"]; v != 20 {
		t.Errorf("devstack_broker_topic_records_out_total{m} = %v, want 20 (10 records read by two groups); all: %v", v, got)
	}
	if v, in := got["devstack_broker_topic_bytes_out_total{m}"], got["devstack_broker_topic_bytes{m}"]; v != 2*in || v == 0 {
		t.Errorf("devstack_broker_topic_bytes_out_total{m} = %v, want twice the topic's %v bytes", v, in)
	}
	if v, ok := got["devstack_broker_topic_records_out_total{idle}"]; !ok || v != 0 {
		t.Errorf("devstack_broker_topic_records_out_total{idle} = %v (present %v), want 0", v, ok)
	}
}

// A client that learned a topic's id before the broker restarted fetches by id without asking for
// metadata again; its records still count.
func TestRecordsOutAfterRestartByTopicID(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, Options{DataDir: dir, Topics: []TopicSpec{{Name: "m", Partitions: 1}}})
	ctx := testCtx(t)
	produceN(t, ctx, newClient(t, b.Addr()), "m", 0, 5)
	details, err := b.Admin().adm.ListTopics(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	id := details["m"].ID
	port := b.Addr()[strings.LastIndexByte(b.Addr(), ':')+1:]
	b.Close()
	p, _ := strconv.Atoi(port)
	b = startBroker(t, Options{DataDir: dir, Port: p})

	cl := newClient(t, b.Addr())
	req := kmsg.NewPtrFetchRequest()
	req.Version = 13
	req.MaxWaitMillis = 100
	req.MaxBytes = 1 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl.SeedBrokers()[0]) // straight to the broker, no Metadata first
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 || len(resp.Topics[0].Partitions[0].RecordBatches) == 0 {
		t.Fatalf("fetch by id returned no records: %+v", resp)
	}
	got := gathered(t, NewCollector(b.Admin, 5*time.Second))
	if v := got["devstack_broker_topic_records_out_total{m}"]; v != 5 {
		t.Errorf("devstack_broker_topic_records_out_total{m} = %v, want 5", v)
	}
}

// bytes in counts the record batches the broker accepted per topic, not the ones it refused.
func TestCollectorBytesIn(t *testing.T) {
	b := startBroker(t, Options{Topics: []TopicSpec{{Name: "m", Partitions: 2}, {Name: "small", Partitions: 1,
		Configs: map[string]string{"max.message.bytes": "300"}}}})
	ctx := testCtx(t)
	prod := newClient(t, b.Addr(), kgo.RecordRetries(0), kgo.ProducerBatchCompression(kgo.NoCompression()))
	produceN(t, ctx, prod, "m", 0, 10)
	produceN(t, ctx, prod, "small", 0, 1)
	if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "small", Value: make([]byte, 1000)}).FirstErr(); err == nil {
		t.Fatal("a 1000-byte record to a topic with max.message.bytes 300 was accepted")
	}
	got := gathered(t, NewCollector(b.Admin, 5*time.Second))
	for _, topic := range []string{"m", "small"} {
		in, stored := got["devstack_broker_topic_bytes_in_total{"+topic+"}"], got["devstack_broker_topic_bytes{"+topic+"}"]
		if in != stored || in == 0 {
			t.Errorf("devstack_broker_topic_bytes_in_total{%s} = %v, want the %v bytes the topic holds", topic, in, stored)
		}
	}
}
