package stack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/testkit"
)

// TestExternalBroker runs a stack on an existing cluster that needs SCRAM and TLS: the declared topics
// are created there, the TUI's side (topics, produce, messages) reaches it, services get KAFKA_BROKERS
// and the SASL/TLS variables, and stopping the stack leaves the cluster running.
func TestExternalBroker(t *testing.T) {
	dir := t.TempDir()
	serverTLS := testkit.TLSFiles(t, dir, "127.0.0.1").ServerConfig(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "app", "pw"),
		kfake.TLS(serverTLS))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	t.Setenv("KAFKA_SASL_PASSWORD", "from-the-shell") // never reaches a service in place of the stack's

	yml := fmt.Sprintf(`name: ext
broker:
  source: external
  external:
    bootstrap_servers: [%q, "127.0.0.1:1"]
    sasl: {mechanism: SCRAM-SHA-512, username: app, password: pw}
    tls: {ca_file: ca.pem}
  topics:
    orders: {partitions: 2}
registry: {port: 0}
telemetry: {http_port: 0, grpc_port: 0}
services:
  env:
    command: env > env.txt; exec sleep 60
    settle: 0s
`, addr)
	if err := os.WriteFile(filepath.Join(dir, "devstack.yaml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(dir, "devstack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := New(Options{Config: cfg, NoControl: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- st.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := st.WaitReady(wctx); err != nil {
		past, _, lcancel := st.LogStore().Subscribe(1000, 1, nil)
		lcancel()
		for _, l := range past {
			t.Log(l.Source, l.Text)
		}
		t.Logf("state: %+v", st.Bus().Snapshot().Services)
		t.Fatalf("ready: %v", err)
	}
	if got := st.Addrs()[CompBroker]; got != addr+",127.0.0.1:1" {
		t.Errorf("broker addr = %q", got)
	}
	// status says which Kafka runs (only the embedded broker makes broker spans)
	for _, c := range st.Bus().Snapshot().Components {
		if c.Name == CompBroker && c.Detail != "external Kafka, 1 topic declared" {
			t.Errorf("broker detail = %q, want it to name the external Kafka", c.Detail)
		}
	}

	ts, err := st.Topics(wctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tp := range ts {
		found = found || (tp.Name == "orders" && len(tp.Partitions) == 2)
	}
	if !found {
		t.Fatalf("declared topic orders (2 partitions) not on the external cluster: %+v", ts)
	}
	if err := st.Produce(wctx, "orders", []event.Message{{Value: []byte("hello")}}); err != nil {
		t.Fatal(err)
	}
	msgs, err := st.Messages(wctx, event.MessageQuery{Topic: "orders", Partition: -1, From: "beginning", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-msgs:
		if string(m.Value) != "hello" {
			t.Fatalf("message = %+v", m)
		}
	case <-wctx.Done():
		t.Fatal("no message from the external cluster")
	}

	var env map[string]string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(filepath.Join(dir, "env.txt")); err == nil && strings.Contains(string(b), "KAFKA_TLS_CA_FILE") {
			env = envMap(strings.Split(strings.TrimSpace(string(b)), "\n"))
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the service did not write its environment")
		}
	}
	want := map[string]string{
		"KAFKA_BROKERS": addr + ",127.0.0.1:1", "KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
		"KAFKA_SASL_USERNAME": "app", "KAFKA_SASL_PASSWORD": "pw", "KAFKA_TLS_CA_FILE": filepath.Join(dir, "ca.pem"),
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("service env %s = %q, want %q", k, env[k], v)
		}
	}
	// the schema registry keeps its schemas in the external cluster, through its SASL and TLS
	reg := st.Addrs()[CompRegistry]
	if reg == "" || env["SCHEMA_REGISTRY_URL"] != "http://"+reg {
		t.Errorf("registry at %q, the service got SCHEMA_REGISTRY_URL=%q", reg, env["SCHEMA_REGISTRY_URL"])
	}
	if code, body := postJSON(t, "http://"+reg+"/subjects/ext-value/versions", `{"schema": "{\"type\": \"string\"}"}`); code != 200 || !strings.Contains(body, `"id":1`) {
		t.Errorf("register through the registry on the external cluster: %d %s", code, body)
	}
	ts, err = st.Topics(wctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(ts, func(tp event.TopicInfo) bool { return tp.Name == "_schemas" }) {
		t.Errorf("no _schemas topic on the external cluster: %+v", ts)
	}

	cancel()
	if err := <-runErr; err != nil {
		t.Errorf("run: %v", err)
	}
	runErr <- nil
	if len(c.ListenAddrs()) == 0 {
		t.Fatal("the cluster is gone")
	}
}

func TestSourceInfra(t *testing.T) {
	docker := Containers{Stack: "x"}
	for _, tc := range []struct {
		broker, postgres string
		containers       bool
		wantK, wantD     string
	}{
		{"embedded", "embedded", false, "stack.Embedded", "stack.Embedded"},
		{"embedded", "embedded", true, "stack.Containers", "stack.Containers"},
		{"external", "embedded", true, "stack.External", "stack.Containers"},
		{"container", "external", false, "stack.Containers", "stack.External"},
	} {
		cfg := &config.Config{Broker: config.Broker{Source: tc.broker}, Postgres: config.Postgres{Source: tc.postgres}}
		src, err := SourceInfra(cfg, tc.containers, docker)
		if err != nil {
			t.Fatal(err)
		}
		if k, d := fmt.Sprintf("%T", src.Kafka), fmt.Sprintf("%T", src.Database); k != tc.wantK || d != tc.wantD {
			t.Errorf("%s/%s containers=%v: %s, %s; want %s, %s", tc.broker, tc.postgres, tc.containers, k, d, tc.wantK, tc.wantD)
		}
	}
}
