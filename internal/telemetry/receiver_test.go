package telemetry

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/devstack-dev/devstack/internal/event"
)

// testReceiver runs a receiver with an in-memory store on free ports; it stops with the test.
type testReceiver struct {
	*Receiver
	store *Store

	mu      sync.Mutex
	logs    []event.LogLine
	metrics []*colmetricspb.ExportMetricsServiceRequest
}

func startReceiver(t *testing.T, maxSpans int, dir string) *testReceiver {
	t.Helper()
	st, err := OpenStore(StoreOptions{MaxSpans: maxSpans, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	tr := &testReceiver{store: st}
	tr.Receiver = serveReceiver(t, st, Options{HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", Store: st, MaxBodyBytes: 1 << 20,
		Logs: func(l event.LogLine) {
			tr.mu.Lock()
			tr.logs = append(tr.logs, l)
			tr.mu.Unlock()
		},
		Metrics: func(m *colmetricspb.ExportMetricsServiceRequest) {
			tr.mu.Lock()
			tr.metrics = append(tr.metrics, m)
			tr.mu.Unlock()
		}})
	return tr
}

// serveReceiver listens with o and serves until the test ends; then it closes the store st (o's).
func serveReceiver(t *testing.T, st *Store, o Options) *Receiver {
	t.Helper()
	r, err := Listen(o)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Errorf("store Close: %v", err)
		}
	})
	return r
}

func (tr *testReceiver) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.store.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestOTelSDKExports sends spans from the OpenTelemetry Go SDK, over OTLP/HTTP and OTLP/gRPC, and
// reads them back from the store as devstack shows them.
func TestOTelSDKExports(t *testing.T) {
	tr := startReceiver(t, 1000, "")
	ctx := context.Background()
	exporters := map[string]func() (sdktrace.SpanExporter, error){
		"http": func() (sdktrace.SpanExporter, error) {
			return otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(tr.HTTPAddr()), otlptracehttp.WithInsecure())
		},
		"http-gzip": func() (sdktrace.SpanExporter, error) {
			return otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(tr.HTTPAddr()), otlptracehttp.WithInsecure(), otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
		},
		"grpc": func() (sdktrace.SpanExporter, error) {
			return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(tr.GRPCAddr()), otlptracegrpc.WithInsecure())
		},
		"grpc-gzip": func() (sdktrace.SpanExporter, error) {
			return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(tr.GRPCAddr()), otlptracegrpc.WithInsecure(), otlptracegrpc.WithCompressor("gzip"))
		},
	}
	for name, newExp := range exporters {
		t.Run(name, func(t *testing.T) {
			exp, err := newExp()
			if err != nil {
				t.Fatal(err)
			}
			res := resource.NewSchemaless(attribute.String("service.name", "users"), attribute.String("service.instance.id", "users-1"))
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res))
			tracer := tp.Tracer("test")
			other := oteltrace.NewSpanContext(oteltrace.SpanContextConfig{TraceID: oteltrace.TraceID{9, 9, 9}, SpanID: oteltrace.SpanID{7, 7}})
			pctx, parent := tracer.Start(ctx, "POST /orders", oteltrace.WithSpanKind(oteltrace.SpanKindServer),
				oteltrace.WithAttributes(attribute.Int("http.response.status_code", 201), attribute.Bool("ok", true),
					attribute.StringSlice("tags", []string{"a", "b"}), attribute.Float64("ratio", 0.5)))
			_, child := tracer.Start(pctx, "orders.created publish", oteltrace.WithSpanKind(oteltrace.SpanKindProducer),
				oteltrace.WithLinks(oteltrace.Link{SpanContext: other, Attributes: []attribute.KeyValue{attribute.String("why", "test")}}))
			child.AddEvent("sent", oteltrace.WithAttributes(attribute.Int64("offset", 42)))
			child.SetStatus(codes.Error, "broker down")
			child.End()
			parent.End()
			if err := tp.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			tr.flush(t)

			tid := parent.SpanContext().TraceID().String()
			spans, ok := tr.store.Trace(tid)
			if !ok || len(spans) != 2 {
				t.Fatalf("trace %s: %d spans (%v), want 2", tid, len(spans), ok)
			}
			byName := map[string]event.Span{}
			for _, s := range spans {
				byName[s.Name] = s
			}
			p, c := byName["POST /orders"], byName["orders.created publish"]
			if p.SpanID != parent.SpanContext().SpanID().String() || p.ParentID != "" || p.Kind != "server" || p.Service != "users" || p.Instance != "users-1" {
				t.Errorf("parent span %+v", p)
			}
			if got := p.Attrs; got["http.response.status_code"] != "201" || got["ok"] != "true" || got["tags"] != `["a","b"]` || got["ratio"] != "0.5" {
				t.Errorf("parent attributes %v", got)
			}
			if c.ParentID != p.SpanID || c.Kind != "producer" || c.Status != "error" || c.StatusMessage != "broker down" {
				t.Errorf("child span %+v", c)
			}
			if len(c.Events) != 1 || c.Events[0].Name != "sent" || c.Events[0].Attrs["offset"] != "42" || c.Events[0].Time.IsZero() {
				t.Errorf("child events %+v", c.Events)
			}
			if len(c.Links) != 1 || c.Links[0].TraceID != other.TraceID().String() || c.Links[0].SpanID != other.SpanID().String() || c.Links[0].Attrs["why"] != "test" {
				t.Errorf("child links %+v", c.Links)
			}
			if p.Start.IsZero() || p.End.Before(c.End) || c.Start.Before(p.Start) {
				t.Errorf("times: parent %v..%v child %v..%v", p.Start, p.End, c.Start, c.End)
			}
			var sum *event.TraceSummary
			for _, s := range tr.store.Traces(event.TraceQuery{}) {
				if s.TraceID == tid {
					sum = &s
				}
			}
			if sum == nil || sum.RootService != "users" || sum.RootName != "POST /orders" || sum.Spans != 2 || sum.Errors != 1 || len(sum.Services) != 1 {
				t.Errorf("summary %+v", sum)
			}
		})
	}
}

// TestOTelSDKLogs sends a log record with the SDK's OTLP/HTTP log exporter inside a span: it reaches
// the logs callback as a line with severity, trace context and fields.
func TestOTelSDKLogs(t *testing.T) {
	tr := startReceiver(t, 100, "")
	ctx := context.Background()
	exp, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(tr.HTTPAddr()), otlploghttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", "scorer"), attribute.String("devstack.replica", "2"))
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)), sdklog.WithResource(res))
	sc := oteltrace.NewSpanContext(oteltrace.SpanContextConfig{TraceID: oteltrace.TraceID{1, 2, 3}, SpanID: oteltrace.SpanID{4, 5}, TraceFlags: oteltrace.FlagsSampled})
	var rec otellog.Record
	rec.SetBody(attribute.StringValue("order scored"))
	rec.SetSeverity(otellog.SeverityWarn)
	rec.AddAttributes(attribute.String("order_id", "42"), attribute.Int("score", 7))
	lp.Logger("test").Emit(oteltrace.ContextWithSpanContext(ctx, sc), rec)
	if err := lp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.logs) != 1 {
		t.Fatalf("%d log lines, want 1: %+v", len(tr.logs), tr.logs)
	}
	l := tr.logs[0]
	want := event.LogLine{Source: "scorer", Replica: 2, Stream: "otlp", Text: "order scored", Severity: "warn",
		TraceID: sc.TraceID().String(), SpanID: sc.SpanID().String(), Fields: map[string]string{"order_id": "42", "score": "7"}}
	l.Time = time.Time{}
	if !equalLine(l, want) {
		t.Errorf("log line\n got %+v\nwant %+v", l, want)
	}
}

func equalLine(a, b event.LogLine) bool {
	if len(a.Fields) != len(b.Fields) {
		return false
	}
	for k, v := range a.Fields {
		if b.Fields[k] != v {
			return false
		}
	}
	a.Fields, b.Fields = nil, nil
	return reflect.DeepEqual(a, b)
}

func exportRequest(traceID, spanID []byte) *coltracepb.ExportTraceServiceRequest {
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "web"}}}}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
			TraceId: traceID, SpanId: spanID, Name: "GET /", Kind: tracepb.Span_SPAN_KIND_SERVER,
			StartTimeUnixNano: uint64(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()),
			EndTimeUnixNano:   uint64(time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC).UnixNano()),
		}}}},
	}}}
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// TestHTTPRequests checks OTLP/HTTP's answers: content types, gzip, status codes, partial success.
func TestHTTPRequests(t *testing.T) {
	tr := startReceiver(t, 100, "")
	tid := bytes.Repeat([]byte{0xab}, 16)
	good, _ := proto.Marshal(exportRequest(tid, bytes.Repeat([]byte{1}, 8)))
	short, _ := proto.Marshal(exportRequest(tid[:5], bytes.Repeat([]byte{1}, 8)))
	jsonBody := `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"js"}}]},` +
		`"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"1112131415161718","parentSpanId":"",` +
		`"name":"GET /js","kind":2,"startTimeUnixNano":"1767323045000000000","endTimeUnixNano":1767323046000000000,"unknownField":1,` +
		`"attributes":[{"key":"n","value":{"intValue":"5"}}],"status":{"code":"STATUS_CODE_ERROR"}}]}]}]}`
	metrics, _ := proto.Marshal(&colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{{Name: "orders"}}}}}}})
	huge := bytes.Repeat([]byte{0}, 2<<20)

	tests := []struct {
		name, method, path, ct, ce string
		body                       []byte
		code                       int
		wantRejected               int64
		wantBody                   string // in the answer
	}{
		{"protobuf", "POST", "/v1/traces", "application/x-protobuf", "", good, 200, 0, ""},
		{"protobuf gzip", "POST", "/v1/traces", "application/x-protobuf", "gzip", gz(good), 200, 0, ""},
		{"json with hex ids", "POST", "/v1/traces", "application/json", "", []byte(jsonBody), 200, 0, ""},
		{"json gzip with charset", "POST", "/v1/traces", "application/json; charset=utf-8", "gzip", gz([]byte(jsonBody)), 200, 0, ""},
		{"a short trace id: partial success", "POST", "/v1/traces", "application/x-protobuf", "", short, 200, 1, ""},
		{"metrics", "POST", "/v1/metrics", "application/x-protobuf", "", metrics, 200, 0, ""},
		{"empty logs", "POST", "/v1/logs", "application/json", "", []byte(`{}`), 200, 0, ""},
		{"GET", "GET", "/v1/traces", "", "", nil, 405, 0, "POST"},
		{"text/plain", "POST", "/v1/traces", "text/plain", "", good, 415, 0, "Content-Type"},
		{"brotli", "POST", "/v1/traces", "application/x-protobuf", "br", good, 415, 0, "Content-Encoding"},
		{"bad protobuf", "POST", "/v1/traces", "application/x-protobuf", "", []byte{0xff, 0xff, 0xff}, 400, 0, "protobuf"},
		{"bad json", "POST", "/v1/traces", "application/json", "", []byte(`{"resourceSpans":[{`), 400, 0, "JSON"},
		{"json of the wrong shape", "POST", "/v1/traces", "application/json", "", []byte(`{"resourceSpans":"x"}`), 400, 0, "JSON"},
		{"bad gzip", "POST", "/v1/traces", "application/x-protobuf", "gzip", []byte("not gzip"), 400, 0, "gzip"},
		{"too large", "POST", "/v1/traces", "application/x-protobuf", "", huge, 413, 0, "larger"},
		{"too large once unzipped", "POST", "/v1/traces", "application/x-protobuf", "gzip", gz(huge), 413, 0, "larger"},
		{"unknown path", "POST", "/v1/profiles", "application/x-protobuf", "", good, 404, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, "http://"+tr.HTTPAddr()+tt.path, bytes.NewReader(tt.body))
			if tt.ct != "" {
				req.Header.Set("Content-Type", tt.ct)
			}
			if tt.ce != "" {
				req.Header.Set("Content-Encoding", tt.ce)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.code {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.code, b)
			}
			if tt.code == 400 { // a google.rpc.Status in the request's encoding
				var st status.Status
				dec := proto.Unmarshal
				if strings.HasPrefix(tt.ct, "application/json") {
					dec = protojson.Unmarshal
				}
				if err := dec(b, &st); err != nil || !strings.Contains(st.Message, tt.wantBody) {
					t.Errorf("400 body %q (%v): want a Status mentioning %q", b, err, tt.wantBody)
				}
				return
			}
			if tt.code != 200 {
				if !strings.Contains(string(b), tt.wantBody) {
					t.Errorf("body %q, want it to mention %q", b, tt.wantBody)
				}
				return
			}
			if tt.path == "/v1/traces" {
				var r coltracepb.ExportTraceServiceResponse
				dec := proto.Unmarshal
				if strings.HasPrefix(tt.ct, "application/json") {
					dec = protojson.Unmarshal
				}
				if err := dec(b, &r); err != nil {
					t.Fatalf("response %q: %v", b, err)
				}
				if got := r.GetPartialSuccess().GetRejectedSpans(); got != tt.wantRejected {
					t.Errorf("rejected spans %d, want %d", got, tt.wantRejected)
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(tt.ct, ct) {
					t.Errorf("response Content-Type %q for a %q request", ct, tt.ct)
				}
			}
		})
	}
	tr.flush(t)
	if spans, ok := tr.store.Trace("abababababababababababababababab"); !ok || len(spans) != 2 || spans[0].Service != "web" {
		t.Errorf("protobuf spans: %+v", spans)
	}
	js, ok := tr.store.Trace("0102030405060708090a0b0c0d0e0f10")
	if !ok || len(js) != 2 || js[0].SpanID != "1112131415161718" || js[0].Attrs["n"] != "5" || js[0].Status != "error" || js[0].Kind != "server" ||
		!js[0].Start.Equal(time.Unix(1767323045, 0)) || js[0].Duration() != time.Second {
		t.Errorf("JSON spans: %+v", js)
	}
	tr.mu.Lock()
	if len(tr.metrics) != 1 || tr.metrics[0].GetResourceMetrics()[0].GetScopeMetrics()[0].GetMetrics()[0].GetName() != "orders" {
		t.Errorf("metrics callback got %v", tr.metrics)
	}
	tr.mu.Unlock()
}

// FuzzDecode feeds arbitrary bodies to both decoders and the conversion: an error, never a panic.
func FuzzDecode(f *testing.F) {
	good, _ := proto.Marshal(exportRequest(bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 8)))
	f.Add(good)
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"zz"}]}]}]}`))
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"kvlistValue":{"values":[{"key":"a","value":{"arrayValue":{}}}]}}}]}]}]}`))
	f.Add([]byte(`[[[[[[[[[[`))
	st, err := OpenStore(StoreOptions{MaxSpans: 1000})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	r, err := Listen(Options{Store: st, MaxBodyBytes: 1 << 20, Logs: func(event.LogLine) {}})
	if err != nil {
		f.Fatal(err)
	}
	h := r.Handler()
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, dec := range []decoder{DecodeProtobuf, DecodeJSON} {
			var tr coltracepb.ExportTraceServiceRequest
			if dec(b, &tr) == nil {
				convertTraces(&tr)
			}
		}
		// through the handler, as a request body: an answer of 200 or 400, never a panic
		for _, path := range []string{PathTraces, PathLogs, PathMetrics} {
			for _, ct := range []string{ctProtobuf, ctJSON} {
				w := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(b))
				req.Header.Set("Content-Type", ct)
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
					t.Errorf("POST %s (%s): %d", path, ct, w.Code)
				}
			}
		}
	})
}

// A store that cannot take spans (devstack stopping) answers 503 with Retry-After over HTTP and
// Unavailable over gRPC: both are what OTLP exporters retry.
func TestUnavailableWhenStoreClosed(t *testing.T) {
	tr := startReceiver(t, 100, "")
	tr.store.Close()
	good, _ := proto.Marshal(exportRequest(bytes.Repeat([]byte{3}, 16), bytes.Repeat([]byte{4}, 8)))
	resp, err := http.Post("http://"+tr.HTTPAddr()+"/v1/traces", "application/x-protobuf", bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("HTTP export to a closed store: %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	conn, err := grpc.NewClient(tr.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = coltracepb.NewTraceServiceClient(conn).Export(context.Background(), exportRequest(bytes.Repeat([]byte{3}, 16), bytes.Repeat([]byte{4}, 8)))
	if grpcstatus.Code(err) != grpccodes.Unavailable {
		t.Errorf("gRPC export to a closed store: %v, want Unavailable", err)
	}
}
