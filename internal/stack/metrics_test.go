package stack

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/devstack-dev/devstack/internal/event"
)

// metricsStack is the broker and one tiny service behind the gateway (no database: no PostgreSQL).
const metricsStack = `
name: metricstest
control: {port: ${CONTROL_PORT}}
broker: {port: ${BROKER_PORT}, persist: false, topics: {orders: {partitions: 1}}}
registry: {port: ${REGISTRY_PORT}}
gateway:
  http_port: ${GATEWAY_PORT}
  https_port: -1
  routes:
    - {path: /web, service: web, strip_prefix: true}
services:
  web:
    command: exec python3 -u -m http.server $PORT --bind 127.0.0.1
    ready: {http: /}
    restart: {policy: on-failure, backoff: 0s}
`

// scrape GETs /__devstack/metrics through the gateway and parses it as Prometheus text.
func scrape(t *testing.T, gatewayPort int) map[string]*dto.MetricFamily {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/__devstack/metrics", gatewayPort))
	if err != nil {
		t.Fatalf("GET /__devstack/metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /__devstack/metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	return mfs
}

// value is the sample of family name whose labels include want ("" name: absent).
func value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// A user scrapes /__devstack/metrics through the gateway and sees the whole stack: records produced to a
// topic and fetched from it, a consumer group's lag, a service's restart after it crashed, and its rebuild.
func TestStackMetricsThroughTheGateway(t *testing.T) {
	rs := newRealStack(t, metricsStack)
	st := start(t, rs.load(t), Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := st.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	broker := fmt.Sprintf("127.0.0.1:%d", rs.ports["BROKER_PORT"])

	// 10 records, a group reads and commits them, then 4 more it has not read
	prod, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	produce := func(n int) {
		var recs []*kgo.Record
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: "orders", Value: []byte(fmt.Sprint("order ", i))})
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	produce(10)
	cons, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumerGroup("billing"), kgo.ConsumeTopics("orders"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < 10; {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		n += fs.NumRecords()
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	cons.Close()
	produce(4)

	// one schema registered, one refused
	for body, want := range map[string]int{`{"schema":"\"string\""}`: 200, `{"schema":"{not avro"}`: 422} {
		resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/subjects/orders-value/versions", rs.ports["REGISTRY_PORT"]),
			"application/vnd.schemaregistry.v1+json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("register %s: %s, want %d", body, resp.Status, want)
		}
	}

	// the service crashes once (the supervisor restarts it) and is rebuilt once
	pid := 0
	if sv, ok := st.Bus().Snapshot().Service("web"); ok && len(sv.Instances) > 0 {
		pid = sv.Instances[0].PID
	}
	if pid == 0 {
		t.Fatal("no pid for the service")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the service restarted and ready", func() bool {
		sv, _ := st.Bus().Snapshot().Service("web")
		return sv.Restarts == 1 && sv.Ready() && sv.Instances[0].PID != pid
	})
	if err := st.Rebuild(ctx, "web"); err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	waitUntil(t, 30*time.Second, "the rebuild done", func() bool {
		sv, _ := st.Bus().Snapshot().Service("web")
		return sv.LastReload != nil && sv.Ready() && sv.Status == event.StatusReady
	})

	var mfs map[string]*dto.MetricFamily
	// CPU and RSS are sampled every 2s
	waitUntil(t, 15*time.Second, "the rebuild counted and the instance's memory sampled", func() bool {
		mfs = scrape(t, rs.ports["GATEWAY_PORT"])
		v, _ := value(mfs, "devstack_service_reloads_total", map[string]string{"service": "web", "result": "ok"})
		rss, _ := value(mfs, "devstack_service_rss_bytes", map[string]string{"service": "web", "replica": "0"})
		return v == 1 && rss > 0
	})
	if v, ok := value(mfs, "devstack_broker_topic_bytes", map[string]string{"topic": "orders"}); !ok || v < float64(14*len("order 0")) {
		t.Errorf("devstack_broker_topic_bytes{orders} = %v (present %v), want at least the records' values", v, ok)
	}
	in, _ := value(mfs, "devstack_broker_topic_bytes_in_total", map[string]string{"topic": "orders"})
	stored, _ := value(mfs, "devstack_broker_topic_bytes", map[string]string{"topic": "orders"})
	if in != stored {
		t.Errorf("devstack_broker_topic_bytes_in_total{orders} = %v, want the %v bytes the topic holds", in, stored)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"devstack_broker_topic_records_in_total", map[string]string{"topic": "orders"}, 14},
		{"devstack_broker_topic_records_out_total", map[string]string{"topic": "orders"}, 10},
		{"devstack_broker_group_lag", map[string]string{"group": "billing", "topic": "orders", "partition": "0"}, 4},
		{"devstack_broker_up", nil, 1},
		{"devstack_service_restarts_total", map[string]string{"service": "web"}, 1},
		{"devstack_service_reload_duration_seconds", map[string]string{"service": "web"}, 1}, // sample count
		{"devstack_registry_subjects", nil, 1},
		{"devstack_registry_registrations_refused_total", nil, 1},
	} {
		if got, ok := value(mfs, c.name, c.labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
}

// serviceMetrics counts each reload once however often its event repeats, tells a failed build from a
// failed deploy, and reports restarts, CPU and RSS from the bus's current state.
func TestServiceMetrics(t *testing.T) {
	bus := event.NewBus("t")
	m := newServiceMetrics(bus)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ok := &event.Reload{At: t0, Duration: 800 * time.Millisecond, OK: true, Timeline: []event.Phase{{Name: "build", Took: time.Second}}}
	buildFailed := &event.Reload{At: t0.Add(time.Minute), OK: false, Error: "exit status 2"}
	deployFailed := &event.Reload{At: t0.Add(2 * time.Minute), OK: false, Timeline: []event.Phase{{Name: "ready"}}}
	for _, r := range []*event.Reload{nil, ok, ok, buildFailed, buildFailed, deployFailed} {
		m.observe(event.Event{Kind: event.KindService, Service: &event.Service{Name: "api", LastReload: r}})
	}
	bus.SetService(event.Service{Name: "api", Restarts: 3, Instances: []event.Instance{
		{Replica: 0, PID: 10, CPU: 12.5, RSS: 4096}, {Replica: 1}, // replica 1 has no process
	}})

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		byName[mf.GetName()] = mf
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"devstack_service_reloads_total", map[string]string{"service": "api", "result": "ok"}, 1},
		{"devstack_service_reloads_total", map[string]string{"service": "api", "result": "failed"}, 2},
		{"devstack_service_build_failures_total", map[string]string{"service": "api"}, 1},
		{"devstack_service_reload_duration_seconds", map[string]string{"service": "api"}, 1},
		{"devstack_service_restarts_total", map[string]string{"service": "api"}, 3},
		{"devstack_service_cpu_percent", map[string]string{"service": "api", "replica": "0"}, 12.5},
		{"devstack_service_rss_bytes", map[string]string{"service": "api", "replica": "0"}, 4096},
	} {
		if got, ok := value(byName, c.name, c.labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if _, ok := value(byName, "devstack_service_rss_bytes", map[string]string{"replica": "1"}); ok {
		t.Error("an instance without a process has an RSS sample")
	}
}
