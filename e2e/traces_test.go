//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
)

// TestOneOrderIsOneTrace places an order through the gateway and finds its trace through the control
// API (what `devstack traces` and the TUI read): once with a W3C traceparent, as a traced client sends
// it, and once without, reading the trace id from the gateway's traceresponse header as
// docs/sample-walkthrough.md does with curl. The order's whole way is one trace, each hop under the one
// before it:
//
//	gateway server span
//	└ users HTTP server span
//	  ├ users SQL (the order and its outbox row)
//	  └ users publish orders.placed (kafkajs, in the request's context carried through the outbox)
//	    ├ broker produce orders.placed (the broker's spans hang under the record's traceparent)
//	    └ scorer receive/process orders.placed (kotel)
//	      └ scorer publish orders.scored
//	        ├ broker produce orders.scored
//	        └ analytics-consumer process orders.scored
//	          └ analytics-consumer SQL (the score stored)
//
// Structure only (services, kinds, parent links), never timings. A hop may sit deeper than directly
// under the one it names (a process span under a receive span), so each is asserted to descend from it.
func TestOneOrderIsOneTrace(t *testing.T) {
	g := gateway(t)
	ctl := controlClient(t)
	u := g.newUser(t, "traced")
	analyst := g.clientToken(t) // analytics:read
	body := map[string]any{
		"items":    []map[string]any{{"sku": "trace-me", "quantity": 1, "unitPriceCents": 990}},
		"currency": "EUR",
	}

	t.Run("client sends traceparent", func(t *testing.T) {
		traceID, clientSpan := randomHex(16), randomHex(8)
		r := g.mustWithHeader(t, "POST", "/api/orders", u.Token, body,
			http.Header{"Traceparent": {"00-" + traceID + "-" + clientSpan + "-01"}}, 201)
		var o order
		r.json(t, &o)
		g.waitScored(t, analyst, o.ID, "the traced order scored and stored by analytics")
		checkOrderTrace(t, ctl, traceID, clientSpan)
	})
	t.Run("gateway starts the trace and says so in traceresponse", func(t *testing.T) {
		r := g.must(t, "POST", "/api/orders", u.Token, body, 201)
		traceID, gwSpan, _, ok := event.ParseTraceparent(r.header.Get("Traceresponse"))
		if !ok {
			t.Fatalf("traceresponse = %q, want the gateway's trace context", r.header.Get("Traceresponse"))
		}
		var o order
		r.json(t, &o)
		g.waitScored(t, analyst, o.ID, "the order scored and stored by analytics")
		gw := checkOrderTrace(t, ctl, traceID, "")
		if gw.SpanID != gwSpan {
			t.Errorf("traceresponse names span %s, the gateway's span is %s", gwSpan, gw.SpanID)
		}
	})
}

// checkOrderTrace waits until trace traceID holds every hop of an order and checks their order;
// clientSpan is the parent the gateway's span continues ("": none, the gateway's span is the root).
// It returns the gateway's span.
func checkOrderTrace(t *testing.T, ctl *control.Client, traceID, clientSpan string) event.Span {
	t.Helper()
	hops := []hop{
		{name: "gateway server span", match: func(s event.Span) bool { return s.Service == "gateway" && s.Kind == "server" }},
		{name: "users HTTP server span", under: "gateway server span", match: func(s event.Span) bool { return s.Service == "users" && s.Kind == "server" }},
		{name: "users SQL", under: "users HTTP server span", match: sql("users")},
		{name: "users publish orders.placed", under: "users HTTP server span", match: producer("users", "orders.placed")},
		{name: "broker produce orders.placed", under: "users publish orders.placed", match: broker("produce", "orders.placed")},
		{name: "scorer consume orders.placed", under: "users publish orders.placed", match: consumer("scorer", "orders.placed")},
		{name: "scorer publish orders.scored", under: "scorer consume orders.placed", match: producer("scorer", "orders.scored")},
		{name: "broker produce orders.scored", under: "scorer publish orders.scored", match: broker("produce", "orders.scored")},
		{name: "analytics-consumer consume orders.scored", under: "scorer publish orders.scored", match: consumer("analytics-consumer", "orders.scored")},
		{name: "analytics-consumer SQL", under: "analytics-consumer consume orders.scored", match: sql("analytics-consumer")},
	}

	// Only the embedded broker makes spans: on a real Kafka (broker.source external or container, whose
	// status detail names it) the Kafka hop is the clients' spans alone.
	if !embeddedBroker(t, ctl) {
		var kept []hop
		for _, h := range hops {
			if !strings.HasPrefix(h.name, "broker ") {
				kept = append(kept, h)
			}
		}
		hops = kept
	}

	// Spans arrive in batches from four processes and devstack: wait until every hop is there.
	var spans []event.Span
	var found map[string]event.Span
	eventually(t, 60*time.Second, "every hop of the order in trace "+traceID, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		spans, err = ctl.Trace(ctx, traceID)
		if errors.Is(err, control.ErrNoTelemetry) {
			t.Fatalf("the stack runs no OTLP receiver (control API: %v): telemetry must be on for the sample stack", err)
		}
		if err != nil {
			return false, err.Error()
		}
		found = pick(spans, hops)
		var missing []string
		for _, h := range hops {
			if _, ok := found[h.name]; !ok {
				missing = append(missing, h.name)
			}
		}
		return len(missing) == 0, fmt.Sprintf("missing %s in:\n%s", strings.Join(missing, ", "), dump(spans))
	})

	byID := map[string]event.Span{}
	for _, s := range spans {
		byID[s.SpanID] = s
		if s.TraceID != traceID {
			t.Errorf("span %s %q is in trace %s, want %s", s.Service, s.Name, s.TraceID, traceID)
		}
	}
	gw := found[hops[0].name]
	if gw.ParentID != clientSpan {
		t.Errorf("gateway span's parent = %q, want %q (the client's span, or none)", gw.ParentID, clientSpan)
	}
	for _, s := range spans {
		if s.SpanID == gw.SpanID {
			continue
		}
		if _, ok := byID[s.ParentID]; !ok {
			t.Errorf("%s %q: parent %q is not in the trace (a hop started a trace of its own?)\n%s", s.Service, s.Name, s.ParentID, dump(spans))
		}
	}
	for _, h := range hops[1:] {
		if !descends(byID, found[h.name], found[h.under].SpanID) {
			t.Errorf("%s (%s) does not descend from %s (%s):\n%s", h.name, found[h.name].SpanID,
				h.under, found[h.under].SpanID, dump(spans))
		}
	}
	return gw
}

// hop is one span the order's trace must hold, picked by service, kind and attributes, and the hop it
// must descend from (under; "" for the first).
type hop struct {
	name, under string
	match       func(event.Span) bool
}

// pick finds, for each hop in order, the first matching span in start order that descends from the
// span picked for the hop it is under.
func pick(spans []event.Span, hops []hop) map[string]event.Span {
	sorted := append([]event.Span(nil), spans...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Start.Before(sorted[j].Start) })
	byID := map[string]event.Span{}
	for _, s := range spans {
		byID[s.SpanID] = s
	}
	found := map[string]event.Span{}
	for _, h := range hops {
		parent, ok := found[h.under]
		if h.under != "" && !ok {
			continue
		}
		for _, s := range sorted {
			if h.match(s) && (h.under == "" || descends(byID, s, parent.SpanID)) {
				found[h.name] = s
				break
			}
		}
	}
	return found
}

// descends reports whether s is ancestor's descendant, following parent links through byID.
func descends(byID map[string]event.Span, s event.Span, ancestor string) bool {
	for i := 0; i < len(byID) && s.ParentID != ""; i++ {
		if s.ParentID == ancestor {
			return true
		}
		p, ok := byID[s.ParentID]
		if !ok {
			return false
		}
		s = p
	}
	return false
}

func producer(service, topic string) func(event.Span) bool {
	return func(s event.Span) bool { return s.Service == service && s.Kind == "producer" && mentions(s, topic) }
}

func consumer(service, topic string) func(event.Span) bool {
	return func(s event.Span) bool { return s.Service == service && s.Kind == "consumer" && mentions(s, topic) }
}

// broker: devstack's own span of the Kafka hop (op "produce" or "fetch") for topic.
func broker(op, topic string) func(event.Span) bool {
	return func(s event.Span) bool {
		return s.Service == "broker" && mentions(s, topic) && (s.Attrs["messaging.operation.name"] == op || strings.HasPrefix(s.Name, op))
	}
}

func sql(service string) func(event.Span) bool {
	return func(s event.Span) bool {
		return s.Service == service && s.Kind == "client" && (s.Attrs["db.system"] != "" || s.Attrs["db.system.name"] != "")
	}
}

// mentions: the span is about topic (its name or the messaging destination attribute names it).
func mentions(s event.Span, topic string) bool {
	if strings.Contains(s.Name, topic) {
		return true
	}
	for _, k := range []string{"messaging.destination.name", "messaging.destination", "messaging.kafka.topic"} {
		if s.Attrs[k] == topic {
			return true
		}
	}
	return false
}

func dump(spans []event.Span) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "  %s parent=%-16s %-18s %-8s %s\n", s.SpanID, s.ParentID, s.Service, s.Kind, s.Name)
	}
	return b.String()
}

// controlClient is a client of the control API of the stack under test (DEVSTACK_STATE_DIR, which
// `devstack test` gives test commands).
// embeddedBroker says whether the stack under test runs devstack's own broker (the broker component's
// status detail names a real Kafka otherwise).
func embeddedBroker(t *testing.T, ctl *control.Client) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := ctl.Snapshot(ctx)
	if err != nil {
		t.Fatalf("state of the stack under test: %v", err)
	}
	for _, c := range st.Components {
		if c.Name == "broker" {
			return !strings.Contains(c.Detail, "Kafka")
		}
	}
	t.Fatal("the stack under test has no broker component")
	return false
}

func controlClient(t *testing.T) *control.Client {
	t.Helper()
	dir := requireEnv(t, "DEVSTACK_STATE_DIR", "the state directory of the stack under test")
	c, err := control.Dial(dir)
	if err != nil {
		t.Fatalf("control API of the stack under test: %v", err)
	}
	return c
}

// mustWithHeader is must with extra request headers.
func (g *gw) mustWithHeader(t *testing.T, method, path, token string, body any, h http.Header, want int) resp {
	t.Helper()
	r, err := g.doWithHeader(context.Background(), method, path, token, body, h)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if r.status != want {
		t.Fatalf("%s %s: got %s, want status %d", method, path, r, want)
	}
	return r
}
