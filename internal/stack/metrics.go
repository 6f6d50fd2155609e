package stack

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/devstack-dev/devstack/internal/broker"
	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/postgres"
	"github.com/devstack-dev/devstack/internal/schemareg"
)

// brokerScrapeTimeout and postgresScrapeTimeout bound the broker's and PostgreSQL's calls of one
// /__devstack/metrics scrape.
const (
	brokerScrapeTimeout   = 2 * time.Second
	postgresScrapeTimeout = 2 * time.Second
)

// reloadBuckets are the reload-duration histogram's upper bounds, in seconds.
var reloadBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// collectors are the stack's metrics the gateway serves next to its own: the broker's, read through the
// stack's admin at scrape time, the registry's, PostgreSQL's, and the services', folded from the event bus (follow must run for
// reloads to be counted).
func (s *Stack) collectors(sm *serviceMetrics) []prometheus.Collector {
	admin := func() *broker.Admin {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.admin
	}
	db := func() postgres.DatabaseLister {
		s.mu.Lock()
		defer s.mu.Unlock()
		if l, ok := s.db.(postgres.DatabaseLister); ok {
			return l
		}
		return nil // none, or one that cannot list its databases
	}
	registry := func() prometheus.Collector { // the schema registry's, once it runs
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.reg == nil {
			return nil
		}
		return schemareg.NewCollector(s.reg)
	}
	receiver := func() prometheus.Collector { // the OTLP receiver's own, once telemetry runs
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.otlp == nil {
			return nil
		}
		return s.otlp.Collector()
	}
	services := func() prometheus.Collector { // the services' OTLP metrics, once telemetry runs
		if m := s.metricStore(); m != nil {
			return m.Collector()
		}
		return nil
	}
	return []prometheus.Collector{broker.NewCollector(admin, brokerScrapeTimeout), sm, lateCollector(registry),
		postgres.NewCollector(db, postgresScrapeTimeout), lateCollector(receiver), lateCollector(services)}
}

// lateCollector is a component's collector once the component runs (nil before, or without it). It
// describes nothing (the component comes and goes with the config), so it is unchecked.
type lateCollector func() prometheus.Collector

// Describe implements prometheus.Collector.
func (lateCollector) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (c lateCollector) Collect(ch chan<- prometheus.Metric) {
	if col := c(); col != nil {
		col.Collect(ch)
	}
}

// serviceMetrics are the supervisor's numbers as the event bus carries them: restarts, CPU and RSS from
// the current state at scrape time; reloads, their durations and failures counted as they happen. Label
// sets are bounded: services come from devstack.yaml, instances from their replicas.
type serviceMetrics struct {
	bus *event.Bus

	mu       sync.Mutex
	lastSeen map[string]time.Time // service -> the last reload counted (its At)

	reloads       *prometheus.CounterVec
	buildFailures *prometheus.CounterVec
	reloadDur     *prometheus.HistogramVec

	restarts, cpu, rss *prometheus.Desc
}

func newServiceMetrics(bus *event.Bus) *serviceMetrics {
	return &serviceMetrics{
		bus:      bus,
		lastSeen: map[string]time.Time{},
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "devstack_service_reloads_total",
			Help: "Hot reloads (and rebuilds) of the service by result (ok, failed)."}, []string{"service", "result"}),
		buildFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "devstack_service_build_failures_total",
			Help: "Reloads of the service whose build (or setup) step failed; the running instance kept running."}, []string{"service"}),
		reloadDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "devstack_service_reload_duration_seconds",
			Help: "How long a reload took, from the first file event to the new instance serving (the reload timeline's total).", Buckets: reloadBuckets}, []string{"service"}),
		restarts: prometheus.NewDesc("devstack_service_restarts_total", "Times the supervisor restarted the service's instances after they exited.", []string{"service"}, nil),
		cpu:      prometheus.NewDesc("devstack_service_cpu_percent", "CPU of the instance, in percent of one core.", []string{"service", "replica"}, nil),
		rss:      prometheus.NewDesc("devstack_service_rss_bytes", "Resident memory of the instance.", []string{"service", "replica"}, nil),
	}
}

// observe folds one bus event in: a service event whose last reload is newer than the one counted
// counts it once (events repeat the last reload; a resubscription replays it).
func (m *serviceMetrics) observe(ev event.Event) {
	if ev.Kind != event.KindService || ev.Service == nil || ev.Service.LastReload == nil {
		return
	}
	name, r := ev.Service.Name, ev.Service.LastReload
	m.mu.Lock()
	defer m.mu.Unlock()
	if !r.At.After(m.lastSeen[name]) {
		return
	}
	m.lastSeen[name] = r.At
	if !r.OK {
		m.reloads.WithLabelValues(name, "failed").Inc()
		if len(r.Timeline) == 0 { // the setup or build step failed before anything was deployed
			m.buildFailures.WithLabelValues(name).Inc()
		}
		return
	}
	m.reloads.WithLabelValues(name, "ok").Inc()
	m.reloadDur.WithLabelValues(name).Observe(r.Duration.Seconds())
}

// Describe implements prometheus.Collector.
func (m *serviceMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.reloads.Describe(ch)
	m.buildFailures.Describe(ch)
	m.reloadDur.Describe(ch)
	ch <- m.restarts
	ch <- m.cpu
	ch <- m.rss
}

// Collect implements prometheus.Collector.
func (m *serviceMetrics) Collect(ch chan<- prometheus.Metric) {
	m.reloads.Collect(ch)
	m.buildFailures.Collect(ch)
	m.reloadDur.Collect(ch)
	for _, sv := range m.bus.Snapshot().Services {
		ch <- prometheus.MustNewConstMetric(m.restarts, prometheus.CounterValue, float64(sv.Restarts), sv.Name)
		for _, in := range sv.Instances {
			if in.PID == 0 {
				continue
			}
			r := strconv.Itoa(in.Replica)
			ch <- prometheus.MustNewConstMetric(m.cpu, prometheus.GaugeValue, in.CPU, sv.Name, r)
			ch <- prometheus.MustNewConstMetric(m.rss, prometheus.GaugeValue, float64(in.RSS), sv.Name, r)
		}
	}
}
