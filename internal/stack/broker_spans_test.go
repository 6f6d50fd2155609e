package stack

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/devstack-dev/devstack/internal/event"
)

const brokerSpansStack = `
name: brokerspans
control: {port: ${CONTROL_PORT}}
broker: {port: ${BROKER_PORT}, persist: false, topics: {orders: {partitions: 1}}}
postgres: {enabled: false}
services:
  idle:
    command: exec sleep 60
    settle: 0s
`

// A record carrying a traceparent, produced to the stack's broker and consumed by a group, puts the
// broker's produce and fetch spans into the stack's trace, under the producer's span.
func TestStackBrokerSpans(t *testing.T) {
	rs := newRealStack(t, brokerSpansStack)
	st := start(t, rs.load(t), Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := st.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", rs.ports["BROKER_PORT"])
	const traceID, parent = "5bf92f3577b34da6a3ce929d0e0e4737", "10f067aa0ba902b8"
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID("checkout"))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("order 1"),
		Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte(event.FormatTraceparent(traceID, parent, 1))}}}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID("billing"), kgo.ConsumerGroup("billing"),
		kgo.ConsumeTopics("orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	for n := 0; n < 1; {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		n += fs.NumRecords()
	}

	var spans []event.Span
	waitUntil(t, 10*time.Second, "the broker's two spans in the trace", func() bool {
		spans, _ = st.Trace(ctx, traceID)
		return len(spans) == 2
	})
	names := map[string]event.Span{}
	for _, s := range spans {
		names[s.Name] = s
	}
	for name, group := range map[string]string{"produce orders": "", "fetch orders": "billing"} {
		s, ok := names[name]
		if !ok {
			t.Errorf("no span %q in the trace: %+v", name, spans)
			continue
		}
		if s.Service != "broker" || s.ParentID != parent || s.Attrs["messaging.consumer.group.name"] != group {
			t.Errorf("%s: service %q parent %s group %q, want broker, %s, %q", name, s.Service, s.ParentID, s.Attrs["messaging.consumer.group.name"], parent, group)
		}
	}
	sums, err := st.Traces(ctx, event.TraceQuery{Service: "broker"})
	if err != nil || len(sums) != 1 || sums[0].TraceID != traceID {
		t.Errorf("Traces(service broker) = %+v, %v; want the one trace", sums, err)
	}
}
