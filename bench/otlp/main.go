// Command otlp-bench measures devstack's OTLP receiver as `devstack up` runs it: a stack with only the
// receiver (telemetry.max_spans at its default, persisted to .devstack/traces), fed OTLP/HTTP protobuf
// and OTLP/gRPC exports of 512 spans each (ten attributes per span, as an instrumented HTTP server
// sends) by concurrent clients for a fixed time. It prints spans/s per transport and the RSS of the
// devstack process idle and with the store at its bound, then the in-process span sink (what the
// gateway and the broker call per request) in spans/s. It prints a Markdown section; run it through
// bench/otlp/run.sh.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/devstack-dev/devstack/bench/benchkit"
	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/telemetry"
)

const batch = 512

func main() {
	bin := flag.String("devstack", "bin/devstack", "devstack binary")
	duration := flag.Duration("duration", 10*time.Second, "load per transport")
	clients := flag.Int("clients", 4, "concurrent exporters")
	maxSpans := flag.Int("max-spans", 100000, "telemetry.max_spans of the stack")
	flag.Parse()
	if err := run(*bin, *duration, *clients, *maxSpans); err != nil {
		fmt.Fprintln(os.Stderr, "otlp-bench:", err)
		os.Exit(1)
	}
}

func logf(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }

func run(bin string, d time.Duration, clients, maxSpans int) (err error) {
	if bin, err = filepath.Abs(bin); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "otlp-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	httpPort, grpcPort, controlPort := benchkit.FreePort(), benchkit.FreePort(), benchkit.FreePort()
	yaml := fmt.Sprintf("name: otlp-bench\ncontrol: {port: %d}\nbroker: {enabled: false}\npostgres: {enabled: false}\n"+
		"telemetry: {http_port: %d, grpc_port: %d, max_spans: %d}\n", controlPort, httpPort, grpcPort, maxSpans)
	if err := os.WriteFile(filepath.Join(dir, "devstack.yaml"), []byte(yaml), 0o644); err != nil {
		return err
	}
	cmd := exec.Command(bin, "up", "--no-tui")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}()
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			if strings.Contains(sc.Text(), "otlp http://") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(time.Minute):
		return fmt.Errorf("devstack up did not become ready within a minute")
	}
	pid := cmd.Process.Pid
	idle, err := rss(pid)
	if err != nil {
		return err
	}
	logf("idle RSS %s", mib(idle))

	reqs := requests(64)
	httpRate, err := load(d, clients, func() (func(i int) error, func()) {
		c := &http.Client{}
		url := fmt.Sprintf("http://127.0.0.1:%d/v1/traces", httpPort)
		bodies := make([][]byte, len(reqs))
		for i, r := range reqs {
			bodies[i], _ = proto.Marshal(r)
		}
		return func(i int) error {
			resp, err := c.Post(url, "application/x-protobuf", bytes.NewReader(bodies[i%len(bodies)]))
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		}, func() {}
	})
	if err != nil {
		return fmt.Errorf("OTLP/HTTP: %w", err)
	}
	logf("OTLP/HTTP %.0f spans/s", httpRate)
	afterHTTP, _ := rss(pid)
	grpcRate, err := load(d, clients, func() (func(i int) error, func()) {
		conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", grpcPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return func(int) error { return err }, func() {}
		}
		c := coltracepb.NewTraceServiceClient(conn)
		return func(i int) error {
			_, err := c.Export(context.Background(), reqs[i%len(reqs)])
			return err
		}, func() { conn.Close() }
	})
	if err != nil {
		return fmt.Errorf("OTLP/gRPC: %w", err)
	}
	logf("OTLP/gRPC %.0f spans/s", grpcRate)
	full, err := rss(pid)
	if err != nil {
		return err
	}
	sinkRate, dropped := sink(d, maxSpans)
	logf("sink %.0f spans/s, %.2f%% dropped", sinkRate, dropped*100)

	fmt.Println("## OTLP ingest (internal/telemetry)")
	fmt.Println()
	fmt.Printf("`devstack up` with only the OTLP receiver (`telemetry.max_spans: %d`, persisted to `.devstack/traces`), fed by %d concurrent "+
		"exporters for %s per transport; each export is %d spans of ten attributes (an HTTP server span's). The store reaches its bound within "+
		"the first second, so the rates include evicting the oldest traces and appending every span to disk. The sink row is the in-process "+
		"`event.SpanSink` the gateway and the broker call, one span per call, in a loop with nothing else to do: far more than a gateway "+
		"makes, so it shows the most the store takes in and that the callers are never held up (what it cannot queue it drops and counts "+
		"in `devstack_telemetry_spans_dropped_total`). No OpenTelemetry Collector or Jaeger runs here to compare with. Generated by `bench/otlp/run.sh`.\n\n",
		maxSpans, clients, d, batch)
	fmt.Println("| | spans/s | RSS of devstack |")
	fmt.Println("|---|---:|---:|")
	fmt.Printf("| idle (receiver up, store empty) | - | %s |\n", mib(idle))
	fmt.Printf("| OTLP/HTTP protobuf, %d-span exports | %s | %s |\n", batch, thousands(httpRate), mib(afterHTTP))
	fmt.Printf("| OTLP/gRPC, %d-span exports | %s | %s |\n", batch, thousands(grpcRate), mib(full))
	fmt.Printf("| span sink (gateway, broker), in-process, as fast as %d goroutines call it | %s offered, %s kept (%.0f %% dropped, never blocking the caller) | - |\n",
		runtime.GOMAXPROCS(0), thousands(sinkRate), thousands(sinkRate*(1-dropped)), dropped*100)
	return nil
}

// load runs clients workers, each made by mk, calling their send for d; it returns spans/s.
func load(d time.Duration, clients int, mk func() (send func(i int) error, close func())) (float64, error) {
	var sent atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	t0 := time.Now()
	for range clients {
		send, closeFn := mk()
		wg.Go(func() {
			defer closeFn()
			for i := 0; time.Now().Before(stop); i++ {
				if err := send(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				sent.Add(batch)
			}
		})
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return 0, e.(error)
	}
	return float64(sent.Load()) / time.Since(t0).Seconds(), nil
}

// requests are n exports of batch spans: traces of 8 spans, ten attributes each.
func requests(n int) []*coltracepb.ExportTraceServiceRequest {
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	num := func(k string, v int64) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
	}
	var out []*coltracepb.ExportTraceServiceRequest
	now := uint64(time.Now().UnixNano())
	id := uint64(1)
	for r := range n {
		spans := make([]*tracepb.Span, 0, batch)
		for i := range batch {
			tid := make([]byte, 16)
			sid := make([]byte, 8)
			id++
			putU64(tid[8:], uint64(r*batch+i)/8+1)
			putU64(tid[:8], 0xbe4c)
			putU64(sid, id)
			spans = append(spans, &tracepb.Span{TraceId: tid, SpanId: sid, Name: "POST /api/orders", Kind: tracepb.Span_SPAN_KIND_SERVER,
				StartTimeUnixNano: now, EndTimeUnixNano: now + 1500000,
				Attributes: []*commonpb.KeyValue{str("http.request.method", "POST"), str("url.path", "/api/orders"), str("url.scheme", "http"),
					str("server.address", "127.0.0.1"), num("server.port", 8080), num("http.response.status_code", 201), str("http.route", "/api/orders"),
					str("user_agent.original", "curl/8.5.0"), str("client.address", "127.0.0.1"), str("network.protocol.version", "1.1")}})
		}
		out = append(out, &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
			Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "users"), str("service.instance.id", "users-0")}},
			ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}},
		}}})
	}
	return out
}

func putU64(b []byte, v uint64) {
	for i := range 8 {
		b[7-i] = byte(v >> (8 * i))
	}
}

// sink measures the store's AddSpans as the gateway calls it (one span per request) from GOMAXPROCS
// goroutines, in memory only; it returns spans/s offered and the share dropped.
func sink(d time.Duration, maxSpans int) (float64, float64) {
	st, err := telemetry.OpenStore(telemetry.StoreOptions{MaxSpans: maxSpans})
	if err != nil {
		return 0, 0
	}
	defer st.Close()
	var n atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	t0 := time.Now()
	for g := range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			now := time.Now()
			for i := 0; ; i++ {
				if i%256 == 0 && time.Now().After(stop) {
					return
				}
				st.AddSpans([]event.Span{{TraceID: fmt.Sprintf("%016x%016x", g, i), SpanID: fmt.Sprintf("%016x", i+1), Service: "gateway",
					Name: "POST /api/orders", Kind: "server", Start: now, End: now, Attrs: map[string]string{"http.response.status_code": "201"}}})
				n.Add(1)
			}
		})
	}
	wg.Wait()
	el := time.Since(t0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	st.Flush(ctx)
	cancel()
	var dropped float64
	if n.Load() > 0 {
		dropped = float64(droppedOf(st)) / float64(n.Load())
	}
	return float64(n.Load()) / el.Seconds(), dropped
}

// droppedOf reads the store's dropped counter through its collector (devstack_telemetry_spans_dropped_total).
func droppedOf(st *telemetry.Store) int64 { return int64(st.Dropped()) }

func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func thousands(f float64) string {
	s := strconv.FormatInt(int64(f), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
