//go:build linux

// The stack here runs PostgreSQL as postgres_cmds_test.go does (Linux only); Debian's prometheus is Linux too.

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/devstack-dev/devstack/internal/testkit"
)

// promServer is Debian's prometheus run by a test: on 127.0.0.1 at a free port, its data in a temp dir,
// killed by its pid when the test ends.
type promServer struct {
	url string
	log *testkit.SyncBuffer
}

func startPrometheus(t *testing.T, configFile string) *promServer {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		testkit.SkipOrFail(t, "needs Debian's prometheus package (make test-deps installs it): %v", err)
	}
	port := testkit.FreePort(t)
	p := &promServer{url: fmt.Sprintf("http://127.0.0.1:%d", port), log: &testkit.SyncBuffer{}}
	cmd := exec.Command(bin, "--config.file="+configFile, "--storage.tsdb.path="+t.TempDir(),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port), "--log.level=warn")
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("prometheus output:\n%s", p.log.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-done:
			t.Fatalf("prometheus exited:\n%s", p.log.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready within 30s:\n%s", p.log.String())
		}
	}
}

// promSample is one series of an instant query's result.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s promSample) float() float64 {
	v, _ := s.Value[1].(string)
	f, _ := strconv.ParseFloat(v, 64)
	return f
}

// query runs a PromQL instant query through Prometheus' HTTP API (/api/v1/query).
func (p *promServer) query(t *testing.T, q string) ([]promSample, error) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(p.url + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string       `json:"resultType"`
			Result     []promSample `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %v: %s", q, err, b)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s: %s", q, r.Status, r.Error)
	}
	if r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("%s: result type %s", q, r.Data.ResultType)
	}
	return r.Data.Result, nil
}

// waitSeries polls q until it returns a series whose value ok accepts.
func (p *promServer) waitSeries(t *testing.T, what, q string, ok func(float64) bool) promSample {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	var last []promSample
	var lastErr error
	for time.Now().Before(deadline) {
		last, lastErr = p.query(t, q)
		for _, s := range last {
			if ok(s.float()) {
				return s
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: %s returned %+v (%v) for 45s", what, q, last, lastErr)
	return promSample{}
}

// TestPrometheusScrapesTheStack runs Debian's prometheus with the scrape config `devstack metrics
// prometheus` writes for a running stack (broker, registry, PostgreSQL, a service behind the gateway),
// and finds every component's series through Prometheus' query API; every expression of the Grafana
// dashboard runs there too.
func TestPrometheusScrapesTheStack(t *testing.T) {
	if _, err := exec.LookPath("prometheus"); err != nil {
		testkit.SkipOrFail(t, "needs Debian's prometheus package (make test-deps installs it): %v", err)
	}
	dir, _ := pgTestDirs(t)
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	gwPort := testkit.FreePort(t)
	yaml := fmt.Sprintf(`name: promtest
control: {port: %d}
broker: {port: %d, persist: false, topics: {orders: {partitions: 2}}}
postgres:
  port: %d
  password: pw
  databases: [{name: shop}]
gateway:
  http_port: %d
  https_port: -1
  routes:
    - {path: /web, service: web, strip_prefix: true}
services:
  web:
    command: exec python3 -u -m http.server $PORT --bind 127.0.0.1
    ready: {http: /}
`, testkit.FreePort(t), testkit.FreePort(t), testkit.FreePort(t), gwPort)
	cfg, sdb := runTestStack(t, dir, yaml)

	// what a user does: write the config for the running stack and start Prometheus with it
	promFile := filepath.Join(t.TempDir(), "prometheus.yml")
	_, errOut, err := runCLI(t, "", "metrics", "prometheus", "--file", cfg, "--interval", "1s", "--out", promFile)
	if err != nil {
		t.Fatalf("devstack metrics prometheus: %v\n%s", err, errOut)
	}
	if strings.Contains(errOut, "no stack runs") {
		t.Fatalf("the running stack was not found:\n%s", errOut)
	}
	if b, err := os.ReadFile(promFile); err != nil || !strings.Contains(string(b), fmt.Sprintf("127.0.0.1:%d", gwPort)) {
		t.Fatalf("the scrape config does not target the gateway at %d (%v):\n%s", gwPort, err, b)
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		if out, err := exec.Command(promtool, "check", "config", promFile).CombinedOutput(); err != nil {
			t.Fatalf("promtool check config: %v\n%s", err, out)
		}
	}

	// traffic for the gateway's and the broker's counters
	mustCLI(t, "a\nb\nc\n", "produce", "orders", "--file", cfg)
	for range 3 {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/web/", gwPort))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	// a service's own metrics, exported with the Go OpenTelemetry SDK to the stack's OTLP receiver
	otlpAddr := sdb.st.Addrs()["telemetry"]
	if otlpAddr == "" {
		t.Fatal("the stack runs no OTLP receiver")
	}
	ctx := context.Background()
	exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL("http://"+otlpAddr+"/v1/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))),
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", "web"), attribute.String("service.instance.id", "web-0"))))
	defer mp.Shutdown(ctx)
	placed, _ := mp.Meter("web").Int64Counter("orders.placed", metric.WithUnit("{order}"))
	placed.Add(ctx, 3, metric.WithAttributes(attribute.String("status", "ok")))
	if err := mp.ForceFlush(ctx); err != nil {
		t.Fatalf("export to the stack's OTLP receiver: %v", err)
	}
	// the TUI's source: the control API
	client, err := (&App{ConfigPath: cfg}).Client()
	if err != nil {
		t.Fatal(err)
	}
	sm, err := client.ServiceMetrics(ctx, "web")
	if err != nil || len(sm) != 1 || sm[0].Name != "orders_placed_total" || sm[0].Value != 3 || sm[0].Instance != "web-0" || sm[0].Labels["status"] != "ok" {
		t.Fatalf("ServiceMetrics(web) through the control API = %+v, %v", sm, err)
	}

	p := startPrometheus(t, promFile)
	up := p.waitSeries(t, "the scrape", `up{job="devstack"}`, func(v float64) bool { return v == 1 })
	if up.Metric["stack"] != "promtest" {
		t.Errorf("up: labels %v, want stack=promtest", up.Metric)
	}
	positive := func(v float64) bool { return v > 0 }
	for _, c := range []struct{ component, q string }{
		{"broker", `devstack_broker_up{stack="promtest"}`},
		{"broker", `devstack_broker_topic_records_in_total{stack="promtest",topic="orders"}`},
		{"broker", `devstack_broker_topic_partitions{stack="promtest",topic="orders"}`},
		{"registry", `devstack_registry_subjects{stack="promtest"} + 1`},
		{"postgres", `devstack_postgres_up{stack="promtest"}`},
		{"postgres", `devstack_postgres_database_size_bytes{stack="promtest",database="shop"}`},
		{"services", `devstack_service_rss_bytes{stack="promtest",service="web",replica="0"}`},
		{"services", `devstack_service_restarts_total{stack="promtest",service="web"} + 1`},
		{"gateway", `devstack_gateway_requests_total{stack="promtest",service="web",code="2xx"}`},
		{"gateway", `devstack_gateway_request_duration_seconds_count{stack="promtest",service="web"}`},
		{"gateway", `devstack_gateway_upstream_healthy{stack="promtest",service="web"}`},
		{"telemetry", `devstack_telemetry_metrics_received_total{stack="promtest"}`},
		{"telemetry", `devstack_telemetry_metric_series{stack="promtest"}`},
		{"a service's OTLP metric", `orders_placed_total{stack="promtest",service="web",instance="web-0",status="ok"} == 3`},
	} {
		p.waitSeries(t, c.component, c.q, positive)
	}
	if s := p.waitSeries(t, "broker", `devstack_broker_topic_records_in_total{topic="orders"}`, positive); s.float() != 3 {
		t.Errorf("records in on orders = %v, want the 3 produced", s.float())
	}

	// every panel's expression is PromQL Prometheus runs (with Grafana's variables filled in); the panels
	// whose metrics this stack has now return series
	empty := map[string]bool{ // nothing happened that they count: no error, no group, no reload
		"Errors /s by service (4xx, 5xx)": true, "Consumer group lag": true, "Reloads by service": true,
		"Reload time by service": true, "Build failures by service": true,
	}
	for _, pn := range grafanaDashboard().Panels {
		for _, tg := range pn.Targets {
			q := strings.NewReplacer("$stack", "promtest", "$__rate_interval", "1m").Replace(tg.Expr)
			if empty[pn.Title] {
				if _, err := p.query(t, q); err != nil {
					t.Errorf("panel %q: %v", pn.Title, err)
				}
				continue
			}
			p.waitSeries(t, "panel "+pn.Title, q, func(float64) bool { return true })
		}
	}
}
