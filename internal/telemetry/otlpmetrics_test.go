package telemetry

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
)

func TestPromMetricName(t *testing.T) {
	cases := []struct {
		name, unit string
		kind       omKind
		want       string
	}{
		{"http.server.request.duration", "s", omHistogram, "http_server_request_duration_seconds"},
		{"orders.placed", "{order}", omCounter, "orders_placed_total"},
		{"http.requests.total", "", omCounter, "http_requests_total"},
		{"requests", "1", omCounter, "requests_total"},
		{"process.memory.usage", "By", omGauge, "process_memory_usage_bytes"},
		{"net.io", "By/s", omGauge, "net_io_bytes_per_second"},
		{"cpu.utilization", "1", omGauge, "cpu_utilization_ratio"},
		{"queue.depth", "", omGauge, "queue_depth"},
		{"db.client.connections.usage", "{connection}", omGauge, "db_client_connections_usage"},
		{"jvm.gc.duration", "ms", omHistogram, "jvm_gc_duration_milliseconds"},
		{"request_seconds", "s", omHistogram, "request_seconds"},
		{"2xx.responses", "", omCounter, "_2xx_responses_total"},
		{"weird--name..x", "", omGauge, "weird_name_x"},
	}
	for _, c := range cases {
		if got := promMetricName(c.name, c.unit, c.kind); got != c.want {
			t.Errorf("promMetricName(%q, %q, %s) = %q, want %q", c.name, c.unit, c.kind, got, c.want)
		}
	}
	for in, want := range map[string]string{"http.route": "http_route", "2x": "key_2x", "_foo": "key_foo", "__x": "__x", "a-b c": "a_b_c", "": ""} {
		if got := promLabelName(in); got != want {
			t.Errorf("promLabelName(%q) = %q, want %q", in, got, want)
		}
	}
}

// otlpSink runs the OTLP receiver (HTTP) with the store behind its metrics callback, as the stack
// does, and returns its base URL.
func otlpSink(t *testing.T, s *MetricStore) string {
	t.Helper()
	st, err := OpenStore(StoreOptions{MaxSpans: 10})
	if err != nil {
		t.Fatal(err)
	}
	r := serveReceiver(t, st, Options{HTTPAddr: "127.0.0.1:0", Store: st, MaxBodyBytes: 1 << 20, Metrics: s.Add})
	return "http://" + r.HTTPAddr()
}

// meterProvider is the Go SDK exporting to url over OTLP/HTTP as service/instance.
func meterProvider(t *testing.T, url, service, instance string, opts ...otlpmetrichttp.Option) (*sdkmetric.MeterProvider, *sdkmetric.PeriodicReader) {
	t.Helper()
	exp, err := otlpmetrichttp.New(context.Background(), append([]otlpmetrichttp.Option{otlpmetrichttp.WithEndpointURL(url + "/v1/metrics")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	rd := sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))
	res := resource.NewSchemaless(attribute.String("service.name", service), attribute.String("service.instance.id", instance))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(rd), sdkmetric.WithResource(res))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	return mp, rd
}

// gather collects the store's Prometheus families by name.
func gather(t *testing.T, s *MetricStore) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(s.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

func labelsOf(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// TestOTLPMetricsFromTheSDK: what the Go OpenTelemetry SDK's OTLP exporter sends is kept and served as
// Prometheus series named the way Prometheus' OTLP translation names them, with service and instance.
func TestOTLPMetricsFromTheSDK(t *testing.T) {
	s := NewMetricStore(MetricStoreOptions{MaxServices: 10, MaxSeriesPerService: 100})
	url := otlpSink(t, s)
	ctx := context.Background()
	mp, _ := meterProvider(t, url, "users", "users-0")
	m := mp.Meter("users")
	orders, _ := m.Int64Counter("orders.placed", metric.WithUnit("{order}"), metric.WithDescription("Orders placed."))
	dur, _ := m.Float64Histogram("http.server.request.duration", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.1, 0.5, 1))
	depth, _ := m.Int64Gauge("queue.depth")
	conns, _ := m.Float64UpDownCounter("db.connections", metric.WithUnit("{connection}"))
	orders.Add(ctx, 3, metric.WithAttributes(attribute.String("status", "ok"), attribute.String("service", "shadow")))
	orders.Add(ctx, 1, metric.WithAttributes(attribute.String("status", "failed"), attribute.String("stack", "x"), attribute.String("job", "y")))
	dur.Record(ctx, 0.05, metric.WithAttributes(attribute.String("http.route", "/users")))
	dur.Record(ctx, 0.3, metric.WithAttributes(attribute.String("http.route", "/users")))
	depth.Record(ctx, 7)
	conns.Add(ctx, 2)
	if err := mp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	// a second export: cumulative points replace the first ones
	orders.Add(ctx, 2, metric.WithAttributes(attribute.String("status", "ok"), attribute.String("service", "shadow")))
	depth.Record(ctx, 4)
	if err := mp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}

	mfs := gather(t, s)
	type want struct {
		typ    dto.MetricType
		labels string
		value  float64
	}
	for name, w := range map[string]want{
		"orders_placed_total":        {dto.MetricType_COUNTER, "exported_service=shadow,instance=users-0,service=users,status=ok", 5},
		"queue_depth":                {dto.MetricType_GAUGE, "instance=users-0,service=users", 4},
		"orders_placed_total/failed": {dto.MetricType_COUNTER, "exported_job=y,exported_stack=x,instance=users-0,service=users,status=failed", 1},
		"db_connections":             {dto.MetricType_GAUGE, "instance=users-0,service=users", 2},
	} {
		name, _, _ = strings.Cut(name, "/")
		mf := mfs[name]
		if mf == nil {
			t.Errorf("no family %s; have %v", name, keys(mfs))
			continue
		}
		if mf.GetType() != w.typ {
			t.Errorf("%s: type %s, want %s", name, mf.GetType(), w.typ)
		}
		found := false
		for _, m := range mf.GetMetric() {
			if labelsOf(m) == w.labels {
				found = true
				v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
				if v != w.value {
					t.Errorf("%s{%s} = %v, want %v", name, w.labels, v, w.value)
				}
			}
		}
		if !found {
			t.Errorf("%s: no series {%s} in %v", name, w.labels, mf.GetMetric())
		}
	}
	if h := mfs["orders_placed_total"].GetHelp(); h != "Orders placed." {
		t.Errorf("help = %q, want the instrument's description", h)
	}
	h := mfs["http_server_request_duration_seconds"]
	if h == nil || h.GetType() != dto.MetricType_HISTOGRAM || len(h.GetMetric()) != 1 {
		t.Fatalf("histogram: %v", h)
	}
	hm := h.GetMetric()[0]
	if labelsOf(hm) != "http_route=/users,instance=users-0,service=users" || hm.GetHistogram().GetSampleCount() != 2 {
		t.Errorf("histogram series %s count %d", labelsOf(hm), hm.GetHistogram().GetSampleCount())
	}
	var cum []uint64
	for _, b := range hm.GetHistogram().GetBucket() {
		cum = append(cum, b.GetCumulativeCount())
	}
	if len(cum) != 3 || cum[0] != 1 || cum[1] != 2 || cum[2] != 2 {
		t.Errorf("buckets (le 0.1, 0.5, 1) = %v, want [1 2 2]", cum)
	}

	list := s.Service("users")
	var names []string
	for _, m := range list {
		names = append(names, m.Name)
	}
	if strings.Join(names, " ") != "db_connections http_server_request_duration_seconds orders_placed_total orders_placed_total queue_depth" {
		t.Errorf("Service(users) = %v", names)
	}
	if s.Service("nobody") != nil {
		t.Errorf("a service that exported nothing has metrics")
	}
}

// TestOTLPMetricsDelta: an SDK exporting delta temporality adds to the kept counter and histogram.
func TestOTLPMetricsDelta(t *testing.T) {
	s := NewMetricStore(MetricStoreOptions{MaxServices: 10, MaxSeriesPerService: 100})
	url := otlpSink(t, s)
	ctx := context.Background()
	mp, _ := meterProvider(t, url, "scorer", "scorer-1", otlpmetrichttp.WithTemporalitySelector(func(sdkmetric.InstrumentKind) metricdata.Temporality { return metricdata.DeltaTemporality }))
	m := mp.Meter("scorer")
	scored, _ := m.Int64Counter("orders.scored")
	lat, _ := m.Float64Histogram("score.latency", metric.WithUnit("ms"), metric.WithExplicitBucketBoundaries(10, 100))
	for _, n := range []int64{2, 3} {
		scored.Add(ctx, n)
		lat.Record(ctx, 5)
		if err := mp.ForceFlush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mfs := gather(t, s)
	if v := mfs["orders_scored_total"].GetMetric()[0].GetCounter().GetValue(); v != 5 {
		t.Errorf("delta counter = %v, want 2+3", v)
	}
	if c := mfs["score_latency_milliseconds"].GetMetric()[0].GetHistogram().GetSampleCount(); c != 2 {
		t.Errorf("delta histogram count = %d, want 2", c)
	}
}

func gaugeExport(service, instance string, points map[string]float64, name string) *colmetricspb.ExportMetricsServiceRequest {
	var dps []*metricspb.NumberDataPoint
	for k, v := range points {
		dps = append(dps, &metricspb.NumberDataPoint{
			Attributes: []*commonpb.KeyValue{{Key: "k", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: k}}}},
			Value:      &metricspb.NumberDataPoint_AsDouble{AsDouble: v},
		})
	}
	return &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
			{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: service}}},
			{Key: "devstack.replica", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 0}}},
		}},
		ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{{
			Name: name, Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: dps}},
		}}}},
	}}}
}

// TestMetricStoreBounds: series per service and services are bounded (what does not fit is dropped and
// counted), stale series go, a name the stack's own metrics use or one exported as two types is refused.
func TestMetricStoreBounds(t *testing.T) {
	s := NewMetricStore(MetricStoreOptions{MaxServices: 2, MaxSeriesPerService: 2, StaleAfter: time.Minute})
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	s.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s.Add(gaugeExport("a", "", map[string]float64{"1": 1, "2": 2, "3": 3}, "g"))
	if n := len(s.Service("a")); n != 2 || s.Dropped() != 1 {
		t.Errorf("3 series, 2 allowed: kept %d, dropped %d", n, s.Dropped())
	}
	if got := s.Service("a")[0].Instance; got != "0" {
		t.Errorf("instance from devstack.replica = %q", got)
	}
	s.Add(gaugeExport("b", "", map[string]float64{"1": 1}, "g"))
	s.Add(gaugeExport("c", "", map[string]float64{"1": 1}, "g"))
	if len(s.Service("c")) != 0 || s.Dropped() != 2 {
		t.Errorf("a third service past MaxServices 2: kept %v, dropped %d", s.Service("c"), s.Dropped())
	}
	s.Add(gaugeExport("b", "", map[string]float64{"1": 1}, "devstack_service_restarts_total"))
	if len(s.Service("b")) != 1 || s.Dropped() != 3 {
		t.Errorf("a devstack_ name: %v, dropped %d", s.Service("b"), s.Dropped())
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	s.Add(gaugeExport("c", "", map[string]float64{"1": 1}, "g"))
	if len(s.Service("a")) != 0 || len(s.Service("c")) != 1 {
		t.Errorf("after StaleAfter: a %v, c %v", s.Service("a"), s.Service("c"))
	}
	if mfs := gather(t, s); len(mfs["g"].GetMetric()) != 1 || labelsOf(mfs["g"].GetMetric()[0]) != "instance=0,k=1,service=c" {
		t.Errorf("served after expiry: %v", mfs["g"])
	}
}

// TestMetricStoreTypeConflict: a name exported as a gauge by one service and a counter by another keeps
// the first type (Prometheus allows one per family).
func TestMetricStoreTypeConflict(t *testing.T) {
	s := NewMetricStore(MetricStoreOptions{MaxServices: 10, MaxSeriesPerService: 10})
	s.Add(gaugeExport("a", "", map[string]float64{"1": 1}, "jobs_total"))
	s.Add(&colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "b"}}}}},
		ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{{Name: "jobs", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{IsMonotonic: true,
			AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE,
			DataPoints:             []*metricspb.NumberDataPoint{{Value: &metricspb.NumberDataPoint_AsInt{AsInt: 4}}}}}}}}},
	}}})
	if len(s.Service("b")) != 0 || s.Dropped() != 1 {
		t.Errorf("counter jobs_total after gauge jobs_total: kept %v, dropped %d", s.Service("b"), s.Dropped())
	}
	if mfs := gather(t, s); mfs["jobs_total"].GetType() != dto.MetricType_GAUGE {
		t.Errorf("jobs_total: %v", mfs["jobs_total"])
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
