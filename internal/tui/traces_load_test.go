package tui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	oteltrace "go.opentelemetry.io/otel/trace"

	dsconfig "github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/stack"
	"github.com/devstack-dev/devstack/internal/testkit"
)

// tracesLoadMaxSpans is the store bound of the traces load run (telemetry.max_spans).
const tracesLoadMaxSpans = 20000

// startTracedStack runs a real stack with only the telemetry receiver (and the control API) until the
// test ends, and returns it with its OTLP/HTTP address.
func startTracedStack(t testing.TB) (*stack.Stack, string) {
	t.Helper()
	dir := t.TempDir()
	otlp := testkit.FreePort(t)
	yaml := fmt.Sprintf("name: tracesload\ncontrol: {port: %d}\nbroker: {enabled: false}\npostgres: {enabled: false}\n"+
		"gateway: {http_port: %d, https_port: %d}\ntelemetry: {http_port: %d, grpc_port: -1, persist: false, max_spans: %d}\n",
		testkit.FreePort(t), testkit.FreePort(t), testkit.FreePort(t), otlp, tracesLoadMaxSpans)
	path := filepath.Join(dir, "devstack.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := dsconfig.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := stack.New(stack.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	testkit.RunUntilCleanup(t, st, time.Minute)
	return st, fmt.Sprintf("127.0.0.1:%d", otlp)
}

// feedSpans sends spansPerSec spans a second over OTLP/HTTP with the stock Go SDK (batching, as a
// service's SDK does) until ctx ends: traces of ten spans across four services, one in ten failing.
func feedSpans(ctx context.Context, t testing.TB, endpoint string, spansPerSec int, sent *atomic.Int64) func() {
	var tps []*sdktrace.TracerProvider
	for _, svc := range []string{"users", "scorer", "analytics", "analytics-consumer"} {
		exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpoint(endpoint), otlptracehttp.WithInsecure())
		if err != nil {
			t.Fatal(err)
		}
		tps = append(tps, sdktrace.NewTracerProvider(sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(svc))),
			sdktrace.WithBatcher(exp, sdktrace.WithMaxQueueSize(65536), sdktrace.WithMaxExportBatchSize(2048), sdktrace.WithBatchTimeout(100*time.Millisecond))))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		t0 := time.Now()
		n := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for int(time.Since(t0).Seconds()*float64(spansPerSec)) > n {
				// one trace: a request, its SQL and publish, then each consumer's spans
				tr := func(i int) oteltrace.Tracer { return tps[i].Tracer("load") }
				rctx, root := tr(0).Start(ctx, "POST /api/orders", oteltrace.WithSpanKind(oteltrace.SpanKindServer),
					oteltrace.WithAttributes(attribute.String("http.route", "/api/orders"), attribute.Int("order", n)))
				for i, name := range []string{"INSERT shop", "orders.placed publish"} {
					_, c := tr(0).Start(rctx, name, oteltrace.WithAttributes(attribute.String("db.system", "postgresql")))
					if i == 1 && n%100 == 0 {
						c.SetStatus(codes.Error, "broker unreachable")
					}
					c.End()
				}
				sctx, sc := tr(1).Start(rctx, "orders.placed process", oteltrace.WithSpanKind(oteltrace.SpanKindConsumer))
				_, sp := tr(1).Start(sctx, "orders.scored publish", oteltrace.WithSpanKind(oteltrace.SpanKindProducer))
				sp.End()
				sc.End()
				actx, ac := tr(2).Start(rctx, "GET /api/analytics", oteltrace.WithSpanKind(oteltrace.SpanKindServer))
				_, q := tr(2).Start(actx, "SELECT analytics")
				q.End()
				ac.End()
				cctx, cc := tr(3).Start(rctx, "orders.scored process", oteltrace.WithSpanKind(oteltrace.SpanKindConsumer))
				_, ins := tr(3).Start(cctx, "INSERT analytics")
				ins.End()
				cc.End()
				root.End()
				n += 10
				sent.Add(10)
			}
		}
	}()
	return func() {
		<-done
		for _, tp := range tps {
			_ = tp.Shutdown(context.Background())
		}
	}
}

func rssMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

type tracesLoadResult struct {
	view       string
	seconds    float64
	spansSent  int64
	tracesKept int
	listed     int
	loopStats
	heapBefore, heapPeak, heapAfter float64
	rssBefore, rssMid, rssAfter     float64
}

// runTracesLoad runs the real program on st (as `devstack up` does) with keys typed, for d, while
// spansPerSec spans a second arrive over OTLP.
func runTracesLoad(t testing.TB, st *stack.Stack, endpoint, view, keys string, d time.Duration, spansPerSec int) tracesLoadResult {
	m, in, p, done := startInstrumented(st)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sent atomic.Int64
	stop := feedSpans(ctx, t, endpoint, spansPerSec, &sent)
	time.Sleep(1500 * time.Millisecond)      // let traces arrive so there is a list to open
	typeKeys(p, keys, 1200*time.Millisecond) // '~': a refresh lands
	time.Sleep(300 * time.Millisecond)
	res := tracesLoadResult{view: view, heapBefore: heapMiB(), rssBefore: rssMiB()}
	sentAtMark := sent.Load()
	p.Send(markMsg{})
	measure, endMeasure := context.WithTimeout(ctx, d)
	defer endMeasure()
	go probe(measure, p)
	start := time.Now()
	sample := time.NewTicker(time.Second)
	for measure.Err() == nil {
		select {
		case <-measure.Done():
		case <-sample.C:
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			res.heapPeak = max(res.heapPeak, float64(ms.HeapAlloc)/(1<<20))
			if time.Since(start) >= d/2 && res.rssMid == 0 {
				res.rssMid = rssMiB()
			}
		}
	}
	sample.Stop()
	res.seconds = time.Since(start).Seconds()
	res.spansSent = sent.Load() - sentAtMark
	cancel()
	stop()
	p.Quit()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	m.cancel()
	res.listed = len(m.traces.list)
	if all, err := st.Traces(context.Background(), event.TraceQuery{}); err == nil {
		res.tracesKept = len(all)
	}
	res.loopStats = in.stats()
	res.heapAfter, res.rssAfter = heapMiB(), rssMiB()
	runtime.KeepAlive(m)
	return res
}

// TestTracesLoad is the benchmark behind the traces rows of docs/benchmarks/tui.md: the TUI on a real
// stack (the stack itself as the controller, as `devstack up` runs it) while 5,000 spans/s arrive
// over OTLP/HTTP. bench/tui/run.sh runs it with DEVSTACK_TUI_TRACES_LOAD=seconds; skipped otherwise.
func TestTracesLoad(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("DEVSTACK_TUI_TRACES_LOAD"))
	if secs <= 0 {
		t.Skip("traces load benchmark: set DEVSTACK_TUI_TRACES_LOAD=<seconds per view> (bench/tui/run.sh does)")
	}
	d := time.Duration(secs) * time.Second
	const rate = 5000
	var rows []tracesLoadResult
	for _, sc := range []struct{ view, keys string }{
		{"Traces list", "7"},
		{"Traces list, filter errors only", "7~e"},
		{"Waterfall of one trace", "7~\r"},
	} {
		t.Run(sc.view, func(t *testing.T) { // a stack per row, stopped before the next
			st, endpoint := startTracedStack(t)
			rows = append(rows, runTracesLoad(t, st, endpoint, sc.view, sc.keys, d, rate))
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| view shown | seconds | spans/s sent | traces kept (store bound %d spans) | rows listed | Update calls/s | Update avg µs (max ms) | View calls/s | View avg µs (max ms) | key wait p50 / p99 / max ms | heap MiB before → peak → after | RSS MiB before → mid → after |\n", tracesLoadMaxSpans)
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %d | %d | %.0f | %s (%s) | %.0f | %s (%s) | %s / %s / %s | %.1f → %.1f → %.1f | %.0f → %.0f → %.0f |\n",
			r.view, r.seconds, float64(r.spansSent)/r.seconds, r.tracesKept, r.listed, float64(r.updates)/r.seconds, us(r.updateAvg), ms(r.maxUpdate),
			float64(r.views)/r.seconds, us(r.viewAvg), ms(r.maxView), ms(r.probeP50), ms(r.probeP99), ms(r.probeMax),
			r.heapBefore, r.heapPeak, r.heapAfter, r.rssBefore, r.rssMid, r.rssAfter)
	}
	if out := os.Getenv("DEVSTACK_TUI_TRACES_LOAD_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Log("\n" + b.String())
	for _, r := range rows {
		if r.tracesKept == 0 || (!strings.HasPrefix(r.view, "Waterfall") && r.listed == 0) {
			t.Errorf("%s: nothing arrived (traces kept %d, listed %d)", r.view, r.tracesKept, r.listed)
		}
		if r.probeP99 > 250*time.Millisecond {
			t.Errorf("%s: a key waits %s at p99", r.view, r.probeP99)
		}
	}
}
