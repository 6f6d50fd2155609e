package pipeline

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/devstack-dev/devstack/sample-services/scorer/internal/events"
)

// Metrics are the scorer's Prometheus instruments. A nil *Metrics records nothing.
type Metrics struct {
	consumed    prometheus.Counter
	scoredTotal *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	scores      prometheus.Histogram
	lag         prometheus.Histogram
	batch       prometheus.Histogram
}

// NewMetrics registers the instruments on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		consumed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scorer_records_consumed_total", Help: "Records read from orders.placed.",
		}),
		scoredTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scorer_orders_scored_total", Help: "Orders scored, by decision.",
		}, []string{"decision"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scorer_dead_letters_total", Help: "Records sent to orders.dlq, by reason.",
		}, []string{"reason"}),
		scores: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "scorer_risk_score", Help: "Risk scores given.", Buckets: prometheus.LinearBuckets(10, 10, 10),
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "scorer_order_age_seconds", Help: "Time from placed_at to scoring.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "scorer_batch_seconds", Help: "Time to score, produce and commit one polled batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
	}
	reg.MustRegister(m.consumed, m.scoredTotal, m.deadLetters, m.scores, m.lag, m.batch)
	for _, d := range []string{"approve", "review", "reject"} {
		m.scoredTotal.WithLabelValues(d)
	}
	for _, r := range []string{"undecodable", "invalid_order"} {
		m.deadLetters.WithLabelValues(r)
	}
	return m
}

func (m *Metrics) scored(s events.OrderScored) {
	if m == nil {
		return
	}
	m.scoredTotal.WithLabelValues(s.Decision).Inc()
	m.scores.Observe(float64(s.Score))
	m.lag.Observe(s.ScoredAt.Sub(s.PlacedAt).Seconds())
}

func (m *Metrics) deadLetter(reason string) {
	if m == nil {
		return
	}
	m.deadLetters.WithLabelValues(reason).Inc()
}

func (m *Metrics) observeBatch(n int, d time.Duration) {
	if m == nil {
		return
	}
	m.consumed.Add(float64(n))
	m.batch.Observe(d.Seconds())
}
