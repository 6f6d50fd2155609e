package schemareg

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestCollector(t *testing.T) {
	r := start(t, cluster(t))
	for _, c := range []struct {
		subject, body string
		status        int
	}{
		{"a-value", `{"schema":"{\"type\":\"record\",\"name\":\"A\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]}"}`, 200},
		{"b-value", `{"schema":"\"string\""}`, 200},
		{"a-value", `{"schema":"{\"type\":\"record\",\"name\":\"A\",\"fields\":[{\"name\":\"y\",\"type\":\"int\"}]}"}`, 409}, // incompatible
		{"a-value", `{"schema":"{not avro"}`, 422},
	} {
		if st, _, body := do(t, r, "POST", "/subjects/"+c.subject+"/versions", c.body); st != c.status {
			t.Fatalf("register %s: %d %s, want %d", c.subject, st, body, c.status)
		}
	}
	if st, _, body := do(t, r, "DELETE", "/subjects/b-value", ""); st != 200 {
		t.Fatalf("delete b-value: %d %s", st, body)
	}

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(r))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		if m.Counter != nil {
			got[mf.GetName()] = m.GetCounter().GetValue()
		} else {
			got[mf.GetName()] = m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{
		"devstack_registry_subjects":                    1, // b-value is deleted
		"devstack_registry_schemas":                     2,
		"devstack_registry_registrations_refused_total": 2,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}
