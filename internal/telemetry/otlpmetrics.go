package telemetry

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/devstack-dev/devstack/internal/event"
)

// MetricStoreOptions bound a MetricStore. The config decides every value.
type MetricStoreOptions struct {
	// MaxServices is how many services' metrics are kept (> 0); a new service past it is dropped.
	MaxServices int
	// MaxSeriesPerService is how many series one service keeps (> 0); a new series past it is dropped.
	MaxSeriesPerService int
	// StaleAfter drops a series no export has updated for this long; 0 means never.
	StaleAfter time.Duration
}

// MetricStore keeps the OTLP metrics services export, bounded: the latest point of each series (one
// metric of one service instance with one set of attributes). Cumulative sums, gauges and histograms
// replace the series' point; delta sums and histograms add to it. Names and labels are sanitised the
// way Prometheus' OTLP translation does, so Collector serves them as Prometheus series. Exponential
// histograms are not kept (counted as dropped).
type MetricStore struct {
	o   MetricStoreOptions
	now func() time.Time

	mu       sync.Mutex
	services map[string]map[string]*omSeries // service -> series key -> series
	kinds    map[string]omFamily             // Prometheus name -> its type and help (the first seen)
	dropped  uint64
}

// omKind is a series' Prometheus type.
type omKind int

const (
	omGauge omKind = iota
	omCounter
	omHistogram
	omSummary
)

func (k omKind) String() string {
	return [...]string{"gauge", "counter", "histogram", "summary"}[k]
}

type omFamily struct {
	kind omKind
	help string
}

// omSeries is one series' latest point.
type omSeries struct {
	name     string
	kind     omKind
	service  string
	instance string
	labels   []omLabel // sanitised attributes, sorted by name
	value    float64   // gauge, counter
	count    uint64    // histogram, summary
	sum      float64
	bounds   []float64
	buckets  []uint64 // per bucket (not cumulative), len(bounds)+1
	quants   map[float64]float64
	updated  time.Time
}

type omLabel struct{ name, value string }

// NewMetricStore returns an empty store.
func NewMetricStore(o MetricStoreOptions) *MetricStore {
	return &MetricStore{o: o, now: time.Now, services: map[string]map[string]*omSeries{}, kinds: map[string]omFamily{}}
}

// Add keeps the points of one OTLP export (what the receiver's Metrics callback gets).
func (s *MetricStore) Add(req *colmetricspb.ExportMetricsServiceRequest) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	for _, rm := range req.GetResourceMetrics() {
		service, instance := metricResource(rm.GetResource())
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				s.addMetric(service, instance, m, now)
			}
		}
	}
}

func (s *MetricStore) addMetric(service, instance string, m *metricspb.Metric, now time.Time) {
	switch d := m.GetData().(type) {
	case *metricspb.Metric_Gauge:
		name := promMetricName(m.GetName(), m.GetUnit(), omGauge)
		for _, p := range d.Gauge.GetDataPoints() {
			if p.GetFlags()&uint32(metricspb.DataPointFlags_DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK) != 0 {
				continue
			}
			if ser := s.series(service, instance, name, m.GetDescription(), omGauge, p.GetAttributes(), now); ser != nil {
				ser.value = numberValue(p)
			}
		}
	case *metricspb.Metric_Sum:
		kind := omGauge
		if d.Sum.GetIsMonotonic() {
			kind = omCounter
		}
		delta := d.Sum.GetAggregationTemporality() == metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
		name := promMetricName(m.GetName(), m.GetUnit(), kind)
		for _, p := range d.Sum.GetDataPoints() {
			if p.GetFlags()&uint32(metricspb.DataPointFlags_DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK) != 0 {
				continue
			}
			if ser := s.series(service, instance, name, m.GetDescription(), kind, p.GetAttributes(), now); ser != nil {
				if delta {
					ser.value += numberValue(p)
				} else {
					ser.value = numberValue(p)
				}
			}
		}
	case *metricspb.Metric_Histogram:
		delta := d.Histogram.GetAggregationTemporality() == metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
		name := promMetricName(m.GetName(), m.GetUnit(), omHistogram)
		for _, p := range d.Histogram.GetDataPoints() {
			if p.GetFlags()&uint32(metricspb.DataPointFlags_DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK) != 0 ||
				len(p.GetBucketCounts()) != len(p.GetExplicitBounds())+1 {
				continue
			}
			ser := s.series(service, instance, name, m.GetDescription(), omHistogram, p.GetAttributes(), now)
			if ser == nil {
				continue
			}
			if delta && slices.Equal(ser.bounds, p.GetExplicitBounds()) {
				ser.count += p.GetCount()
				ser.sum += p.GetSum()
				for i, c := range p.GetBucketCounts() {
					ser.buckets[i] += c
				}
				continue
			}
			ser.count, ser.sum = p.GetCount(), p.GetSum()
			ser.bounds = slices.Clone(p.GetExplicitBounds())
			ser.buckets = slices.Clone(p.GetBucketCounts())
		}
	case *metricspb.Metric_Summary:
		name := promMetricName(m.GetName(), m.GetUnit(), omSummary)
		for _, p := range d.Summary.GetDataPoints() {
			ser := s.series(service, instance, name, m.GetDescription(), omSummary, p.GetAttributes(), now)
			if ser == nil {
				continue
			}
			ser.count, ser.sum = p.GetCount(), p.GetSum()
			ser.quants = map[float64]float64{}
			for _, q := range p.GetQuantileValues() {
				ser.quants[q.GetQuantile()] = q.GetValue()
			}
		}
	default: // exponential histograms, and whatever a newer OTLP adds
		s.dropped++
	}
}

// series finds or makes the series of one point; nil when it is dropped: a name the stack's own metrics
// use, a name another service (or metric) exports as another type, or past a bound.
func (s *MetricStore) series(service, instance, name, help string, kind omKind, attrs []*commonpb.KeyValue, now time.Time) *omSeries {
	if name == "" || strings.HasPrefix(name, "devstack_") {
		s.dropped++
		return nil
	}
	if f, ok := s.kinds[name]; ok && f.kind != kind {
		s.dropped++
		return nil
	}
	labels := metricLabels(attrs)
	var key strings.Builder
	key.WriteString(name)
	key.WriteString("\x00")
	key.WriteString(instance)
	for _, l := range labels {
		key.WriteString("\x00" + l.name + "=" + l.value)
	}
	svc := s.services[service]
	if svc == nil {
		if len(s.services) >= s.o.MaxServices {
			s.dropped++
			return nil
		}
		svc = map[string]*omSeries{}
		s.services[service] = svc
	}
	ser := svc[key.String()]
	if ser == nil {
		if len(svc) >= s.o.MaxSeriesPerService {
			s.dropped++
			return nil
		}
		if _, ok := s.kinds[name]; !ok {
			s.kinds[name] = omFamily{kind: kind, help: help}
		}
		ser = &omSeries{name: name, kind: kind, service: service, instance: instance, labels: labels}
		svc[key.String()] = ser
	}
	ser.updated = now
	return ser
}

// expire drops the series not updated for StaleAfter (and families no series has left).
func (s *MetricStore) expire(now time.Time) {
	if s.o.StaleAfter <= 0 {
		return
	}
	used := map[string]bool{}
	for service, svc := range s.services {
		for k, ser := range svc {
			if now.Sub(ser.updated) > s.o.StaleAfter {
				delete(svc, k)
				continue
			}
			used[ser.name] = true
		}
		if len(svc) == 0 {
			delete(s.services, service)
		}
	}
	for name := range s.kinds {
		if !used[name] {
			delete(s.kinds, name)
		}
	}
}

// Dropped counts the points, metrics and series not kept (a bound, a conflicting type, an unsupported
// kind).
func (s *MetricStore) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Service lists the series of one service sorted by name, instance and labels (nil: none).
func (s *MetricStore) Service(name string) []event.ServiceMetric {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(s.now())
	var out []event.ServiceMetric
	for _, ser := range s.services[name] {
		m := event.ServiceMetric{Name: ser.name, Type: ser.kind.String(), Instance: ser.instance, Value: ser.value, Count: ser.count, Sum: ser.sum, Updated: ser.updated}
		if len(ser.labels) > 0 {
			m.Labels = map[string]string{}
			for _, l := range ser.labels {
				m.Labels[l.name] = l.value
			}
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Instance != b.Instance {
			return a.Instance < b.Instance
		}
		return labelString(a.Labels) < labelString(b.Labels)
	})
	return out
}

func labelString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + m[k] + ",")
	}
	return b.String()
}

// Collector serves the kept series as Prometheus metrics, each with the labels service and instance
// (service.name and service.instance.id of the export's resource) besides its attributes.
func (s *MetricStore) Collector() prometheus.Collector { return otlpMetricsCollector{s} }

type otlpMetricsCollector struct{ s *MetricStore }

// Describe implements prometheus.Collector: it describes nothing, the series come with the exports.
func (otlpMetricsCollector) Describe(chan<- *prometheus.Desc) {}

var (
	descMetricSeries = prometheus.NewDesc("devstack_telemetry_metric_series",
		"Series of the services' OTLP metrics kept now (served on this endpoint).", nil, nil)
	descMetricDropped = prometheus.NewDesc("devstack_telemetry_metric_points_dropped_total",
		"OTLP metric points not kept: past a bound, a name exported as two types or used by devstack, an exponential histogram.", nil, nil)
)

// Collect implements prometheus.Collector.
func (c otlpMetricsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(s.now())
	n := 0
	for _, svc := range s.services {
		n += len(svc)
	}
	ch <- prometheus.MustNewConstMetric(descMetricSeries, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(descMetricDropped, prometheus.CounterValue, float64(s.dropped))
	for _, svc := range s.services {
		for _, ser := range svc {
			names := []string{"service", "instance"}
			values := []string{ser.service, ser.instance}
			for _, l := range ser.labels {
				names = append(names, l.name)
				values = append(values, l.value)
			}
			help := s.kinds[ser.name].help
			if help == "" {
				help = "OTLP metric " + ser.name + " from the services."
			}
			desc := prometheus.NewDesc(ser.name, help, names, nil)
			var m prometheus.Metric
			var err error
			switch ser.kind {
			case omGauge:
				m, err = prometheus.NewConstMetric(desc, prometheus.GaugeValue, ser.value, values...)
			case omCounter:
				m, err = prometheus.NewConstMetric(desc, prometheus.CounterValue, ser.value, values...)
			case omHistogram:
				cum, b := uint64(0), make(map[float64]uint64, len(ser.bounds))
				for i, ub := range ser.bounds {
					cum += ser.buckets[i]
					b[ub] = cum
				}
				m, err = prometheus.NewConstHistogram(desc, ser.count, ser.sum, b, values...)
			case omSummary:
				m, err = prometheus.NewConstSummary(desc, ser.count, ser.sum, ser.quants, values...)
			}
			if err == nil {
				ch <- m
			}
		}
	}
}

// metricResource reads an export's service (service.name, else the SDKs' unknown_service) and instance
// (service.instance.id, else devstack.replica).
func metricResource(r *resourcepb.Resource) (service, instance string) {
	var replica string
	for _, kv := range r.GetAttributes() {
		switch kv.GetKey() {
		case "service.name":
			service = kv.GetValue().GetStringValue()
		case "service.instance.id":
			instance = kv.GetValue().GetStringValue()
		case "devstack.replica":
			replica = attrString(kv.GetValue())
		}
	}
	if service == "" {
		service = "unknown_service"
	}
	if instance == "" {
		instance = replica
	}
	return service, instance
}

// reservedLabels are the labels devstack sets (service, instance) or the scrape config does (job, stack,
// with honor_labels): an attribute of one of these names gets "exported_" before it.
var reservedLabels = map[string]bool{"service": true, "instance": true, "job": true, "stack": true}

// metricLabels are a point's attributes as Prometheus labels, sorted; one named as a reserved label
// becomes exported_<name>, and two that sanitise to one name are joined with ";" as Prometheus'
// translation does.
func metricLabels(attrs []*commonpb.KeyValue) []omLabel {
	if len(attrs) == 0 {
		return nil
	}
	byName := map[string]string{}
	for _, kv := range attrs {
		n := promLabelName(kv.GetKey())
		if n == "" {
			continue
		}
		if reservedLabels[n] {
			n = "exported_" + n
		}
		v := attrString(kv.GetValue())
		if old, ok := byName[n]; ok {
			v = old + ";" + v
		}
		byName[n] = v
	}
	out := make([]omLabel, 0, len(byName))
	for n, v := range byName {
		out = append(out, omLabel{n, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// attrString writes an attribute value as a label value.
func attrString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_ArrayValue:
		parts := make([]string, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			parts = append(parts, strconv.Quote(attrString(e)))
		}
		return "[" + strings.Join(parts, ",") + "]"
	case *commonpb.AnyValue_BytesValue:
		return string(x.BytesValue)
	}
	return ""
}

func numberValue(p *metricspb.NumberDataPoint) float64 {
	switch v := p.GetValue().(type) {
	case *metricspb.NumberDataPoint_AsDouble:
		return v.AsDouble
	case *metricspb.NumberDataPoint_AsInt:
		return float64(v.AsInt)
	}
	return math.NaN()
}

// unitWords are the UCUM units Prometheus' OTLP translation spells out in a metric name; perUnitWords
// the ones after a "/".
var (
	unitWords = map[string]string{
		"d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds", "us": "microseconds",
		"ns": "nanoseconds", "By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes",
		"TiBy": "tibibytes", "KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes",
		"m": "meters", "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "g": "grams", "Cel": "celsius",
		"Hz": "hertz", "1": "", "%": "percent",
	}
	perUnitWords = map[string]string{"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year"}
)

// promMetricName is the name Prometheus' OTLP translation gives a metric of this unit and type:
// every run of characters other than letters and digits becomes one "_", the unit is spelled out and
// appended ("s" → _seconds, "By/s" → _bytes_per_second; annotations in braces dropped), a gauge of unit
// "1" ends in _ratio, a counter in _total, and a leading digit gets a "_".
func promMetricName(name, unit string, kind omKind) string {
	tokens := nameTokens(name)
	if kind == omCounter {
		tokens = slices.DeleteFunc(tokens, func(t string) bool { return t == "total" })
	}
	main, per, _ := strings.Cut(unit, "/")
	if w := unitWord(main, unitWords); w != "" && !slices.Contains(tokens, w) {
		tokens = append(tokens, nameTokens(w)...)
	}
	if w := unitWord(per, perUnitWords); w != "" && !slices.Contains(tokens, w) {
		tokens = append(tokens, "per", w)
	}
	if kind == omGauge && unit == "1" && !slices.Contains(tokens, "ratio") {
		tokens = append(tokens, "ratio")
	}
	if kind == omCounter {
		tokens = append(tokens, "total")
	}
	out := strings.Join(tokens, "_")
	if out != "" && out[0] >= '0' && out[0] <= '9' {
		out = "_" + out
	}
	return out
}

// unitWord spells one unit; "" for none, an annotation ({requests}) or one with characters a name cannot
// carry.
func unitWord(u string, words map[string]string) string {
	u = strings.TrimSpace(u)
	if u == "" || strings.HasPrefix(u, "{") {
		return ""
	}
	if w, ok := words[u]; ok {
		return w
	}
	return strings.Join(nameTokens(u), "_")
}

func nameTokens(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !isASCIIAlnum(r) })
}

func isASCIIAlnum(r rune) bool {
	return r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

// promLabelName is an attribute's label name as Prometheus' OTLP translation writes it: characters
// other than ASCII letters, digits and "_" become "_"; a leading digit gets "key_", a single leading "_"
// gets "key".
func promLabelName(key string) string {
	if key == "" {
		return ""
	}
	b := []rune(key)
	for i, r := range b {
		if !isASCIIAlnum(r) && r != '_' {
			b[i] = '_'
		}
	}
	out := string(b)
	switch {
	case out[0] >= '0' && out[0] <= '9':
		out = "key_" + out
	case strings.HasPrefix(out, "_") && !strings.HasPrefix(out, "__"):
		out = "key" + out
	}
	return out
}
