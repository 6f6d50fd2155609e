package stack

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/config"
)

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func TestServiceEnv(t *testing.T) {
	// what the shell that starts devstack has: another stack's coordinates, a user variable
	t.Setenv("DATABASE_URL", "postgres://outer")
	t.Setenv("KAFKA_BROKERS", "outer:9092")
	t.Setenv("GATEWAY_URL", "http://outer")
	t.Setenv("PORT", "1")
	t.Setenv("DEVSTACK_INSTANCE_ID", "outer")
	t.Setenv("FROM_SHELL", "shell")
	t.Setenv("OVERRIDDEN", "shell")

	cfg := &config.Config{
		Name:   "shop",
		DotEnv: map[string]string{"FROM_DOTENV": "dotenv", "OVERRIDDEN": "dotenv"},
		Env:    map[string]string{"STACK_WIDE": "yes", "OVERRIDDEN": "stack"},
	}
	co := coordinates{kafka: "127.0.0.1:9092", gatewayURL: "http://127.0.0.1:8080", dbURL: map[string]string{"api": "postgres://api"}}
	tests := []struct {
		name    string
		svc     *config.Service
		want    map[string]string
		missing []string
	}{
		{
			name: "service with a database",
			svc:  &config.Service{Name: "api", Env: map[string]string{"OVERRIDDEN": "service"}},
			want: map[string]string{
				"DATABASE_URL": "postgres://api", "KAFKA_BROKERS": "127.0.0.1:9092", "GATEWAY_URL": "http://127.0.0.1:8080",
				"DEVSTACK_SERVICE": "api", "DEVSTACK_STACK": "shop", "FROM_SHELL": "shell", "FROM_DOTENV": "dotenv",
				"STACK_WIDE": "yes", "OVERRIDDEN": "service",
			},
			missing: []string{"PORT", "DEVSTACK_INSTANCE_ID"},
		},
		{
			name:    "service without a database does not inherit the shell's DATABASE_URL",
			svc:     &config.Service{Name: "worker"},
			want:    map[string]string{"DEVSTACK_SERVICE": "worker", "OVERRIDDEN": "stack", "KAFKA_BROKERS": "127.0.0.1:9092"},
			missing: []string{"DATABASE_URL", "PORT"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := serviceEnv(cfg, tt.svc, co)
			if !slices.IsSorted(env) {
				t.Errorf("env is not sorted")
			}
			m := envMap(env)
			for k, v := range tt.want {
				if m[k] != v {
					t.Errorf("%s = %q, want %q", k, m[k], v)
				}
			}
			for _, k := range tt.missing {
				if v, ok := m[k]; ok {
					t.Errorf("%s = %q, want it unset", k, v)
				}
			}
		})
	}

	// no broker, no gateway: none of their variables, not even inherited ones
	m := envMap(serviceEnv(cfg, &config.Service{Name: "solo"}, coordinates{}))
	for _, k := range []string{"KAFKA_BROKERS", "GATEWAY_URL", "DATABASE_URL"} {
		if v, ok := m[k]; ok {
			t.Errorf("without that component, %s = %q leaked from the shell", k, v)
		}
	}
}

func TestSupervisorSpecs(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.LoadBytes("devstack.yaml", []byte(`
name: shop
services:
  db-migrate:
    command: ./migrate
  api:
    command: ./api
    build: go build -o api .
    always_build: true
    replicas: 2
    depends_on: {db-migrate: {condition: completed}, old: {condition: healthy}}
    ready: {http: /health, timeout: 5s}
    restart: {policy: always, max_restarts: 3, backoff: 1s}
    settle: 300ms
    watch: {include: ["**/*.go"]}
  old:
    command: ./old
    disabled: true
`), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	specs, err := supervisorSpecs(cfg, coordinates{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"db-migrate", "api"}) {
		t.Fatalf("specs in order %v, want [db-migrate api] (dependencies first, disabled left out)", names)
	}
	api := specs[1]
	if api.Dir != dir || api.Replicas != 2 || !api.AlwaysBuild || api.Restart != "always" || api.MaxRestarts != 3 {
		t.Errorf("api spec = %+v", api)
	}
	if api.Probe.HTTP != "/health" || api.Probe.Timeout.Seconds() != 5 {
		t.Errorf("probe = %+v", api.Probe)
	}
	if api.Watch == nil || !slices.Equal(api.Watch.Include, []string{"**/*.go"}) {
		t.Errorf("watch = %+v", api.Watch)
	}
	if len(api.DependsOn) != 1 || api.DependsOn["db-migrate"] != "completed" {
		t.Errorf("depends_on = %v, want only db-migrate (old is disabled)", api.DependsOn)
	}
	if api.Settle != 300*time.Millisecond || specs[0].Settle != time.Second {
		t.Errorf("settle = %s and %s, want 300ms as set and the 1s default", api.Settle, specs[0].Settle)
	}
	if specs[0].Watch != nil {
		t.Errorf("a service without watch: got %+v", specs[0].Watch)
	}
}

func TestPostgresOptionsPassword(t *testing.T) {
	for _, tc := range []struct {
		name, password, wantPassword, wantFile string
	}{
		{"postgres.password set", "s3cret", "s3cret", ""},
		{"no password: a secret kept in the state directory", "", "", "/p/.devstack/postgres/superuser-password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &config.Config{Dir: "/p", StateDir: ".devstack"}
			c.Postgres.User, c.Postgres.Password = "postgres", tc.password
			o := PostgresOptions(c)
			if o.Password != tc.wantPassword || o.PasswordFile != tc.wantFile {
				t.Fatalf("Password %q PasswordFile %q, want %q %q", o.Password, o.PasswordFile, tc.wantPassword, tc.wantFile)
			}
			if o.DataDir != "/p/.devstack/postgres" {
				t.Fatalf("DataDir %q", o.DataDir)
			}
			if o.StartTimeout != config.PostgresStartTimeout {
				t.Fatalf("StartTimeout %s, want config's %s", o.StartTimeout, config.PostgresStartTimeout)
			}
		})
	}
}

func TestBrokerOptionsMaxRequestBytes(t *testing.T) {
	tests := []struct {
		yaml string
		want int64
	}{
		{"broker: {}\n", 100 << 20},
		{"broker: {max_request_bytes: 1MiB}\n", 1 << 20},
	}
	for _, tc := range tests {
		dir := t.TempDir()
		path := filepath.Join(dir, "devstack.yaml")
		if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := brokerOptions(cfg).MaxRequestBytes; got != tc.want {
			t.Errorf("%q: broker MaxRequestBytes = %d, want %d", tc.yaml, got, tc.want)
		}
	}
}

func TestSupervisorOptions(t *testing.T) {
	for _, tc := range []struct {
		yaml      string
		wantBytes int64
		wantFiles int
	}{
		{"name: x\n", 10 << 20, 5},
		{"logs: {max_size: 1MiB, max_files: 0}\n", 1 << 20, 0},
		{"logs: {max_size: 0}\n", 0, 5},
	} {
		cfg, err := config.LoadBytes("devstack.yaml", []byte(tc.yaml), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		o := supervisorOptions(cfg)
		if o.LogMaxBytes != tc.wantBytes || o.LogMaxFiles != tc.wantFiles || o.StateDir != cfg.StateDirPath() {
			t.Errorf("%q: options %+v, want %d bytes, %d files", tc.yaml, o, tc.wantBytes, tc.wantFiles)
		}
	}
}

// devstack.yaml's defaults and documented zeros reach the components as values: the gateway gets
// "none" for timeout: 0 and max_body: 0 (the gateway's own or a route's), the supervisor 0 restarts and
// no backoff, the broker no retention bound. Nothing below the config re-defaults them.
func TestZerosAndDefaultsReachTheComponents(t *testing.T) {
	cfg, err := config.LoadBytes("devstack.yaml", []byte(`
broker: {retention: {time: 0, bytes: 0}}
gateway:
  timeout: 0
  max_body: 0
  wait_ready: 0
  upstream_conn_lifetime: 0
  routes:
    - {path: /inherits, service: api}
    - {path: /own, service: api, timeout: 2s, max_body: 1KiB}
    - {path: /none, service: api, timeout: 0, max_body: 0}
services:
  api:
    command: ./api
    restart: {max_restarts: 0, backoff: 0}
    stop_grace: 0
  dflt:
    command: ./dflt
`), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	g := gatewayConfig(cfg)
	type lim struct {
		timeout time.Duration
		maxBody int64
	}
	want := map[string]lim{"/inherits": {0, 0}, "/own": {2 * time.Second, 1 << 10}, "/none": {0, 0}}
	for _, r := range g.Routes {
		if got := (lim{r.Timeout, r.MaxBody}); got != want[r.Path] {
			t.Errorf("route %s: timeout %s max_body %d, want %s %d", r.Path, got.timeout, got.maxBody, want[r.Path].timeout, want[r.Path].maxBody)
		}
	}
	if g.UpstreamConnLifetime != 0 {
		t.Errorf("gateway upstream_conn_lifetime %s, want 0 (none)", g.UpstreamConnLifetime)
	}
	if g.WaitReady != 0 || g.HeaderTimeout != config.GatewayHeaderTimeout || g.SendTimeout != config.GatewaySendTimeout {
		t.Errorf("gateway wait_ready %s header %s send %s", g.WaitReady, g.HeaderTimeout, g.SendTimeout)
	}
	if b := brokerOptions(cfg); b.RetentionTime != 0 || b.RetentionBytes != 0 {
		t.Errorf("broker retention %s / %d bytes, want 0 (none)", b.RetentionTime, b.RetentionBytes)
	}
	specs, err := supervisorSpecs(cfg, coordinates{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range specs {
		switch sp.Name {
		case "api":
			if sp.MaxRestarts != 0 || sp.Backoff != 0 || sp.StopGrace != 0 {
				t.Errorf("api: max_restarts %d backoff %s stop_grace %s, want 0 as written", sp.MaxRestarts, sp.Backoff, sp.StopGrace)
			}
		case "dflt":
			if sp.MaxRestarts != config.DefaultMaxRestarts || sp.Backoff != config.DefaultBackoff.D() || sp.StopGrace != config.DefaultStopGrace.D() || sp.Restart != config.DefaultRestartPolicy {
				t.Errorf("dflt: %+v, want config's defaults", sp)
			}
		}
	}

	// with the keys absent, the gateway gets config's defaults
	cfg, err = config.LoadBytes("devstack.yaml", []byte("gateway: {routes: [{path: /, service: api}]}\nservices: {api: {command: ./api}}\n"), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	g = gatewayConfig(cfg)
	if r := g.Routes[0]; r.Timeout != config.DefaultGatewayTimeout.D() || r.MaxBody != int64(config.DefaultMaxBody) || g.WaitReady != config.DefaultWaitReady.D() {
		t.Errorf("defaults: route timeout %s max_body %d wait_ready %s", r.Timeout, r.MaxBody, g.WaitReady)
	}
	if g.UpstreamConnLifetime != config.DefaultUpstreamConnLifetime.D() {
		t.Errorf("defaults: upstream_conn_lifetime %s, want %s", g.UpstreamConnLifetime, config.DefaultUpstreamConnLifetime.D())
	}
}

// The OpenTelemetry variables: with telemetry on, devstack's endpoint, protocol and service name replace
// the shell's, and the user's .env, env: and the service's env: replace devstack's; each instance's
// OTEL_RESOURCE_ATTRIBUTES adds its id and replica to the user's (unless they set them). Off, devstack
// sets none and the shell's pass through.
func TestServiceEnvOTel(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://outer:4318")
	t.Setenv("OTEL_SERVICE_NAME", "outer")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=outer-0")
	on := coordinates{otlpEndpoint: "http://127.0.0.1:4318"}
	tests := []struct {
		name     string
		dotEnv   map[string]string
		env      map[string]string
		svcEnv   map[string]string
		co       coordinates
		want     map[string]string // "" : unset
		replica1 string            // OTEL_RESOURCE_ATTRIBUTES of replica 1 ("-": no per-instance env)
	}{
		{"on", nil, nil, nil, on,
			map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_SERVICE_NAME": "api", "OTEL_RESOURCE_ATTRIBUTES": ""},
			"service.instance.id=api-1,devstack.replica=1"},
		{"the user's own win", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318"},
			map[string]string{"OTEL_SERVICE_NAME": "api-v2", "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=dev"}, on,
			map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_SERVICE_NAME": "api-v2", "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=dev"},
			"deployment.environment=dev,service.instance.id=api-1,devstack.replica=1"},
		{"the user's instance id stays", nil, map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.instance.id=mine"}, nil, on,
			map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.instance.id=mine"},
			"service.instance.id=mine,devstack.replica=1"},
		{"off: the shell's pass", nil, nil, nil, coordinates{},
			map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://outer:4318", "OTEL_SERVICE_NAME": "outer", "OTEL_EXPORTER_OTLP_PROTOCOL": ""},
			"-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &config.Config{DotEnv: tt.dotEnv, Env: tt.env, Services: map[string]*config.Service{}}
			svc := &config.Service{Name: "api", Env: tt.svcEnv}
			env := serviceEnv(cfg, svc, tt.co)
			m := envMap(env)
			for k, v := range tt.want {
				if m[k] != v {
					t.Errorf("%s = %q, want %q", k, m[k], v)
				}
			}
			f := instanceEnv(env, "api", tt.co.otlpEndpoint != "")
			if tt.replica1 == "-" {
				if f != nil {
					t.Errorf("per-instance env without telemetry: %q", f(1))
				}
				return
			}
			if got := f(1); len(got) != 1 || got[0] != "OTEL_RESOURCE_ATTRIBUTES="+tt.replica1 {
				t.Errorf("replica 1's env %q, want OTEL_RESOURCE_ATTRIBUTES=%s", got, tt.replica1)
			}
		})
	}
}

// watch.warm reaches the supervisor (a warm standby for the service's reloads).
func TestSupervisorSpecsWarm(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.LoadBytes("devstack.yaml", []byte(`
services:
  web: {command: node main.js, watch: {warm: true}}
  cold: {command: node main.js, watch: true}
`), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	specs, err := supervisorSpecs(cfg, coordinates{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, s := range specs {
		got[s.Name] = s.Watch != nil && s.Watch.Warm
	}
	if !got["web"] || got["cold"] {
		t.Errorf("warm per service = %v, want web only", got)
	}
}
