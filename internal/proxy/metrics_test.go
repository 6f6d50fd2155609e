package proxy

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Other components' collectors are served next to the gateway's; two that clash are an error at New.
func TestMetricsServeOtherCollectors(t *testing.T) {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "devstack_test_things_total", Help: "Things."})
	c.Add(7)
	h, err := newMetricsHandler(&Gateway{}, []prometheus.Collector{c})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/__devstack/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if !strings.Contains(string(body), "devstack_test_things_total 7") {
		t.Fatalf("metrics lack the other collector:\n%s", body)
	}
	if _, err := newMetricsHandler(&Gateway{}, []prometheus.Collector{c, c}); err == nil {
		t.Fatal("the same collector twice: no error")
	}
}
