package broker

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
)

// maxMetricTopics and maxMetricLagSeries bound one scrape's series: topics and groups come and go, and a
// scrape reports only what exists now, at most this many of each.
const (
	maxMetricTopics    = 500
	maxMetricLagSeries = 2000
)

// Collector exposes the broker's topics and consumer groups to Prometheus, read through the admin at
// scrape time within timeout (a slow or gone broker makes devstack_broker_up 0, never a hung scrape).
type Collector struct {
	admin                                       func() *Admin
	timeout                                     time.Duration
	records, stored, bytes, partitions, lag, up *prometheus.Desc
	recordsOut, bytesOut, bytesIn               *prometheus.Desc
}

// NewCollector reads the admin admin returns at every scrape (nil: no broker yet, no broker metrics);
// timeout bounds each scrape's broker calls.
func NewCollector(admin func() *Admin, timeout time.Duration) *Collector {
	return &Collector{
		admin: admin, timeout: timeout,
		records: prometheus.NewDesc("devstack_broker_topic_records_in_total",
			"Records produced to the topic since it was created (the sum of its partitions' end offsets).", []string{"topic"}, nil),
		stored: prometheus.NewDesc("devstack_broker_topic_records",
			"Records the topic holds now (end minus start offset, over its partitions).", []string{"topic"}, nil),
		bytes: prometheus.NewDesc("devstack_broker_topic_bytes",
			"Bytes the topic's partitions hold now (record batches as stored; retention lowers it).", []string{"topic"}, nil),
		bytesIn: prometheus.NewDesc("devstack_broker_topic_bytes_in_total",
			"Bytes of record batches producers had accepted on the topic since the broker started (as sent, compressed or not; embedded broker only).", []string{"topic"}, nil),
		recordsOut: prometheus.NewDesc("devstack_broker_topic_records_out_total",
			"Records consumers fetched from the topic since the broker started (embedded broker only; devstack's own message tap left out; a record fetched twice counts twice).", []string{"topic"}, nil),
		bytesOut: prometheus.NewDesc("devstack_broker_topic_bytes_out_total",
			"Bytes of record batches consumers fetched from the topic since the broker started (as stored, compressed or not; embedded broker only).", []string{"topic"}, nil),
		partitions: prometheus.NewDesc("devstack_broker_topic_partitions", "Partitions of the topic.", []string{"topic"}, nil),
		lag: prometheus.NewDesc("devstack_broker_group_lag",
			"Records on the partition the consumer group has not committed yet.", []string{"group", "topic", "partition"}, nil),
		up: prometheus.NewDesc("devstack_broker_up", "1 when the last scrape could read the broker's topics and groups.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.records
	ch <- c.stored
	ch <- c.bytes
	ch <- c.bytesIn
	ch <- c.recordsOut
	ch <- c.bytesOut
	ch <- c.partitions
	ch <- c.lag
	ch <- c.up
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	a := c.admin()
	if a == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	up := 1.0
	topics, err := a.topicOffsets(ctx)
	if err != nil {
		a.log.Debug("metrics: topics", "err", err)
		up = 0
	}
	sizes, err := a.topicBytes(ctx)
	if err != nil {
		a.log.Debug("metrics: log dirs", "err", err)
		up = 0
	}
	var flow map[string]flowCount
	if a.obs != nil {
		flow = a.obs.counts()
	}
	n := 0
	for _, t := range topics {
		if t.Internal {
			continue
		}
		if n++; n > maxMetricTopics {
			break
		}
		var end int64
		for _, p := range t.Partitions {
			end += p.EndOffset
		}
		ch <- prometheus.MustNewConstMetric(c.records, prometheus.CounterValue, float64(end), t.Name)
		ch <- prometheus.MustNewConstMetric(c.stored, prometheus.GaugeValue, float64(t.Messages), t.Name)
		if b, ok := sizes[t.Name]; ok {
			ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(b), t.Name)
		}
		if flow != nil {
			fc := flow[t.Name]
			ch <- prometheus.MustNewConstMetric(c.bytesIn, prometheus.CounterValue, float64(fc.bytesIn), t.Name)
			ch <- prometheus.MustNewConstMetric(c.recordsOut, prometheus.CounterValue, float64(fc.records), t.Name)
			ch <- prometheus.MustNewConstMetric(c.bytesOut, prometheus.CounterValue, float64(fc.bytes), t.Name)
		}
		ch <- prometheus.MustNewConstMetric(c.partitions, prometheus.GaugeValue, float64(len(t.Partitions)), t.Name)
	}
	groups, err := a.Groups(ctx)
	if err != nil {
		a.log.Debug("metrics: groups", "err", err)
		up = 0
	}
	n = 0
	seen := map[[3]string]bool{}
outer:
	for _, g := range groups {
		for _, o := range g.Offsets {
			k := [3]string{g.Name, o.Topic, strconv.Itoa(int(o.Partition))}
			if seen[k] {
				continue
			}
			seen[k] = true
			if n++; n > maxMetricLagSeries {
				break outer
			}
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(max(o.Lag, 0)), k[0], k[1], k[2])
		}
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
}

// topicBytes sums the bytes each topic's partitions hold in the brokers' log dirs (on the embedded broker:
// the record batches in memory). Retention lowers it.
func (a *Admin) topicBytes(ctx context.Context) (map[string]int64, error) {
	dirs, err := a.adm.DescribeAllLogDirs(ctx, nil)
	out := map[string]int64{}
	for _, ds := range dirs {
		ds.EachPartition(func(p kadm.DescribedLogDirPartition) { out[p.Topic] += p.Size })
	}
	return out, err
}
