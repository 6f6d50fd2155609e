//go:build linux

package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestCollector(t *testing.T) {
	needPostgres(t)
	s := startT(t, mustOpts(t))
	ctx := context.Background()
	url, err := s.EnsureDatabase(ctx, "shop", nil)
	if err != nil {
		t.Fatal(err)
	}
	db := openT(t, url)
	db.SetMaxIdleConns(2)
	c1, _ := db.Conn(ctx)
	c2, _ := db.Conn(ctx)
	defer c1.Close()
	defer c2.Close()
	if err := c1.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c2.PingContext(ctx); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(func() DatabaseLister { return s }, 5*time.Second))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			k := mf.GetName()
			for _, l := range m.GetLabel() {
				k += "{" + l.GetValue() + "}"
			}
			got[k] = m.GetGauge().GetValue()
		}
	}
	if got["devstack_postgres_connections{shop}"] != 2 {
		t.Errorf("connections to shop = %v, want 2 (all: %v)", got["devstack_postgres_connections{shop}"], got)
	}
	if got["devstack_postgres_database_size_bytes{shop}"] <= 0 {
		t.Errorf("size of shop = %v, want > 0", got["devstack_postgres_database_size_bytes{shop}"])
	}
	if got["devstack_postgres_up"] != 1 {
		t.Errorf("up = %v", got["devstack_postgres_up"])
	}
	// no PostgreSQL (yet): nothing, not an error
	reg2 := prometheus.NewPedanticRegistry()
	reg2.MustRegister(NewCollector(func() DatabaseLister { return nil }, time.Second))
	if mfs, err := reg2.Gather(); err != nil || len(mfs) != 0 {
		t.Errorf("without a database: %v, %v", mfs, err)
	}
}
