package pipeline

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kotel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/devstack-dev/devstack/sample-services/scorer/internal/events"
)

// An order that arrives with a traceparent is scored in the same trace: the scorer's receive, process
// and publish spans hang under the producer's span, and orders.scored carries the publish span's
// traceparent for the consumer downstream.
func TestPipelineContinuesTheTrace(t *testing.T) {
	brokers := startBroker(t)
	reg := startRegistry(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	prop := propagation.TraceContext{}

	stop := startPipeline(t, brokers, reg, func(o *Options) {
		o.Tracer = kotel.NewTracer(kotel.TracerProvider(tp), kotel.TracerPropagator(prop))
	})

	// The upstream producer's span (users' publish span, in the sample stack).
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	const user = "22222222-2222-4222-8222-222222222222"
	prod := newProducer(t, brokers)
	in := &kgo.Record{Topic: events.TopicPlaced, Key: []byte(user), Value: reg.placedValue(t, placed(7, user)),
		Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-" + traceID + "-" + parentID + "-01")}}}
	if err := prod.ProduceSync(context.Background(), in).FirstErr(); err != nil {
		t.Fatal(err)
	}
	out := newCollector(t, brokers).waitFor(t, events.TopicScored, 1)[0]
	stop() // the process span ends once its batch is produced and committed

	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		byName[s.Name()] = s
	}
	receive, process, publish := byName["orders.placed receive"], byName["orders.placed process"], byName["orders.scored publish"]
	if receive == nil || process == nil || publish == nil {
		t.Fatalf("spans = %v, want orders.placed receive/process and orders.scored publish", names(rec.Ended()))
	}
	tests := []struct {
		name   string
		span   sdktrace.ReadOnlySpan
		parent string
		kind   trace.SpanKind
	}{
		{"receive continues the record's traceparent", receive, parentID, trace.SpanKindConsumer},
		{"process under receive", process, receive.SpanContext().SpanID().String(), trace.SpanKindConsumer},
		{"publish of orders.scored under process", publish, process.SpanContext().SpanID().String(), trace.SpanKindProducer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.span.SpanContext().TraceID().String(); got != traceID {
				t.Errorf("trace id = %s, want %s", got, traceID)
			}
			if got := tt.span.Parent().SpanID().String(); got != tt.parent {
				t.Errorf("parent = %s, want %s", got, tt.parent)
			}
			if tt.span.SpanKind() != tt.kind {
				t.Errorf("kind = %v, want %v", tt.span.SpanKind(), tt.kind)
			}
		})
	}
	want := "00-" + traceID + "-" + publish.SpanContext().SpanID().String() + "-01"
	if got := headerOf(out, "traceparent"); got != want {
		t.Errorf("orders.scored traceparent = %q, want %q (the publish span)", got, want)
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}
