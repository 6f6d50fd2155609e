package broker

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

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
