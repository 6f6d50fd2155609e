package stack

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/testkit"
)

// needPostgres skips (or fails under DEVSTACK_REQUIRE_ALL=1) when no PostgreSQL is installed locally.
func needPostgres(t *testing.T) {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if _, err := exec.LookPath("pg_ctl"); err != nil && len(bins) == 0 {
		if os.Getenv("DEVSTACK_REQUIRE_ALL") == "1" {
			t.Fatal("no local PostgreSQL (install: apt-get install postgresql)")
		}
		t.Skip("no local PostgreSQL found; install: apt-get install postgresql")
	}
}

// realStack is one devstack.yaml in a temp dir, with free ports for every part.
type realStack struct {
	dir, path string
	ports     map[string]int
}

// fullStack runs every embedded part and one service that says what the stack told it, behind the gateway.
const fullStack = `
name: stacktest
control: {port: ${CONTROL_PORT}}
broker: {port: ${BROKER_PORT}, persist: false, topics: {events: {partitions: 2}}}
registry: {port: ${REGISTRY_PORT}}
postgres: {port: ${PG_PORT}}
gateway:
  http_port: ${GATEWAY_PORT}
  https_port: -1
  routes:
    - {path: /web, service: web, strip_prefix: true}
services:
  web:
    command: echo "kafka=$$KAFKA_BROKERS db=$${DATABASE_URL%%\?*} gateway=$$GATEWAY_URL registry=$$SCHEMA_REGISTRY_URL"; exec python3 -u -m http.server $PORT --bind 127.0.0.1
    database: true
    ready: {http: /}
`

func newRealStack(t *testing.T, yaml string) realStack {
	t.Helper()
	rs := realStack{dir: t.TempDir()}
	rs.path = filepath.Join(rs.dir, "devstack.yaml")
	rs.ports = map[string]int{}
	// the OTLP receiver runs by default: a file without telemetry: gets it on free ports, as 4318 and 4317
	// are no test's to take
	if !regexp.MustCompile(`(?m)^telemetry:`).MatchString(yaml) {
		yaml = strings.TrimRight(yaml, "\n") + "\ntelemetry: {http_port: ${TELEMETRY_PORT}, grpc_port: ${OTLP_GRPC_PORT}}\n"
	}
	for _, k := range []string{"CONTROL_PORT", "BROKER_PORT", "PG_PORT", "GATEWAY_PORT", "REGISTRY_PORT", "TELEMETRY_PORT", "OTLP_GRPC_PORT"} {
		rs.ports[k] = testkit.FreePort(t)
		yaml = strings.ReplaceAll(yaml, "${"+k+"}", fmt.Sprint(rs.ports[k]))
	}
	rs.write(t, yaml)
	return rs
}

func (rs realStack) write(t *testing.T, yaml string) {
	t.Helper()
	if err := os.WriteFile(rs.path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (rs realStack) load(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load(rs.path)
	if err != nil {
		t.Fatalf("load %s: %v", rs.path, err)
	}
	return cfg
}

// running is a Stack whose Run goes on in the background.
type running struct {
	*Stack
	cancel context.CancelFunc
	runErr chan error
}

func start(t *testing.T, cfg *config.Config, o Options) *running {
	t.Helper()
	o.Config = cfg
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Stack: s, cancel: cancel, runErr: make(chan error, 1)}
	go func() { r.runErr <- s.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop ends Run and returns its error; Run must return promptly.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.runErr:
		r.runErr <- err // a second stop sees it too
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not return within 60s of its ctx ending")
		return nil
	}
}

// get fetches url, returning the status and body ("" and 0 when it fails).
func get(url string) (int, string) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// portFree says whether nothing listens on 127.0.0.1:port any more.
func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func waitUntil(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The real embedded parts through stack.New(...).Run: the broker and PostgreSQL start, the gateway routes
// to the service, the service gets every part's address, the routes follow devstack.yaml, and when ctx
// ends every part stops in reverse order and nothing keeps running.
func TestStackRunsTheRealParts(t *testing.T) {
	needPostgres(t)
	rs := newRealStack(t, fullStack)
	st := start(t, rs.load(t), Options{})
	_, events, unsubscribe := st.Bus().Subscribe(4096)
	defer unsubscribe()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := st.WaitReady(ctx); err != nil {
		for _, l := range st.LogStore().Tail(200, nil) {
			t.Logf("%s %s: %s", l.Source, l.Stream, l.Text)
		}
		t.Fatalf("WaitReady: %v", err)
	}
	addrs := st.Addrs()
	want := map[string]int{CompControl: rs.ports["CONTROL_PORT"], CompBroker: rs.ports["BROKER_PORT"],
		CompPostgres: rs.ports["PG_PORT"], CompGateway: rs.ports["GATEWAY_PORT"], CompRegistry: rs.ports["REGISTRY_PORT"],
		CompTelemetry: rs.ports["TELEMETRY_PORT"]}
	for name, port := range want {
		if !strings.HasSuffix(addrs[name], fmt.Sprintf(":%d", port)) {
			t.Errorf("%s ready on %q, want port %d", name, addrs[name], port)
		}
	}

	// the service learnt where everything is
	var said string
	waitUntil(t, 10*time.Second, "the service's first line", func() bool {
		for _, l := range st.LogStore().Tail(100, event.SourceFilter("web")) {
			if strings.HasPrefix(l.Text, "kafka=") {
				said = l.Text
				return true
			}
		}
		return false
	})
	for _, w := range []string{
		fmt.Sprintf("kafka=127.0.0.1:%d", rs.ports["BROKER_PORT"]),
		fmt.Sprintf("@127.0.0.1:%d/web", rs.ports["PG_PORT"]),
		fmt.Sprintf("gateway=http://127.0.0.1:%d", rs.ports["GATEWAY_PORT"]),
		fmt.Sprintf("registry=http://127.0.0.1:%d", rs.ports["REGISTRY_PORT"]),
	} {
		if !strings.Contains(said, w) {
			t.Errorf("the service was told %q, lacking %q", said, w)
		}
	}
	topics, err := st.Topics(ctx)
	// the declared events, and the registry's _schemas (compacted)
	if err != nil || len(topics) != 2 || topics[0].Name != "_schemas" || topics[0].Configs["cleanup.policy"] != "compact" || topics[1].Name != "events" {
		t.Errorf("broker topics %+v, %v; want the registry's compacted _schemas and the declared events", topics, err)
	}
	if code, _ := get(fmt.Sprintf("http://127.0.0.1:%d/web/", rs.ports["GATEWAY_PORT"])); code != http.StatusOK {
		t.Errorf("GET /web/ through the gateway: %d", code)
	}
	// the gateway's span of that request is a trace in the store (the gateway's sink is the store's)
	waitUntil(t, 10*time.Second, "the gateway's span in Stack.Traces", func() bool {
		sums, err := st.Traces(ctx, event.TraceQuery{Service: "gateway"})
		return err == nil && len(sums) > 0 && sums[0].RootService == "gateway"
	})
	// the service's database is on /__devstack/metrics
	mfs := scrape(t, rs.ports["GATEWAY_PORT"])
	if v, ok := value(mfs, "devstack_postgres_database_size_bytes", map[string]string{"database": "web"}); !ok || v <= 0 {
		t.Errorf("devstack_postgres_database_size_bytes{database=web} = %v (present %v), want > 0", v, ok)
	}
	if _, ok := value(mfs, "devstack_postgres_connections", map[string]string{"database": "web"}); !ok {
		t.Errorf("no devstack_postgres_connections{database=web}")
	}
	if _, ok := value(mfs, "devstack_telemetry_spans_received_total", nil); !ok {
		t.Errorf("no devstack_telemetry_spans_received_total: the receiver's collector is not served")
	}

	// routes follow devstack.yaml (watchConfig)
	other := fmt.Sprintf("http://127.0.0.1:%d/other/", rs.ports["GATEWAY_PORT"])
	if code, _ := get(other); code != http.StatusNotFound {
		t.Fatalf("GET /other/ before the route exists: %d", code)
	}
	b, _ := os.ReadFile(rs.path)
	rs.write(t, strings.Replace(string(b), "    - {path: /web, service: web, strip_prefix: true}",
		"    - {path: /web, service: web, strip_prefix: true}\n    - {path: /other, service: web, strip_prefix: true}", 1))
	waitUntil(t, 10*time.Second, "the added route serves", func() bool { code, _ := get(other); return code == http.StatusOK })

	pid := 0
	for _, sv := range st.Bus().Snapshot().Services {
		for _, in := range sv.Instances {
			pid = in.PID
		}
	}
	if pid == 0 {
		t.Fatal("no pid for the service")
	}

	if err := st.stop(t); err != nil {
		t.Errorf("Run returned %v after ctx ended, want nil", err)
	}
	// stopped in reverse: the services first (they came after every part), control last
	var stopped []string
	for len(events) > 0 {
		ev := <-events
		switch {
		case ev.Kind == event.KindComponent && ev.Component.Status == event.StatusStopped:
			stopped = append(stopped, ev.Component.Name)
		case ev.Kind == event.KindService && ev.Service.Status == event.StatusStopped && !slices.Contains(stopped, "services"):
			stopped = append(stopped, "services")
		}
	}
	if len(stopped) != 7 || stopped[0] != "services" || stopped[6] != CompControl || slices.Index(stopped, CompRegistry) > slices.Index(stopped, CompBroker) ||
		slices.Index(stopped, CompTelemetry) < slices.Index(stopped, CompBroker) || slices.Index(stopped, CompTelemetry) < slices.Index(stopped, CompGateway) {
		t.Errorf("stopped in order %q; want the services first, the registry before the broker, telemetry after the broker and the gateway, control last", stopped)
	}
	for name, port := range want {
		if !portFree(port) {
			t.Errorf("%s still listens on %d after Run returned", name, port)
		}
	}
	if syscall.Kill(pid, 0) == nil {
		t.Errorf("the service (pid %d) outlived Run", pid)
	}
	if _, err := os.Stat(filepath.Join(rs.dir, ".devstack", "postgres", "data", "postmaster.pid")); err == nil {
		t.Errorf("PostgreSQL still runs (postmaster.pid) after Run returned")
	}
}

// A part that cannot start fails the stack's start with its name, and the parts started meanwhile (or
// still starting) are stopped: no service starts and nothing keeps listening.
func TestStackFailedStartStopsTheStartedParts(t *testing.T) {
	needPostgres(t)
	rs := newRealStack(t, fullStack)
	// someone else holds the gateway's port
	busy, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", rs.ports["GATEWAY_PORT"]))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	st := start(t, rs.load(t), Options{})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err = st.WaitReady(ctx)
	if err == nil || !strings.Contains(err.Error(), "gateway") {
		t.Fatalf("WaitReady: %v; want the gateway's start failure", err)
	}
	if st.StartErr() == nil {
		t.Errorf("StartErr is nil after a failed start")
	}
	select {
	case runErr := <-st.runErr:
		st.runErr <- runErr
		if runErr == nil || !strings.Contains(runErr.Error(), "gateway") {
			t.Errorf("Run returned %v, want the gateway's failure", runErr)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not return after a failed start")
	}
	snap := st.Bus().Snapshot()
	for _, c := range snap.Components {
		switch {
		case c.Name == CompGateway:
			if c.Status != event.StatusFailed || c.Error == "" {
				t.Errorf("gateway reported %+v, want failed with its error", c)
			}
		case c.Status != event.StatusStopped:
			t.Errorf("%s is %s after the failed start, want stopped", c.Name, c.Status)
		}
	}
	for _, sv := range snap.Services {
		if len(sv.Instances) > 0 {
			t.Errorf("service %s started although the stack failed to start", sv.Name)
		}
	}
	for _, k := range []string{"CONTROL_PORT", "BROKER_PORT", "PG_PORT", "REGISTRY_PORT", "TELEMETRY_PORT", "OTLP_GRPC_PORT"} {
		if !portFree(rs.ports[k]) {
			t.Errorf("%s %d still in use after the failed start", k, rs.ports[k])
		}
	}
	if _, err := os.Stat(filepath.Join(rs.dir, ".devstack", "postgres", "data", "postmaster.pid")); err == nil {
		t.Errorf("PostgreSQL still runs (postmaster.pid) after the failed start")
	}
}

// Ending ctx while PostgreSQL is still starting stops the stack promptly and leaves nothing running.
func TestStackCtxEndsMidStart(t *testing.T) {
	needPostgres(t)
	rs := newRealStack(t, fullStack)
	st := start(t, rs.load(t), Options{NoControl: true})
	waitUntil(t, 30*time.Second, "postgres starting", func() bool {
		for _, c := range st.Bus().Snapshot().Components {
			if c.Name == CompPostgres && c.Status == event.StatusStarting {
				return true
			}
		}
		return false
	})
	t0 := time.Now()
	st.stop(t)
	if took := time.Since(t0); took > 30*time.Second {
		t.Errorf("Run took %s to return after ctx ended mid-start", took)
	}
	for _, c := range st.Bus().Snapshot().Components {
		if c.Status == event.StatusStarting || c.Status == event.StatusReady {
			t.Errorf("%s is still %s after Run returned", c.Name, c.Status)
		}
	}
	for _, k := range []string{"BROKER_PORT", "PG_PORT", "GATEWAY_PORT", "REGISTRY_PORT", "TELEMETRY_PORT", "OTLP_GRPC_PORT"} {
		if !portFree(rs.ports[k]) {
			t.Errorf("%s %d still in use after Run returned", k, rs.ports[k])
		}
	}
	if _, err := os.Stat(filepath.Join(rs.dir, ".devstack", "postgres", "data", "postmaster.pid")); err == nil {
		t.Errorf("PostgreSQL still runs (postmaster.pid) after Run returned")
	}
}

// The stack's parts and what each waits for: the telemetry receiver and the database start once the
// control API listens, the broker and the gateway once telemetry is ready (they send it their spans), the
// schema registry once the broker is ready, the services after every part; a disabled part is not a
// component (without a broker, no registry; without telemetry, nothing waits for it).
func TestStackComponents(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		o    Options
		want []string // name<-after,after
	}{
		{"every part", fullStack, Options{},
			[]string{"control<-", "telemetry<-control", "broker<-control,telemetry", "registry<-broker", "postgres<-control", "gateway<-control,telemetry", "services<-control,telemetry,broker,registry,postgres,gateway"}},
		{"no control API", fullStack, Options{NoControl: true},
			[]string{"telemetry<-control", "broker<-control,telemetry", "registry<-broker", "postgres<-control", "gateway<-control,telemetry", "services<-telemetry,broker,registry,postgres,gateway"}},
		{"registry disabled", strings.Replace(fullStack, "registry: {port: ${REGISTRY_PORT}}", "registry: {enabled: false}", 1), Options{},
			[]string{"control<-", "telemetry<-control", "broker<-control,telemetry", "postgres<-control", "gateway<-control,telemetry", "services<-control,telemetry,broker,postgres,gateway"}},
		{"telemetry disabled", fullStack + "telemetry: {enabled: false}\n", Options{},
			[]string{"control<-", "broker<-control,telemetry", "registry<-broker", "postgres<-control", "gateway<-control,telemetry", "services<-control,broker,registry,postgres,gateway"}},
		{"broker and postgres disabled", strings.NewReplacer(
			"broker: {port: ${BROKER_PORT}, persist: false, topics: {events: {partitions: 2}}}", "broker: {enabled: false}",
			"postgres: {port: ${PG_PORT}}", "postgres: {enabled: false}",
			"registry: {port: ${REGISTRY_PORT}}\n", "",
			"    database: true\n", "").Replace(fullStack), Options{},
			[]string{"control<-", "telemetry<-control", "gateway<-control,telemetry", "services<-control,telemetry,gateway"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := newRealStack(t, tc.yaml)
			tc.o.Config = rs.load(t)
			s, err := New(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range s.components() {
				got = append(got, c.Name+"<-"+strings.Join(c.After, ","))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("components\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
