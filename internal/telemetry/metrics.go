package telemetry

import "github.com/prometheus/client_golang/prometheus"

var (
	descSpansReceived = prometheus.NewDesc("devstack_telemetry_spans_received_total",
		"Spans received: over OTLP and from devstack's own components (gateway, broker).", nil, nil)
	descSpansDropped = prometheus.NewDesc("devstack_telemetry_spans_dropped_total",
		"Spans not kept: the store's queue was full, the store was stopping, or one trace outgrew the store.", nil, nil)
	descSpansEvicted = prometheus.NewDesc("devstack_telemetry_spans_evicted_total",
		"Spans removed with the oldest traces to keep the store within telemetry.max_spans.", nil, nil)
	descSpansRejected = prometheus.NewDesc("devstack_telemetry_spans_rejected_total",
		"Spans refused because of a malformed trace or span id (OTLP partial success).", nil, nil)
	descSpansStored = prometheus.NewDesc("devstack_telemetry_spans_stored",
		"Spans the store keeps now.", nil, nil)
	descTracesStored = prometheus.NewDesc("devstack_telemetry_traces_stored",
		"Traces the store keeps now.", nil, nil)
	descLogRecords = prometheus.NewDesc("devstack_telemetry_log_records_received_total",
		"OTLP log records received and added to the logs.", nil, nil)
	descMetrics = prometheus.NewDesc("devstack_telemetry_metrics_received_total",
		"OTLP metrics received (one per metric of an export).", nil, nil)
	descBadRequests = prometheus.NewDesc("devstack_telemetry_requests_failed_total",
		"OTLP/HTTP requests answered with an error (a malformed or too large body, a full store).", nil, nil)
)

// Collector returns the receiver's metrics (its store's included) for /__devstack/metrics.
func (r *Receiver) Collector() prometheus.Collector { return collector{r} }

type collector struct{ r *Receiver }

// Describe implements prometheus.Collector.
func (collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSpansReceived, descSpansDropped, descSpansEvicted, descSpansRejected,
		descSpansStored, descTracesStored, descLogRecords, descMetrics, descBadRequests} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	st, r := c.r.o.Store, c.r
	spans, traces := st.Len()
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(descSpansReceived, st.received.Load())
	counter(descSpansDropped, st.dropped.Load())
	counter(descSpansEvicted, st.evicted.Load())
	counter(descSpansRejected, r.stats.rejected.Load())
	ch <- prometheus.MustNewConstMetric(descSpansStored, prometheus.GaugeValue, float64(spans))
	ch <- prometheus.MustNewConstMetric(descTracesStored, prometheus.GaugeValue, float64(traces))
	counter(descLogRecords, r.stats.logRecords.Load())
	counter(descMetrics, r.stats.metrics.Load())
	counter(descBadRequests, r.stats.badRequests.Load())
}
