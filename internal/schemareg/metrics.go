package schemareg

import "github.com/prometheus/client_golang/prometheus"

// Collector exposes the registry's subjects, schemas and refused registrations to Prometheus. A scrape
// reads the in-memory state under its read lock: no Kafka call.
type Collector struct {
	r                          *Registry
	subjects, schemas, refused *prometheus.Desc
}

// NewCollector returns r's collector.
func NewCollector(r *Registry) *Collector {
	return &Collector{r: r,
		subjects: prometheus.NewDesc("devstack_registry_subjects", "Subjects with at least one version that is not deleted.", nil, nil),
		schemas:  prometheus.NewDesc("devstack_registry_schemas", "Distinct schemas (ids) the registry holds.", nil, nil),
		refused: prometheus.NewDesc("devstack_registry_registrations_refused_total",
			"Registrations the registry refused: an invalid or incompatible schema, a bad subject, read-only mode.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.subjects
	ch <- c.schemas
	ch <- c.refused
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.r.mu.RLock()
	subjects := 0
	for _, vs := range c.r.st.subjects {
		for _, v := range vs {
			if !v.deleted {
				subjects++
				break
			}
		}
	}
	schemas := len(c.r.st.byID)
	c.r.mu.RUnlock()
	ch <- prometheus.MustNewConstMetric(c.subjects, prometheus.GaugeValue, float64(subjects))
	ch <- prometheus.MustNewConstMetric(c.schemas, prometheus.GaugeValue, float64(schemas))
	ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(c.r.refused.Load()))
}
