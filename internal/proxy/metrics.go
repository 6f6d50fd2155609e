package proxy

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/devstack-dev/devstack/internal/event"
)

// latencyBuckets are the histogram's upper bounds.
var latencyBuckets = []time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

const rateSlots = 8 // one-second slots for req/s

// routeStats are lock-free counters for one route; they survive reloads (keyed by route name).
type routeStats struct {
	name, service string
	status        [6]atomic.Int64 // index 1..5 = 1xx..5xx, 0 = other
	buckets       [17]atomic.Int64
	sumNanos      atomic.Int64
	count         atomic.Int64
	slots         [rateSlots]struct{ sec, n atomic.Int64 }
}

func (s *routeStats) record(status int, d time.Duration, now time.Time) {
	c := status / 100
	if c < 1 || c > 5 {
		c = 0
	}
	s.status[c].Add(1)
	i := 0
	for i < len(latencyBuckets) && d > latencyBuckets[i] {
		i++
	}
	s.buckets[i].Add(1)
	s.sumNanos.Add(int64(d))
	s.count.Add(1)
	sec := now.Unix()
	slot := &s.slots[sec%rateSlots]
	if old := slot.sec.Load(); old != sec {
		if slot.sec.CompareAndSwap(old, sec) {
			slot.n.Store(0)
		}
	}
	slot.n.Add(1)
}

// rate is requests per second over the last 5 complete seconds.
func (s *routeStats) rate(now time.Time) float64 {
	sec := now.Unix()
	var n int64
	for i := int64(1); i <= 5; i++ {
		slot := &s.slots[(sec-i)%rateSlots]
		if slot.sec.Load() == sec-i {
			n += slot.n.Load()
		}
	}
	return float64(n) / 5
}

// quantile estimates a latency quantile from the histogram by linear interpolation in its bucket.
func (s *routeStats) quantile(q float64) time.Duration {
	var counts [17]int64
	var total int64
	for i := range counts {
		counts[i] = s.buckets[i].Load()
		total += counts[i]
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var cum int64
	for i, c := range counts {
		if c == 0 {
			continue
		}
		if float64(cum+c) >= rank {
			lo := time.Duration(0)
			if i > 0 {
				lo = latencyBuckets[i-1]
			}
			if i == len(latencyBuckets) {
				return lo
			}
			hi := latencyBuckets[i]
			frac := (rank - float64(cum)) / float64(c)
			return lo + time.Duration(frac*float64(hi-lo))
		}
		cum += c
	}
	return latencyBuckets[len(latencyBuckets)-1]
}

func (s *routeStats) snapshot(now time.Time) event.RouteStats {
	st := map[string]int64{}
	for i, name := range []string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"} {
		if n := s.status[i].Load(); n > 0 {
			st[name] = n
		}
	}
	return event.RouteStats{Route: s.name, Service: s.service, Requests: s.count.Load(), Rate: s.rate(now),
		P50: s.quantile(0.5), P99: s.quantile(0.99), Status: st}
}

// statsSet holds every route's stats by name, across reloads.
type statsSet struct {
	mu sync.Mutex
	m  map[string]*routeStats
}

func (ss *statsSet) get(name, service string) *routeStats {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.m = map[string]*routeStats{}
	}
	s := ss.m[name]
	if s == nil {
		s = &routeStats{name: name, service: service}
		ss.m[name] = s
	}
	return s
}

func (ss *statsSet) all() []*routeStats {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	out := make([]*routeStats, 0, len(ss.m))
	for _, s := range ss.m {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// collector exposes the stats to Prometheus without per-request Prometheus overhead.
type collector struct {
	g                           *Gateway
	reqs, dur, inflight, upDesc *prometheus.Desc
	fast                        *prometheus.Desc
}

func newCollector(g *Gateway) *collector {
	return &collector{
		g:        g,
		reqs:     prometheus.NewDesc("devstack_gateway_requests_total", "Requests through the gateway by route and status class.", []string{"route", "service", "code"}, nil),
		dur:      prometheus.NewDesc("devstack_gateway_request_duration_seconds", "Request latency through the gateway.", []string{"route", "service"}, nil),
		inflight: prometheus.NewDesc("devstack_gateway_upstream_in_flight", "In-flight requests per upstream instance.", []string{"service", "addr"}, nil),
		upDesc:   prometheus.NewDesc("devstack_gateway_upstream_healthy", "1 when the instance is ready and not taken out by passive health.", []string{"service", "addr"}, nil),
		fast: prometheus.NewDesc("devstack_gateway_fastpath_total",
			"Plain-HTTP traffic by how the gateway's event loops handled it: served (requests answered on the loops), handoff (connections given to net/http), detached (streamed or large responses finished by a goroutine).",
			[]string{"result"}, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.reqs
	ch <- c.dur
	ch <- c.inflight
	ch <- c.upDesc
	ch <- c.fast
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.g.stats.all() {
		for i, name := range []string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"} {
			if n := s.status[i].Load(); n > 0 {
				ch <- prometheus.MustNewConstMetric(c.reqs, prometheus.CounterValue, float64(n), s.name, s.service, name)
			}
		}
		b := map[float64]uint64{}
		var cum uint64
		for i, ub := range latencyBuckets {
			cum += uint64(s.buckets[i].Load())
			b[ub.Seconds()] = cum
		}
		cum += uint64(s.buckets[len(latencyBuckets)].Load())
		ch <- prometheus.MustNewConstHistogram(c.dur, cum, time.Duration(s.sumNanos.Load()).Seconds(), b, s.name, s.service)
	}
	if f := c.g.fast.Load(); f != nil {
		ch <- prometheus.MustNewConstMetric(c.fast, prometheus.CounterValue, float64(f.served.Load()), "served")
		ch <- prometheus.MustNewConstMetric(c.fast, prometheus.CounterValue, float64(f.handoffs.Load()), "handoff")
		ch <- prometheus.MustNewConstMetric(c.fast, prometheus.CounterValue, float64(f.detaches.Load()), "detached")
	}
	c.g.poolsMu.Lock()
	pools := make([]*pool, 0, len(c.g.pools))
	for _, p := range c.g.pools {
		pools = append(pools, p)
	}
	c.g.poolsMu.Unlock()
	for _, p := range pools {
		for _, u := range p.info() {
			ch <- prometheus.MustNewConstMetric(c.inflight, prometheus.GaugeValue, float64(u.InFlight), p.service, u.Addr)
			h := 0.0
			if u.Ready && u.Healthy {
				h = 1
			}
			ch <- prometheus.MustNewConstMetric(c.upDesc, prometheus.GaugeValue, h, p.service, u.Addr)
		}
	}
}

func newMetricsHandler(g *Gateway, others []prometheus.Collector) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(g))
	for _, c := range others {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("gateway: metrics collector: %w", err)
		}
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}), nil
}
