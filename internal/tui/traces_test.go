package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/muesli/termenv"

	"github.com/devstack-dev/devstack/internal/event"
)

const (
	orderTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	loginTrace = "0af7651916cd43dd8448eb211c80319c"
	errTrace   = "5b8efff798038103d269b633813fc60c"
)

// traceFixture is the fixture stack with telemetry on: one order followed from the gateway through
// users, the broker and the scorer to analytics (whose consumer fails, and whose SQL span's parent
// never arrived), a rejected request and a failing one.
func traceFixture() *fakeCtrl {
	f := fixture()
	t0 := fixedNow.Add(-40 * time.Second)
	ms := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Millisecond))) }
	sp := func(trace, id, parent, svc, name, kind string, from, to float64, attrs ...string) event.Span {
		s := event.Span{TraceID: trace, SpanID: id, ParentID: parent, Service: svc, Name: name, Kind: kind, Start: ms(from), End: ms(to)}
		for i := 0; i+1 < len(attrs); i += 2 {
			if s.Attrs == nil {
				s.Attrs = map[string]string{}
			}
			s.Attrs[attrs[i]] = attrs[i+1]
		}
		return s
	}
	consume := sp(orderTrace, "f1f1f1f1f1f1f1f1", "e2e2e2e2e2e2e2e2", "analytics", "orders.scored process", "consumer", 31, 47,
		"messaging.system", "kafka", "messaging.destination.name", "orders.scored", "messaging.kafka.consumer.group", "analytics")
	consume.Status, consume.StatusMessage = "error", `relation "analytics_orders" does not exist`
	consume.Events = []event.SpanEvent{{Time: ms(46), Name: "exception", Attrs: map[string]string{
		"exception.type": "psycopg.errors.UndefinedTable", "exception.message": `relation "analytics_orders" does not exist`}}}
	scorerConsume := sp(orderTrace, "e1e1e1e1e1e1e1e1", "c2c2c2c2c2c2c2c2", "scorer", "orders.placed process", "consumer", 18, 30,
		"messaging.system", "kafka", "messaging.destination.name", "orders.placed")
	scorerConsume.Instance = "scorer-1"
	scorerConsume.Links = []event.SpanLink{{TraceID: orderTrace, SpanID: "d2d2d2d2d2d2d2d2"}}
	f.addSpans(
		sp(orderTrace, "a1a1a1a1a1a1a1a1", "", "gateway", "POST /api/orders", "server", 0, 48,
			"http.request.method", "POST", "url.path", "/api/orders", "http.response.status_code", "201", "enduser.id", "u-7"),
		sp(orderTrace, "b1b1b1b1b1b1b1b1", "a1a1a1a1a1a1a1a1", "users", "POST /api/orders", "server", 2, 45,
			"http.route", "/api/orders", "http.response.status_code", "201"),
		sp(orderTrace, "c1c1c1c1c1c1c1c1", "b1b1b1b1b1b1b1b1", "users", "INSERT shop", "client", 5, 9,
			"db.system", "postgresql", "db.name", "shop", "db.statement", "INSERT INTO orders (user_id, total) VALUES ($1, $2)"),
		sp(orderTrace, "c2c2c2c2c2c2c2c2", "b1b1b1b1b1b1b1b1", "users", "orders.placed publish", "producer", 10, 14,
			"messaging.system", "kafka", "messaging.destination.name", "orders.placed"),
		sp(orderTrace, "d1d1d1d1d1d1d1d1", "c2c2c2c2c2c2c2c2", "broker", "produce orders.placed", "server", 11, 13,
			"messaging.destination.partition.id", "1", "messaging.kafka.offset", "1042"),
		sp(orderTrace, "d2d2d2d2d2d2d2d2", "c2c2c2c2c2c2c2c2", "broker", "fetch orders.placed", "server", 16, 17,
			"messaging.kafka.consumer.group", "scorer"),
		scorerConsume,
		sp(orderTrace, "e2e2e2e2e2e2e2e2", "e1e1e1e1e1e1e1e1", "scorer", "orders.scored publish", "producer", 24, 26,
			"messaging.destination.name", "orders.scored"),
		consume,
		sp(orderTrace, "0909090909090909", "aaaaaaaaaaaaaaaa", "analytics", "SELECT shop", "client", 35, 40, "db.system", "postgresql"),
	)
	login := sp(loginTrace, "1111111111111111", "", "gateway", "GET /api/orders", "server", 20000, 20000.3, "http.response.status_code", "401")
	bad := sp(errTrace, "2222222222222222", "", "gateway", "GET /api/analytics/summary", "server", 30000, 30002, "http.response.status_code", "502")
	bad.Status = "error"
	f.addSpans(login, bad)
	return f
}

// TestGoldenTraceFrames: the trace list, a filtered list, an order's waterfall with the selected
// span's attributes, a span's full details with its events, and the view without telemetry.
// Update with: go test ./internal/tui -run TestGoldenTraceFrames -update
func TestGoldenTraceFrames(t *testing.T) {
	list := []step{{wait: []string{"analytics"}}, {keys: "7", wait: []string{"3 traces"}}}
	for _, v := range []struct {
		name    string
		noTel   bool
		steps   []step
		noColor bool
	}{
		{name: "traces", steps: list},
		{name: "traces_errors", steps: append(slices.Clone(list), step{keys: "e", wait: []string{"2 traces"}})},
		{name: "traces_waterfall", steps: append(slices.Clone(list), step{keys: "jj\r", wait: []string{"INSERT shop"}})},
		{name: "traces_span", steps: append(slices.Clone(list), step{keys: "jj\r", wait: []string{"INSERT shop"}}, step{keys: "jj", wait: []string{"INSERT INTO orders"}})},
		{name: "traces_span_nocolor", noColor: true, steps: append(slices.Clone(list), step{keys: "jj\r", wait: []string{"INSERT shop"}}, step{keys: "jj", wait: []string{"INSERT INTO orders"}})},
		{name: "traces_span_events", steps: append(slices.Clone(list), step{keys: "jj\r", wait: []string{"INSERT shop"}}, step{keys: "jjjjjjjj\r", wait: []string{"UndefinedTable"}})},
		{name: "traces_orphan", steps: append(slices.Clone(list), step{keys: "jj\r", wait: []string{"INSERT shop"}}, step{keys: "G", wait: []string{"was not received"}})},
		{name: "traces_no_telemetry", noTel: true, steps: []step{{wait: []string{"analytics"}}, {keys: "7", wait: []string{"enabled: true"}}}},
	} {
		for _, size := range [][2]int{{80, 24}, {120, 40}} {
			t.Run(fmt.Sprintf("%s_%dx%d", v.name, size[0], size[1]), func(t *testing.T) {
				f := traceFixture()
				if v.noTel {
					f = fixture()
				}
				m := newModel(context.Background(), f, Options{NoColor: v.noColor, Version: "test"}, testConfig(termenv.ANSI))
				requireGoldenFrame(t, m, size, v.steps, nil)
			})
		}
	}
}

// openTraces shows the Traces view with its list loaded, as the first poll does.
func openTraces(t *testing.T, m *Model) {
	t.Helper()
	msg := await[tracesMsg](t, press(m, "7"))
	m.Update(msg)
}

// TestTracesListAndFilters: the list is newest first; each filter key asks the stack again with
// the filter and the list shows what came back.
func TestTracesListAndFilters(t *testing.T) {
	f := traceFixture()
	m := newTestModel(t, f, config{}, 100, 30)
	openTraces(t, m)
	ids := func() (out []string) {
		for _, ts := range m.traces.list {
			out = append(out, ts.TraceID)
		}
		return out
	}
	if got := ids(); !slices.Equal(got, []string{errTrace, loginTrace, orderTrace}) {
		t.Fatalf("list %v, want newest first", got)
	}
	for _, tc := range []struct {
		keys  string
		query string
		want  []string
		shown string
	}{
		{"e", "error", []string{errTrace, orderTrace}, "status: error"},
		{"e", "ok", []string{loginTrace}, "status: ok"},
		{"e", "", []string{errTrace, loginTrace, orderTrace}, "status: any"},
		{"dd", "", []string{orderTrace}, "duration: ≥ 10ms"}, // 1ms, 10ms
		{"a", "", []string{errTrace, loginTrace, orderTrace}, "duration: any"},
	} {
		for _, k := range tc.keys {
			pressAndPoll(t, m, string(k))
		}
		if m.traces.status != tc.query {
			t.Errorf("after %q: status filter %q, want %q", tc.keys, m.traces.status, tc.query)
		}
		if got := ids(); !slices.Equal(got, tc.want) {
			t.Errorf("after %q: list %v, want %v", tc.keys, got, tc.want)
		}
		if v := m.View(); !strings.Contains(v, tc.shown) {
			t.Errorf("after %q: %q not on screen:\n%s", tc.keys, tc.shown, v)
		}
	}
	// the service filter cycles through the stack's services, then the ones seen in traces
	var seen []string
	for range 6 {
		pressAndPoll(t, m, "s")
		seen = append(seen, m.traces.service)
	}
	if want := []string{"users", "scorer", "analytics", "broker", "gateway", ""}; !slices.Equal(seen, want) {
		t.Errorf("service filter cycles %v, want %v", seen, want)
	}
	for range 3 { // analytics
		pressAndPoll(t, m, "s")
	}
	if got := ids(); !slices.Equal(got, []string{orderTrace}) {
		t.Errorf("service analytics: %v", got)
	}
}

// pressAndPoll presses key and, if that asked the stack for the list, runs the call and applies it.
func pressAndPoll(t *testing.T, m *Model, key string) {
	t.Helper()
	cmd := press(m, key)
	for cmd != nil {
		cmd, _ = m.update(await[tracesMsg](t, cmd))
	}
}

// TestStaleTraceListIsAskedAgain: a list that arrives for a filter since changed is not shown.
func TestStaleTraceListIsAskedAgain(t *testing.T) {
	f := traceFixture()
	m := newTestModel(t, f, config{}, 100, 30)
	openTraces(t, m)
	old := await[tracesMsg](t, fetchTraces(m.ctx, f, m.traces.query()))
	m.traces.status = "ok"
	cmd, _ := m.update(old)
	if len(m.traces.list) != 3 || cmd == nil {
		t.Fatalf("stale list: %d traces, refetch %v", len(m.traces.list), cmd != nil)
	}
	m.Update(await[tracesMsg](t, cmd))
	if len(m.traces.list) != 1 || m.traces.list[0].TraceID != loginTrace {
		t.Fatalf("after the refetch: %+v", m.traces.list)
	}
}

// TestWaterfallTreeAndDetail: enter opens the waterfall as a tree (children under their parent,
// the orphan at the root marked), the selected span's attributes below, esc back to the list.
func TestWaterfallTreeAndDetail(t *testing.T) {
	f := traceFixture()
	m := newTestModel(t, f, config{}, 120, 40)
	openTraces(t, m)
	press(m, "G") // the order trace is the oldest
	m.Update(await[traceMsg](t, press(m, "enter")))
	if m.traces.wf.id != orderTrace || len(m.traces.wf.rows) != 10 {
		t.Fatalf("waterfall %s with %d rows", m.traces.wf.id, len(m.traces.wf.rows))
	}
	var order []string
	for _, r := range m.traces.wf.rows {
		order = append(order, fmt.Sprintf("%d %s", r.Depth, m.traces.wf.spans[r.Index].Name))
	}
	want := []string{"0 POST /api/orders", "1 POST /api/orders", "2 INSERT shop", "2 orders.placed publish", "3 produce orders.placed",
		"3 fetch orders.placed", "3 orders.placed process", "4 orders.scored publish", "5 orders.scored process", "0 SELECT shop"}
	if !slices.Equal(order, want) {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(order, "\n"), strings.Join(want, "\n"))
	}
	v := m.View()
	for _, s := range []string{"›gateway POST /api/orders", "http.request.method = POST", "enduser.id = u-7", "? analytics SELECT shop", "✗ analytics orders.scored process"} {
		if !strings.Contains(v, s) {
			t.Errorf("%q not in the waterfall:\n%s", s, v)
		}
	}
	press(m, "j", "j", "j", "j", "j", "j")
	v = m.View()
	for _, s := range []string{"scorer (scorer-1) · orders.placed process", "links", "trace " + orderTrace + " span d2d2d2d2d2d2d2d2"} {
		if !strings.Contains(v, s) {
			t.Errorf("%q not in the scorer span's detail:\n%s", s, v)
		}
	}
	press(m, "esc")
	if m.traces.wf.id != "" || m.tab != tabTraces || !strings.Contains(m.View(), "3 traces") {
		t.Fatalf("esc: waterfall %q, tab %v:\n%s", m.traces.wf.id, tabNames[m.tab], m.View())
	}
}

// TestWaterfallFollowsLateSpans: the waterfall is polled, so spans that arrive after it opened
// appear, and the selection stays on its span.
func TestWaterfallFollowsLateSpans(t *testing.T) {
	f := traceFixture()
	m := newTestModel(t, f, config{}, 120, 40)
	openTraces(t, m)
	press(m, "G")
	m.Update(await[traceMsg](t, press(m, "enter")))
	press(m, "j")
	f.addSpans(event.Span{TraceID: orderTrace, SpanID: "0000000000000001", Service: "gateway", Name: "early", Start: fixedNow.Add(-41 * time.Second), End: fixedNow.Add(-41 * time.Second)})
	cmd, _ := m.update(tickMsg{gen: m.tickGen})
	m.Update(await[traceMsg](t, cmd))
	if n := len(m.traces.wf.rows); n != 11 {
		t.Fatalf("%d rows after a late span", n)
	}
	if sel := m.traces.wf.spans[m.traces.wf.rows[m.traces.wf.cursor].Index]; sel.SpanID != "b1b1b1b1b1b1b1b1" {
		t.Errorf("selection moved to %s", sel.Name)
	}
}

// TestTracesWithoutTelemetry: the list and a jump both say telemetry is off and how to turn it on.
func TestTracesWithoutTelemetry(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, config{}, 100, 30)
	openTraces(t, m)
	if v := m.View(); !strings.Contains(v, "No telemetry") || !strings.Contains(v, "enabled: true") {
		t.Fatalf("no telemetry not said:\n%s", v)
	}
	m.Update(await[traceMsg](t, m.openTrace(orderTrace, tabGateway)))
	if v := m.View(); !strings.Contains(v, "No telemetry") {
		t.Fatalf("jump without telemetry:\n%s", v)
	}
}

// TestJumpToTrace: T opens the waterfall of the gateway request, the log line or the record under
// the cursor, and esc goes back to where the jump came from; without a trace id it says so.
func TestJumpToTrace(t *testing.T) {
	for _, tc := range []struct {
		name  string
		from  tab
		setup func(m *Model, id string)
		none  string
	}{
		{"gateway request", tabGateway, func(m *Model, id string) {
			press(m, "6")
			m.Update(eventsMsg{gen: m.evGen, events: []event.Event{
				{Kind: event.KindAccess, Access: &event.Access{Method: "POST", Path: "/api/orders", Status: 201, TraceID: id}},
				{Kind: event.KindAccess, Access: &event.Access{Method: "GET", Path: "/healthz", Status: 200}}}})
			press(m, "up")
		}, "this request has no trace id"},
		{"log line", tabLogs, func(m *Model, id string) {
			press(m, "2")
			m.Update(logsMsg{gen: m.logs.gen, lines: []event.LogLine{
				{Seq: 1, Source: "users", Text: `{"level":"info","msg":"order placed"}`, TraceID: id, SpanID: "b1b1b1b1b1b1b1b1"},
				{Seq: 2, Source: "users", Text: "plain line"}}})
		}, "no line on screen carries a trace id"},
		{"message", tabMessages, func(m *Model, id string) {
			press(m, "4")
			m.rec.setTopic(m, "orders.placed")
			m.Update(tapOpenedMsg{gen: m.rec.gen, ch: make(chan event.Message)})
			m.Update(recordsMsg{gen: m.rec.gen, msgs: []event.Message{
				{Topic: "orders.placed", Offset: 7, Value: []byte(`{"orderId":1042}`), Headers: []event.Header{
					{Key: "correlation-id", Value: []byte("7f3a")}, {Key: "traceparent", Value: []byte(event.FormatTraceparent(id, "c2c2c2c2c2c2c2c2", 1))}}},
				{Topic: "orders.placed", Offset: 8, Value: []byte(`{"orderId":1043}`), Headers: []event.Header{{Key: "traceparent", Value: []byte("00-zz-bad")}}}}})
			press(m, "up")
		}, "this record has no traceparent header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := traceFixture()
			m := newTestModel(t, f, config{}, 120, 40)
			tc.setup(m, orderTrace)
			if m.tab != tc.from {
				t.Fatalf("on %s", tabNames[m.tab])
			}
			cmd := press(m, "T")
			if m.tab != tabTraces || m.traces.wf.id != orderTrace {
				t.Fatalf("T: tab %s, trace %q", tabNames[m.tab], m.traces.wf.id)
			}
			m.Update(await[traceMsg](t, cmd))
			if v := m.View(); !strings.Contains(v, "10 spans") || !strings.Contains(v, "gateway POST /api/orders") {
				t.Fatalf("the waterfall is not shown:\n%s", v)
			}
			press(m, "esc")
			if m.tab != tc.from || m.traces.wf.id != "" {
				t.Fatalf("esc: tab %s, trace %q", tabNames[m.tab], m.traces.wf.id)
			}
			// the next request / line / record carries no (valid) trace id
			if tc.from == tabLogs {
				m.logs.ring.reset()
				m.logs.matches = m.logs.matches[:0]
				m.Update(logsMsg{gen: m.logs.gen, lines: []event.LogLine{{Seq: 3, Source: "users", Text: "plain"}}})
			} else {
				press(m, "down")
			}
			press(m, "T")
			if m.tab != tc.from || !strings.Contains(m.View(), tc.none) {
				t.Fatalf("T without a trace id: tab %s\n%s", tabNames[m.tab], m.View())
			}
		})
	}
}

// TestJumpToUnknownTrace: a trace whose spans have not arrived says so and keeps looking.
func TestJumpToUnknownTrace(t *testing.T) {
	f := traceFixture()
	m := newTestModel(t, f, config{}, 100, 30)
	press(m, "6")
	m.Update(await[traceMsg](t, m.openTrace("00000000000000000000000000000abc", tabGateway)))
	if v := m.View(); !strings.Contains(v, "This trace is not kept") {
		t.Fatalf("unknown trace:\n%s", v)
	}
	f.addSpans(event.Span{TraceID: "00000000000000000000000000000abc", SpanID: "0000000000000abc", Service: "gateway", Name: "GET /late", Start: fixedNow, End: fixedNow.Add(time.Millisecond)})
	cmd, _ := m.update(tickMsg{gen: m.tickGen})
	m.Update(await[traceMsg](t, cmd))
	if v := m.View(); !strings.Contains(v, "GET /late") {
		t.Fatalf("the late trace is not shown:\n%s", v)
	}
}

func TestSpanBar(t *testing.T) {
	t0 := fixedNow
	for _, tc := range []struct {
		from, to time.Duration
		total    time.Duration
		width    int
		want     string
	}{
		{0, 100 * time.Millisecond, 100 * time.Millisecond, 10, "██████████"},
		{50 * time.Millisecond, 60 * time.Millisecond, 100 * time.Millisecond, 10, "     █"},
		{99 * time.Millisecond, 99 * time.Millisecond, 100 * time.Millisecond, 10, "         █"},   // instant: one cell
		{100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 10, "         █"}, // at the very end
		{0, 0, 0, 4, "████"}, // a trace of one instant span
	} {
		got := spanBar(event.Span{Start: t0.Add(tc.from), End: t0.Add(tc.to)}, t0, tc.total, tc.width)
		if got != tc.want {
			t.Errorf("spanBar(%v..%v of %v, %d) = %q, want %q", tc.from, tc.to, tc.total, tc.width, got, tc.want)
		}
	}
}

// TestExpandedSpanWrapsLongValues: the span's full details wrap a long attribute (a SQL statement)
// instead of cutting it, and scroll.
func TestExpandedSpanWrapsLongValues(t *testing.T) {
	f := traceFixture()
	long := "SELECT " + strings.Repeat("column_name, ", 30) + "END_OF_STATEMENT FROM orders"
	f.addSpans(event.Span{TraceID: "00000000000000000000000000000def", SpanID: "0000000000000def", Service: "users", Name: "SELECT shop",
		Start: fixedNow, End: fixedNow.Add(time.Millisecond), Attrs: map[string]string{"db.statement": long}})
	m := newTestModel(t, f, config{}, 80, 24)
	press(m, "7")
	m.Update(await[traceMsg](t, m.openTrace("00000000000000000000000000000def", tabTraces)))
	if strings.Contains(m.View(), "END_OF_STATEMENT") {
		t.Fatalf("the panel below the waterfall shows the whole statement on one 80-column line?\n%s", m.View())
	}
	press(m, "enter")
	if v := m.View(); !strings.Contains(v, "END_OF_STATEMENT") || !strings.Contains(v, "db.statement = SELECT column_name") {
		t.Fatalf("the expanded span does not wrap the statement:\n%s", v)
	}
}
