package event

import "time"

// ServiceMetric is one series of the OTLP metrics a service exported, as devstack keeps it (the latest
// point) and serves it at /__devstack/metrics: its Prometheus name (translated as Prometheus' OTLP
// receiver does), type (gauge, counter, histogram, summary), the instance (service.instance.id) and
// the point's attributes as labels, and the current value (a histogram's or summary's: Count and Sum).
type ServiceMetric struct {
	Name     string            `json:"name"`
	Type     string            `json:"type"`
	Instance string            `json:"instance,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Value    float64           `json:"value"`
	Count    uint64            `json:"count,omitempty"`
	Sum      float64           `json:"sum,omitempty"`
	Updated  time.Time         `json:"updated"`
}
