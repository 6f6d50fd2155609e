package config

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Defaults, also documented in docs/config.md and on the fields. A default fills a key only when
// the key is absent from the file, so an explicit 0 keeps its meaning (max_restarts: 0, backoff: 0).
const (
	DefaultStateDir         = ".devstack"
	DefaultEnvFile          = ".env"
	DefaultControlPort      = 7477
	DefaultHost             = "127.0.0.1"
	DefaultBrokerPort       = 9092
	DefaultPartitions       = 1
	DefaultRetentionTime    = Duration(24 * time.Hour)
	DefaultRetentionBytes   = ByteSize(256 << 20)
	DefaultMaxRequestBytes  = ByteSize(100 << 20)  // Kafka's socket.request.max.bytes
	DefaultBrokerImage      = "apache/kafka:4.1.0" // --containers
	DefaultSource           = SourceEmbedded
	DefaultPostgresPort     = 5433
	DefaultPostgresImage    = "postgres:15" // --containers
	DefaultPostgresVersion  = "15"
	DefaultPostgresUser     = "postgres"
	DefaultPostgresPassword = "" // a random secret generated per stack (stack.PostgresOptions)
	DefaultHTTPPort         = 8080
	DefaultRegistryPort     = 8081
	DefaultCompatibility    = "BACKWARD"
	DefaultHTTPSPort        = 8443
	DefaultIssuer           = "devstack"
	DefaultAudience         = "devstack"
	DefaultLeeway           = Duration(30 * time.Second)
	DefaultTokenTTL         = Duration(time.Hour)
	DefaultMaxBody          = ByteSize(10 << 20)
	DefaultGatewayTimeout   = Duration(30 * time.Second)
	DefaultWaitReady        = Duration(30 * time.Second)
	// DefaultUpstreamConnLifetime: a restarted service's new code is reached within about a second;
	// the cost is one redial per kept-alive upstream connection per second.
	DefaultUpstreamConnLifetime = Duration(time.Second)
	DefaultRouteAuth            = "none"
	DefaultBalance              = "round_robin"
	DefaultRateLimitPer         = Duration(time.Second)
	DefaultRateLimitKey         = "ip"
	DefaultReplicas             = 1
	DefaultRestartPolicy        = "on-failure"
	DefaultMaxRestarts          = 5
	DefaultBackoff              = Duration(500 * time.Millisecond)
	DefaultStopGrace            = Duration(10 * time.Second)
	DefaultSettle               = Duration(time.Second)
	DefaultLogMaxSize           = ByteSize(10 << 20)
	DefaultLogMaxFiles          = 5
	DefaultCondition            = "healthy"
	DefaultProbeInterval        = Duration(200 * time.Millisecond)
	DefaultProbeTimeout         = Duration(60 * time.Second)
	DefaultDebounce             = Duration(50 * time.Millisecond)
	DefaultTestTimeout          = Duration(10 * time.Minute)
	DefaultOTLPHTTPPort         = 4318
	DefaultOTLPGRPCPort         = 4317
	DefaultMaxSpans             = 100000
)

// The gateway's limits that devstack.yaml does not set: reading a request's headers, and each wait for
// more of its body (slowloris); each write of a response to a client that stopped reading.
const (
	GatewayHeaderTimeout = 10 * time.Second
	GatewaySendTimeout   = 60 * time.Second
	// RegistryTopic keeps the schema registry's schemas (Confluent's registry uses the same name).
	RegistryTopic = "_schemas"
	// TelemetryMaxBody bounds one OTLP request body (decompressed).
	TelemetryMaxBody = 16 << 20
	// PostgresStartTimeout bounds waiting for PostgreSQL to accept connections (crash recovery after
	// a kill can take a while on a big data directory).
	PostgresStartTimeout = 2 * time.Minute
)

// LockFiles are the files whose presence in a service dir makes them default setup_inputs.
var LockFiles = []string{"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "requirements.txt", "poetry.lock", "go.sum"}

func setStr(p *string, def string) {
	if *p == "" {
		*p = def
	}
}

func setInt(p *int, def int) {
	if *p == 0 {
		*p = def
	}
}

func setBool(p **bool, def bool) {
	if *p == nil {
		v := def
		*p = &v
	}
}

// setDur sets a duration when its key is absent.
func (l *loader) setDur(path string, p *Duration, def Duration) {
	if !l.has(path) {
		*p = def
	}
}

func (l *loader) setSize(path string, p *ByteSize, def ByteSize) {
	if !l.has(path) {
		*p = def
	}
}

func (l *loader) applyDefaults(c *Config) {
	if c.Name == "" {
		c.Name = filepath.Base(l.dir)
	}
	setStr(&c.EnvFile, DefaultEnvFile)
	setStr(&c.StateDir, DefaultStateDir)
	if !l.has("control.port") { // 0 written in the file: a free port (clients find it in control.json)
		c.Control.Port = DefaultControlPort
	}

	b := &c.Broker
	setBool(&b.Enabled, true)
	setStr(&b.Source, DefaultSource)
	if t := externalTLS(b); t != nil {
		setBool(&t.Enabled, true)
	}
	setStr(&b.Host, DefaultHost)
	setInt(&b.Port, DefaultBrokerPort)
	setBool(&b.AutoCreateTopics, true)
	setBool(&b.Persist, true)
	setStr(&b.Image, DefaultBrokerImage)
	if !l.has("broker.default_partitions") {
		b.DefaultPartitions = DefaultPartitions
	}
	l.setDur("broker.retention.time", &b.Retention.Time, DefaultRetentionTime)
	l.setSize("broker.retention.bytes", &b.Retention.Bytes, DefaultRetentionBytes)
	l.setSize("broker.max_request_bytes", &b.MaxRequestBytes, DefaultMaxRequestBytes)
	for name, t := range b.Topics {
		if !l.has(join(join("broker.topics", name), "partitions")) {
			t.Partitions = b.DefaultPartitions
			b.Topics[name] = t
		}
	}

	for _, name := range c.ServiceSeq {
		l.serviceDefaults(c, name, c.Services[name])
	}

	p := &c.Postgres
	if p.Enabled == nil {
		v := c.PostgresEnabled()
		p.Enabled = &v
	}
	setStr(&p.Source, DefaultSource)
	setInt(&p.Port, DefaultPostgresPort)
	setStr(&p.Version, DefaultPostgresVersion)
	setStr(&p.User, DefaultPostgresUser)
	setStr(&p.Image, DefaultPostgresImage)
	if !l.has("postgres.password") {
		p.Password = DefaultPostgresPassword
	}

	r := &c.Registry
	if r.Enabled == nil {
		v := c.BrokerEnabled()
		r.Enabled = &v
	}
	if !l.has("registry.port") { // 0 written in the file: a free port
		r.Port = DefaultRegistryPort
	}
	setStr(&r.Compatibility, DefaultCompatibility)
	for name, sub := range r.Subjects {
		if sub.File != "" {
			sub.File = l.rel(sub.File)
		}
		if sub.Type == "" {
			sub.Type = schemaTypeOf(sub.File)
		}
		r.Subjects[name] = sub
	}

	t := &c.Telemetry
	setBool(&t.Enabled, true)
	if !l.has("telemetry.http_port") { // 0 written in the file: a free port
		t.HTTPPort = DefaultOTLPHTTPPort
	}
	if !l.has("telemetry.grpc_port") { // 0: a free port, -1: none
		t.GRPCPort = DefaultOTLPGRPCPort
	}
	if !l.has("telemetry.max_spans") {
		t.MaxSpans = DefaultMaxSpans
	}
	setBool(&t.Persist, true)

	g := &c.Gateway
	if g.Enabled == nil {
		v := len(g.Routes) > 0
		g.Enabled = &v
	}
	setStr(&g.Host, DefaultHost)
	setInt(&g.HTTPPort, DefaultHTTPPort)
	setInt(&g.HTTPSPort, DefaultHTTPSPort)
	setStr(&g.Auth.Issuer, DefaultIssuer)
	setStr(&g.Auth.Audience, DefaultAudience)
	l.setDur("gateway.auth.leeway", &g.Auth.Leeway, DefaultLeeway)
	setBool(&g.Auth.DevIssuer.Enabled, true)
	l.setDur("gateway.auth.dev_issuer.token_ttl", &g.Auth.DevIssuer.TokenTTL, DefaultTokenTTL)
	l.setSize("gateway.max_body", &g.MaxBody, DefaultMaxBody)
	l.setDur("gateway.timeout", &g.Timeout, DefaultGatewayTimeout)
	l.setDur("gateway.wait_ready", &g.WaitReady, DefaultWaitReady)
	l.setDur("gateway.upstream_conn_lifetime", &g.UpstreamConnLifetime, DefaultUpstreamConnLifetime)
	l.rateLimitDefaults("gateway.rate_limit", g.RateLimit)
	for i := range g.Routes {
		r := &g.Routes[i]
		rp := index("gateway.routes", i)
		setStr(&r.Auth, DefaultRouteAuth)
		setStr(&r.Balance, DefaultBalance)
		l.setDur(rp+".timeout", &r.Timeout, g.Timeout)
		l.setSize(rp+".max_body", &r.MaxBody, g.MaxBody)
		for j, m := range r.Methods {
			r.Methods[j] = strings.ToUpper(m)
		}
		l.rateLimitDefaults(rp+".rate_limit", r.RateLimit)
	}

	l.setSize("logs.max_size", &c.Logs.MaxSize, DefaultLogMaxSize)
	if !l.has("logs.max_files") {
		c.Logs.MaxFiles = DefaultLogMaxFiles
	}

	for i := range c.Tests {
		t := &c.Tests[i]
		setStr(&t.Name, t.Command)
		t.Dir = l.absDir(t.Dir)
		l.setDur(index("tests", i)+".timeout", &t.Timeout, DefaultTestTimeout)
	}
}

func (l *loader) rateLimitDefaults(path string, r *RateLimit) {
	if r == nil {
		return
	}
	l.setDur(path+".per", &r.Per, DefaultRateLimitPer)
	if !l.has(path+".burst") && r.Requests > 0 && r.Requests < math.MaxInt32 {
		r.Burst = int(math.Ceil(r.Requests))
	}
	setStr(&r.Key, DefaultRateLimitKey)
}

func (l *loader) absDir(d string) string {
	if d == "" {
		return l.dir
	}
	if !filepath.IsAbs(d) {
		d = filepath.Join(l.dir, d)
	}
	return filepath.Clean(d)
}

// DatabaseNameFor is the database `database: true` gives a service: its name with - turned into _.
func DatabaseNameFor(service string) string { return strings.ReplaceAll(service, "-", "_") }

func (l *loader) serviceDefaults(c *Config, name string, s *Service) {
	p := join("services", name)
	s.Dir = l.absDir(s.Dir)
	if !l.has(p + ".replicas") {
		s.Replicas = DefaultReplicas
	}
	if l.dbTrue[p+".database"] {
		s.Database = DatabaseNameFor(name)
	}
	setStr(&s.Restart.Policy, DefaultRestartPolicy)
	if !l.has(p + ".restart.max_restarts") {
		s.Restart.MaxRestarts = DefaultMaxRestarts
	}
	l.setDur(p+".restart.backoff", &s.Restart.Backoff, DefaultBackoff)
	l.setDur(p+".stop_grace", &s.StopGrace, DefaultStopGrace)
	l.setDur(p+".settle", &s.Settle, DefaultSettle)
	for dep, d := range s.DependsOn {
		if d.Condition == "" {
			d.Condition = DefaultCondition
			s.DependsOn[dep] = d
		}
	}
	if s.Ready != nil {
		l.setDur(p+".ready.interval", &s.Ready.Interval, DefaultProbeInterval)
		l.setDur(p+".ready.timeout", &s.Ready.Timeout, DefaultProbeTimeout)
	}
	if s.Watch != nil {
		l.setDur(p+".watch.debounce", &s.Watch.Debounce, DefaultDebounce)
	}
	if !l.has(p + ".setup_inputs") {
		for _, f := range LockFiles {
			if st, err := os.Stat(filepath.Join(s.Dir, f)); err == nil && st.Mode().IsRegular() {
				s.SetupInputs = append(s.SetupInputs, f)
			}
		}
	}
}
