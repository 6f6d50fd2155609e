package postgres

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxMetricDatabases bounds one scrape's series: databases come and go, a scrape reports at most this many.
const maxMetricDatabases = 200

// DatabaseLister lists databases with their sizes and sessions (the embedded Server does).
type DatabaseLister interface {
	Databases(ctx context.Context) ([]DatabaseInfo, error)
}

// Collector exposes PostgreSQL's databases to Prometheus: sessions and size of each (pg_stat_activity,
// pg_database_size), read at scrape time within timeout.
type Collector struct {
	db              func() DatabaseLister
	timeout         time.Duration
	conns, size, up *prometheus.Desc
}

// NewCollector reads the lister db returns at every scrape (nil: no PostgreSQL, no metrics).
func NewCollector(db func() DatabaseLister, timeout time.Duration) *Collector {
	return &Collector{db: db, timeout: timeout,
		conns: prometheus.NewDesc("devstack_postgres_connections", "Open sessions on the database (pg_stat_activity).", []string{"database"}, nil),
		size:  prometheus.NewDesc("devstack_postgres_database_size_bytes", "Size of the database on disk (pg_database_size).", []string{"database"}, nil),
		up:    prometheus.NewDesc("devstack_postgres_up", "1 when the scrape could read PostgreSQL's databases.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.conns
	ch <- c.size
	ch <- c.up
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	db := c.db()
	if db == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	dbs, err := db.Databases(ctx)
	up := 1.0
	if err != nil {
		up = 0
	}
	for i, d := range dbs {
		if i == maxMetricDatabases {
			break
		}
		ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(d.Connections), d.Name)
		ch <- prometheus.MustNewConstMetric(c.size, prometheus.GaugeValue, float64(d.SizeBytes), d.Name)
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
}
