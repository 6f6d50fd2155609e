package broker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/devstack-dev/devstack/internal/event"
)

// spanRecorder is a SpanSink that keeps what it gets.
type spanRecorder struct {
	mu    sync.Mutex
	spans []event.Span
}

func (r *spanRecorder) sink(s []event.Span) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spans = append(r.spans, s...)
}

func (r *spanRecorder) all() []event.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.spans)
}

// byName returns the spans named name.
func (r *spanRecorder) byName(name string) []event.Span {
	var out []event.Span
	for _, s := range r.all() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// waitFor waits until the recorder holds n spans named name (the broker makes a span after it wrote the
// response, so a client may see its records a moment earlier).
func (r *spanRecorder) waitFor(t *testing.T, name string, n int) []event.Span {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(r.byName(name)) < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := r.byName(name)
	if len(got) != n {
		t.Fatalf("%d spans named %q, want %d; all spans: %+v", len(got), name, n, r.all())
	}
	return got
}

const (
	testTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	testParent  = "00f067aa0ba902b7"
)

var testTraceparent = event.FormatTraceparent(testTraceID, testParent, 1)

// consumeN reads n records from topic in group with a fresh client (client id clientID).
func consumeN(t *testing.T, ctx context.Context, addr, group, clientID, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addr, kgo.ClientID(clientID), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	defer cl.Close()
	var got []*kgo.Record
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records: %v", len(got), n, ctx.Err())
		}
		got = append(got, fs.Records()...)
	}
	return got
}

func checkAttrs(t *testing.T, s event.Span, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if s.Attrs[k] != v {
			t.Errorf("%s: attribute %s = %q, want %q (attrs %v)", s.Name, k, s.Attrs[k], v, s.Attrs)
		}
	}
}

// Records that carry a traceparent, produced in one batch and consumed by a group, make one produce
// span and one fetch span, both children of the header's span, whatever the producer's compression.
func TestTracedRecordsMakeProduceAndFetchSpans(t *testing.T) {
	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(),
		"zstd": kgo.ZstdCompression(), "gzip": kgo.GzipCompression(),
	}
	for _, name := range slices.Sorted(maps.Keys(codecs)) {
		t.Run(name, func(t *testing.T) {
			rec := &spanRecorder{}
			b := startBroker(t, Options{Spans: rec.sink, Topics: []TopicSpec{{Name: "orders", Partitions: 1}}})
			ctx := testCtx(t)
			prod := newClient(t, b.Addr(), kgo.ClientID("users"), kgo.ProducerBatchCompression(codecs[name]),
				kgo.ProducerLinger(50*time.Millisecond))
			// Two untraced records first, so the traced ones start at offset 2.
			produceN(t, ctx, prod, "orders", 0, 2)
			var rs []*kgo.Record
			for i := range 3 {
				rs = append(rs, &kgo.Record{Topic: "orders", Value: fmt.Appendf(nil, "order %d", i),
					Headers: []kgo.RecordHeader{{Key: "x-other", Value: []byte("1")}, {Key: "traceparent", Value: []byte(testTraceparent)}}})
			}
			rs = append(rs, &kgo.Record{Topic: "orders", Value: []byte("untraced")})
			if err := prod.ProduceSync(ctx, rs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			consumeN(t, ctx, b.Addr(), "analytics", "analytics-svc", "orders", 6)

			ps := rec.waitFor(t, "produce orders", 1)[0]
			fs := rec.waitFor(t, "fetch orders", 1)[0]
			for _, s := range []event.Span{ps, fs} {
				if s.TraceID != testTraceID || s.ParentID != testParent || s.Service != "broker" || s.Kind != "server" {
					t.Errorf("%s: trace %s parent %s service %q kind %q, want trace %s parent %s service broker kind server",
						s.Name, s.TraceID, s.ParentID, s.Service, s.Kind, testTraceID, testParent)
				}
				if len(s.SpanID) != 16 || s.SpanID == testParent {
					t.Errorf("%s: span id %q", s.Name, s.SpanID)
				}
				if s.End.Before(s.Start) || s.Start.IsZero() {
					t.Errorf("%s: start %v end %v", s.Name, s.Start, s.End)
				}
			}
			checkAttrs(t, ps, map[string]string{
				"messaging.system": "kafka", "messaging.destination.name": "orders",
				"messaging.destination.partition.id": "0", "messaging.kafka.offset": "2",
				"messaging.client.id": "users", "messaging.batch.message_count": "3",
				"messaging.operation.type": "send",
			})
			checkAttrs(t, fs, map[string]string{
				"messaging.system": "kafka", "messaging.destination.name": "orders",
				"messaging.destination.partition.id": "0", "messaging.kafka.offset": "2",
				"messaging.client.id": "analytics-svc", "messaging.consumer.group.name": "analytics",
				"messaging.batch.message_count": "3", "messaging.operation.type": "receive",
			})
			if len(fs.Links) != 1 || fs.Links[0].SpanID != ps.SpanID {
				t.Errorf("fetch span links %+v, want one to the produce span %s", fs.Links, ps.SpanID)
			}
			if fs.Start.Before(ps.End) {
				t.Errorf("fetch span starts %v, before the records were appended at %v", fs.Start, ps.End)
			}
		})
	}
}

// A consumer of the same group that fetches the records again makes no second fetch span; another
// group's first fetch makes its own.
func TestFetchSpanOncePerGroup(t *testing.T) {
	rec := &spanRecorder{}
	b := startBroker(t, Options{Spans: rec.sink, Topics: []TopicSpec{{Name: "orders", Partitions: 1}}})
	ctx := testCtx(t)
	prod := newClient(t, b.Addr(), kgo.ClientID("users"))
	if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("o"),
		Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte(testTraceparent)}}}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	consumeN(t, ctx, b.Addr(), "analytics", "analytics-svc", "orders", 1)
	rec.waitFor(t, "fetch orders", 1)
	consumeN(t, ctx, b.Addr(), "analytics", "analytics-svc", "orders", 1) // nothing committed: it reads again
	consumeN(t, ctx, b.Addr(), "scorer", "scorer-svc", "orders", 1)
	fs := rec.waitFor(t, "fetch orders", 2)
	time.Sleep(200 * time.Millisecond)
	if got := rec.byName("fetch orders"); len(got) != 2 {
		t.Fatalf("%d fetch spans, want 2 (one per group): %+v", len(got), got)
	}
	groups := []string{fs[0].Attrs["messaging.consumer.group.name"], fs[1].Attrs["messaging.consumer.group.name"]}
	slices.Sort(groups)
	if !slices.Equal(groups, []string{"analytics", "scorer"}) {
		t.Errorf("fetch spans' groups %v, want analytics and scorer", groups)
	}
}

// Records without a traceparent header, or with one that W3C says to ignore, make no span; a broker
// without a sink serves traced records as usual.
func TestNoSpans(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers []kgo.RecordHeader
		noSink  bool
	}{
		{name: "no header"},
		{name: "other headers", headers: []kgo.RecordHeader{{Key: "x-traceparent", Value: []byte(testTraceparent)}}},
		{name: "malformed", headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-" + testTraceID + "-" + testParent)}}},
		{name: "uppercase", headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-4BF92F3577B34DA6A3CE929D0E0E4736-" + testParent + "-01")}}},
		{name: "zero trace id", headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte(event.FormatTraceparent("00000000000000000000000000000000", testParent, 1))}}},
		{name: "sink nil", headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte(testTraceparent)}}, noSink: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &spanRecorder{}
			o := Options{Spans: rec.sink, Topics: []TopicSpec{{Name: "orders", Partitions: 1}}}
			if tc.noSink {
				o.Spans = nil
			}
			b := startBroker(t, o)
			ctx := testCtx(t)
			prod := newClient(t, b.Addr(), kgo.ClientID("users"))
			if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("o"), Headers: tc.headers}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			got := consumeN(t, ctx, b.Addr(), "analytics", "analytics-svc", "orders", 1)
			if len(got[0].Headers) != len(tc.headers) {
				t.Errorf("consumed headers %v, want %v", got[0].Headers, tc.headers)
			}
			time.Sleep(200 * time.Millisecond)
			if s := rec.all(); len(s) != 0 {
				t.Errorf("spans %+v, want none", s)
			}
		})
	}
}

// A produce the broker refuses (a batch over the topic's max.message.bytes) still shows in the trace,
// as an error span.
func TestProduceSpanError(t *testing.T) {
	rec := &spanRecorder{}
	b := startBroker(t, Options{Spans: rec.sink, Topics: []TopicSpec{{Name: "orders", Partitions: 1,
		Configs: map[string]string{"max.message.bytes": "300"}}}})
	ctx := testCtx(t)
	prod := newClient(t, b.Addr(), kgo.ClientID("users"), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordRetries(0))
	err := prod.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: make([]byte, 1000),
		Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte(testTraceparent)}}}).FirstErr()
	if err == nil {
		t.Fatal("a 1000-byte record to a topic with max.message.bytes 300 was accepted")
	}
	s := rec.waitFor(t, "produce orders", 1)[0]
	if s.Status != "error" || s.StatusMessage == "" || s.Attrs["messaging.kafka.offset"] != "" {
		t.Errorf("status %q message %q offset %q, want an error with its message and no offset", s.Status, s.StatusMessage, s.Attrs["messaging.kafka.offset"])
	}
}

// Two traces in one batch make a span each, on produce and on fetch; a consumer outside any group gets
// fetch spans without a group name, once per client id.
func TestSpansPerTraceAndGrouplessConsumer(t *testing.T) {
	rec := &spanRecorder{}
	b := startBroker(t, Options{Spans: rec.sink, Topics: []TopicSpec{{Name: "orders", Partitions: 1}}})
	ctx := testCtx(t)
	prod := newClient(t, b.Addr(), kgo.ClientID("users"), kgo.ProducerLinger(50*time.Millisecond))
	other := event.FormatTraceparent("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", 1)
	var rs []*kgo.Record
	for i := range 4 {
		tp := testTraceparent
		if i%2 == 1 {
			tp = other
		}
		rs = append(rs, &kgo.Record{Topic: "orders", Value: []byte("o"), Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte(tp)}}})
	}
	if err := prod.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	ps := rec.waitFor(t, "produce orders", 2)
	read := func() {
		cl := newClient(t, b.Addr(), kgo.ClientID("tailer"), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
			"orders": {0: kgo.NewOffset().AtStart()}}))
		defer cl.Close()
		for n := 0; n < 4; {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatal(ctx.Err())
			}
			n += fs.NumRecords()
		}
	}
	read()
	read() // the same client id again: no new spans
	fs := rec.waitFor(t, "fetch orders", 2)
	time.Sleep(200 * time.Millisecond)
	if n := len(rec.byName("fetch orders")); n != 2 {
		t.Fatalf("%d fetch spans after a second read by the same client id, want 2", n)
	}
	for _, spans := range [][]event.Span{ps, fs} {
		traces := map[string]string{}
		for _, s := range spans {
			traces[s.TraceID] = s.ParentID
			if s.Attrs["messaging.batch.message_count"] != "2" {
				t.Errorf("%s of trace %s: batch count %q, want 2", s.Name, s.TraceID, s.Attrs["messaging.batch.message_count"])
			}
			if _, ok := s.Attrs["messaging.consumer.group.name"]; ok {
				t.Errorf("%s: group name %q for a consumer in no group", s.Name, s.Attrs["messaging.consumer.group.name"])
			}
		}
		want := map[string]string{testTraceID: testParent, "0af7651916cd43dd8448eb211c80319c": "b7ad6b7169203331"}
		if !maps.Equal(traces, want) {
			t.Errorf("%s spans: traces and parents %v, want %v", spans[0].Name, traces, want)
		}
	}
	for _, s := range fs {
		if s.Attrs["messaging.client.id"] != "tailer" {
			t.Errorf("fetch span client id %q, want tailer", s.Attrs["messaging.client.id"])
		}
	}
}

// saramaGroup hands the consumed messages to got.
type saramaGroup struct {
	got chan<- *sarama.ConsumerMessage
}

func (saramaGroup) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (saramaGroup) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h saramaGroup) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-c.Messages():
			if !ok {
				return nil
			}
			select {
			case h.got <- m:
			case <-s.Context().Done():
				return nil
			}
		case <-s.Context().Done():
			return nil
		}
	}
}

// Another client, on the protocol versions that name topics instead of giving their ids: IBM/sarama
// producing gzip batches and consuming in a group.
func TestSpansWithSarama(t *testing.T) {
	rec := &spanRecorder{}
	b := startBroker(t, Options{Spans: rec.sink, Topics: []TopicSpec{{Name: "orders", Partitions: 1}}})
	ctx := testCtx(t)
	cfg := sarama.NewConfig()
	cfg.ClientID = "billing"
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Compression = sarama.CompressionGZIP
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	pr, err := sarama.NewSyncProducer([]string{b.Addr()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	if err := pr.SendMessages([]*sarama.ProducerMessage{
		{Topic: "orders", Value: sarama.StringEncoder("a"), Headers: []sarama.RecordHeader{{Key: []byte("traceparent"), Value: []byte(testTraceparent)}}},
		{Topic: "orders", Value: sarama.StringEncoder("b"), Headers: []sarama.RecordHeader{{Key: []byte("traceparent"), Value: []byte(testTraceparent)}}},
	}); err != nil {
		t.Fatal(err)
	}
	cg, err := sarama.NewConsumerGroup([]string{b.Addr()}, "ledger", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan *sarama.ConsumerMessage)
	done := make(chan error, 1)
	go func() {
		var err error
		for cctx.Err() == nil && err == nil {
			err = cg.Consume(cctx, []string{"orders"}, saramaGroup{got})
		}
		done <- err
	}()
	for range 2 {
		select {
		case <-got:
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("consume: %v", err)
	}

	// The sync producer sends its messages one request each here: a produce span each.
	pss := rec.waitFor(t, "produce orders", 2)
	slices.SortFunc(pss, func(a, b event.Span) int {
		return strings.Compare(a.Attrs["messaging.kafka.offset"], b.Attrs["messaging.kafka.offset"])
	})
	for i, ps := range pss {
		checkAttrs(t, ps, map[string]string{"messaging.client.id": "billing", "messaging.batch.message_count": "1", "messaging.kafka.offset": strconv.Itoa(i)})
	}
	ps := pss[0]
	fs := rec.waitFor(t, "fetch orders", 1)[0]
	checkAttrs(t, fs, map[string]string{"messaging.client.id": "billing", "messaging.consumer.group.name": "ledger",
		"messaging.batch.message_count": "2", "messaging.kafka.offset": "0"})
	if ps.ParentID != testParent || fs.ParentID != testParent {
		t.Errorf("parents %s and %s, want %s", ps.ParentID, fs.ParentID, testParent)
	}
}
