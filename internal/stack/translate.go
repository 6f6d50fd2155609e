package stack

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/devstack-dev/devstack/internal/broker"
	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/postgres"
	"github.com/devstack-dev/devstack/internal/proxy"
	"github.com/devstack-dev/devstack/internal/schemas"
	"github.com/devstack-dev/devstack/internal/supervisor"
)

// This file turns devstack.yaml (config) into each component's own options. Components never see config,
// and nothing here defaults a value: internal/config owns every default (its helpers read the
// optional booleans), a component takes each value as given.

func brokerOptions(c *config.Config) broker.Options {
	b := c.Broker
	o := broker.Options{
		Host:              b.Host,
		Port:              b.Port,
		AutoCreate:        c.BrokerAutoCreate(),
		DefaultPartitions: b.DefaultPartitions,
		RetentionTime:     b.Retention.Time.D(),
		RetentionBytes:    int64(b.Retention.Bytes),
		MaxRequestBytes:   int64(b.MaxRequestBytes),
	}
	if c.BrokerPersists() {
		o.DataDir = filepath.Join(c.StateDirPath(), "kafka")
	}
	for _, n := range slices.Sorted(maps.Keys(b.Topics)) {
		t := b.Topics[n]
		o.Topics = append(o.Topics, broker.TopicSpec{Name: n, Partitions: t.Partitions, Configs: t.Configs})
	}
	return o
}

func postgresOptions(c *config.Config) postgres.Options {
	p := c.Postgres
	o := postgres.Options{
		DataDir:  filepath.Join(c.StateDirPath(), "postgres"),
		Port:     p.Port,
		BinDir:   absPath(c, p.BinDir),
		Version:  p.Version,
		User:     p.User,
		Password: p.Password,
		// not settable in devstack.yaml: config's value
		StartTimeout: config.PostgresStartTimeout,
	}
	if o.Password == "" { // no postgres.password: a secret generated for this stack, private to its owner
		o.PasswordFile = filepath.Join(o.DataDir, "superuser-password")
	}
	return o
}

// PostgresOptions is how the stack runs PostgreSQL for devstack.yaml c: the CLI reaches the server (and
// reads the superuser's secret) with the same values.
func PostgresOptions(c *config.Config) postgres.Options { return postgresOptions(c) }

func gatewayConfig(c *config.Config) proxy.Config {
	g := c.Gateway
	pc := proxy.Config{
		Host:                 g.Host,
		HTTPPort:             g.HTTPPort,
		HTTPSPort:            g.HTTPSPort,
		StateDir:             c.StateDirPath(),
		TLSHosts:             g.TLS.Hosts,
		WaitReady:            g.WaitReady.D(),
		UpstreamConnLifetime: g.UpstreamConnLifetime.D(),
		CORS:                 corsOf(g.CORS),
		// not settable in devstack.yaml: config's values
		HeaderTimeout: config.GatewayHeaderTimeout,
		SendTimeout:   config.GatewaySendTimeout,
		Auth: proxy.Auth{
			Issuer:   g.Auth.Issuer,
			Audience: g.Auth.Audience,
			Leeway:   g.Auth.Leeway.D(),
			DevIssuer: proxy.DevIssuer{
				Disabled: !c.DevIssuerEnabled(),
				TokenTTL: g.Auth.DevIssuer.TokenTTL.D(),
			},
		},
		GlobalLimit: limitOf(g.RateLimit),
	}
	for _, k := range g.Auth.Keys {
		pc.Auth.Keys = append(pc.Auth.Keys, proxy.Key{
			ID: k.ID, Algorithms: k.Algorithms, Secret: k.Secret, PEMFile: absPath(c, k.PEMFile), JWKSURL: k.JWKSURL,
		})
	}
	for _, cl := range g.Auth.DevIssuer.Clients {
		pc.Auth.DevIssuer.Clients = append(pc.Auth.DevIssuer.Clients, proxy.OAuthClient{ID: cl.ID, Secret: cl.Secret, Scopes: cl.Scopes})
	}
	for _, u := range g.Auth.DevIssuer.Users {
		pc.Auth.DevIssuer.Users = append(pc.Auth.DevIssuer.Users, proxy.OAuthUser{Username: u.Username, Password: u.Password, Scopes: u.Scopes})
	}
	for _, r := range g.Routes {
		pc.Routes = append(pc.Routes, proxy.Route{
			Path: r.Path, Host: r.Host, Methods: r.Methods, Service: r.Service,
			StripPrefix: r.StripPrefix, Rewrite: r.Rewrite, Auth: r.Auth, Scopes: r.Scopes, Claims: r.Claims,
			RateLimit: limitOf(r.RateLimit), Balance: r.Balance, Timeout: r.Timeout.D(), MaxBody: int64(r.MaxBody),
			CORS: corsOf(r.CORS), MaxConcurrent: r.MaxConcurrent,
		})
	}
	return pc
}

func limitOf(r *config.RateLimit) *proxy.RateLimit {
	if r == nil {
		return nil
	}
	return &proxy.RateLimit{Requests: r.Requests, Per: r.Per.D(), Burst: r.Burst, Key: r.Key}
}

func corsOf(c *config.CORS) *proxy.CORS {
	if c == nil {
		return nil
	}
	return &proxy.CORS{Origins: c.Origins, Methods: c.Methods, Headers: c.Headers, Credentials: c.Credentials, MaxAge: c.MaxAge.D()}
}

// registrySpec is the schema registry's part of devstack.yaml, in the registry's terms.
type registrySpec struct {
	addr     string // host:port of the REST API
	topic    string
	level    schemas.Level // the global level
	subjects []subjectSpec // schemas as code, by subject name
	debounce time.Duration // quiet period after a subject file's last change before it is registered
}

// subjectSpec is one entry of registry.subjects.
type subjectSpec struct {
	subject string
	file    string // absolute
	shown   string // as messages name it: relative to devstack.yaml's directory when inside it
	typ     schemas.Type
	level   schemas.Level // "": the subject has no level of its own
}

func registryOptions(c *config.Config) registrySpec {
	r := c.Registry
	o := registrySpec{
		addr:  hostPort("127.0.0.1", r.Port),
		topic: config.RegistryTopic,
		level: schemas.Level(r.Compatibility),
		// not settable in devstack.yaml: the services' watch default
		debounce: config.DefaultDebounce.D(),
	}
	for _, n := range slices.Sorted(maps.Keys(r.Subjects)) {
		sub := r.Subjects[n]
		f := absPath(c, sub.File)
		shown := f
		if r, err := filepath.Rel(c.Dir, f); err == nil && r != ".." && !strings.HasPrefix(r, "../") {
			shown = r
		}
		o.subjects = append(o.subjects, subjectSpec{subject: n, file: f, shown: shown, typ: schemas.Type(sub.Type), level: schemas.Level(sub.Compatibility)})
	}
	return o
}

// coordinates are what every service learns about the stack.
type coordinates struct {
	kafka       string
	gatewayURL  string
	registryURL string
	// otlpEndpoint is the OTLP/HTTP receiver's URL ("" without telemetry).
	otlpEndpoint string
	dbURL        map[string]string // service -> DATABASE_URL
}

// serviceEnv builds a service's environment: the process environment, then the OpenTelemetry SDK's
// variables, then .env, then the stack-wide env:, then the stack's coordinates, then the service's own
// env: (which may override anything). OTEL_RESOURCE_ATTRIBUTES gets its instance attributes per
// replica (instanceEnv).
func serviceEnv(c *config.Config, s *config.Service, co coordinates) []string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && !stackOwned(k) && (co.otlpEndpoint == "" || !otelOwned(k)) {
			m[k] = v
		}
	}
	if co.otlpEndpoint != "" { // the user's own OTEL_* in .env or env: win
		maps.Copy(m, otelEnv(co.otlpEndpoint, s.Name))
	}
	for k, v := range c.DotEnv {
		m[k] = v
	}
	for k, v := range c.Env {
		m[k] = v
	}
	m["DEVSTACK_SERVICE"] = s.Name
	m["DEVSTACK_STACK"] = c.Name
	if co.kafka != "" {
		m["KAFKA_BROKERS"] = co.kafka
		for k, v := range kafkaSecurityEnv(BrokerSecurity(c)) {
			m[k] = v
		}
	}
	if co.gatewayURL != "" {
		m["GATEWAY_URL"] = co.gatewayURL
	}
	if co.registryURL != "" {
		m["SCHEMA_REGISTRY_URL"] = co.registryURL
	}
	if u, ok := co.dbURL[s.Name]; ok {
		m["DATABASE_URL"] = u
	}
	for k, v := range s.Env {
		m[k] = v
	}
	delete(m, "PORT") // the supervisor sets it per replica
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// otelOwned names the OpenTelemetry variables devstack sets when telemetry runs: a value inherited from
// the shell (another stack's endpoint) must not reach a service; the user's .env and env: still win.
func otelOwned(k string) bool {
	switch k {
	case envOTLPEndpoint, envOTLPProtocol, envServiceName, envResourceAttr:
		return true
	}
	return false
}

// instanceEnv returns the per-instance variables of a service whose environment is env: its
// OTEL_RESOURCE_ATTRIBUTES with the instance's id and replica added (nil without telemetry).
func instanceEnv(env []string, service string, telemetryOn bool) func(int) []string {
	if !telemetryOn {
		return nil
	}
	base := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, envResourceAttr+"="); ok {
			base = v
		}
	}
	return func(replica int) []string {
		return []string{envResourceAttr + "=" + instanceResourceAttrs(base, service, replica)}
	}
}

// stackOwned names the variables devstack sets for each service: values inherited from the shell that
// started devstack (another stack's, say) must never reach a service that has none of its own.
func stackOwned(k string) bool {
	switch k {
	case "PORT", "KAFKA_BROKERS", "DATABASE_URL", "GATEWAY_URL", "SCHEMA_REGISTRY_URL":
		return true
	}
	return strings.HasPrefix(k, "DEVSTACK_") || kafkaSecurityVar(k)
}

func supervisorSpecs(c *config.Config, co coordinates) ([]supervisor.Spec, error) {
	order, err := c.Order()
	if err != nil {
		return nil, err
	}
	var specs []supervisor.Spec
	for _, name := range order {
		s := c.Services[name]
		if s == nil || s.Disabled {
			continue
		}
		sp := supervisor.Spec{
			Name:        name,
			Dir:         s.Dir,
			Setup:       s.Setup,
			SetupInputs: s.SetupInputs,
			Build:       s.Build,
			AlwaysBuild: s.AlwaysBuild,
			Command:     s.Command,
			Env:         serviceEnv(c, s, co),
			Port:        s.Port,
			Replicas:    s.Replicas,
			DependsOn:   map[string]string{},
			Restart:     s.Restart.Policy,
			MaxRestarts: s.Restart.MaxRestarts,
			Backoff:     s.Restart.Backoff.D(),
			StopGrace:   s.StopGrace.D(),
			Settle:      s.Settle.D(),
		}
		sp.InstanceEnv = instanceEnv(sp.Env, name, co.otlpEndpoint != "")
		for dep, d := range s.DependsOn {
			if ds := c.Services[dep]; ds != nil && ds.Disabled {
				continue
			}
			sp.DependsOn[dep] = d.Condition
		}
		if p := s.Ready; p != nil {
			sp.Probe = supervisor.Probe{HTTP: p.HTTP, TCP: p.TCP, Log: p.Log, Exec: p.Exec, Interval: p.Interval.D(), Timeout: p.Timeout.D()}
		}
		if w := s.Watch; w != nil && !w.Disabled {
			sp.Watch = &supervisor.Watch{Paths: w.Paths, Include: w.Include, Ignore: w.Ignore, Debounce: w.Debounce.D(), Warm: w.Warm}
		}
		specs = append(specs, sp)
	}
	return specs, nil
}

// supervisorOptions are the supervisor's settings from the config (its collaborators are added by the caller).
func supervisorOptions(c *config.Config) supervisor.Options {
	return supervisor.Options{StateDir: c.StateDirPath(), LogMaxBytes: int64(c.Logs.MaxSize), LogMaxFiles: c.Logs.MaxFiles}
}

func hostPort(host string, port int) string { return host + ":" + strconv.Itoa(port) }

// absPath resolves a path from devstack.yaml against the file's directory ("" stays "").
func absPath(c *config.Config, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
