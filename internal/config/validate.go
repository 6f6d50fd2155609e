package config

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/devstack-dev/devstack/internal/glob"
	"github.com/devstack-dev/devstack/internal/kafkaname"
)

// validators run after defaults, in order; each reports every problem it finds.
var validators = []func(*loader, *Config){
	validateTop,
	validateServices,
	validateDependencies,
	validatePorts,
	validateBroker,
	validatePostgres,
	validateSources,
	validateGateway,
	validateRegistry,
	validateTelemetry,
	validateTests,
}

var (
	serviceNameRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	databaseNameRe = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	hostnameRe     = regexp.MustCompile(`^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$`)
	headerNameRe   = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	versionRe      = regexp.MustCompile(`^[0-9]+(\.[0-9]+){0,2}$`)
)

const maxReplicas = 1000

// Bounds of broker.max_request_bytes: below 1KiB not even a metadata request fits; a Kafka request size is
// an int32.
const (
	MinMaxRequestBytes = ByteSize(1 << 10)
	MaxMaxRequestBytes = ByteSize(1<<31 - 1)
)

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// enumErr reports a value outside allowed, at the first of paths that was written.
func (l *loader) enum(v string, allowed []string, paths ...string) {
	if oneOf(v, allowed...) {
		return
	}
	p := paths[len(paths)-1]
	for _, q := range paths {
		if l.has(q) {
			p = q
			break
		}
	}
	l.errf(p, "must be one of %s, got %q", strings.Join(allowed, "|"), v)
}

// suggest returns ` (did you mean "x"?)` for a close name among names.
func suggest(name string, names []string) string {
	if len(names) > 500 {
		return "" // not worth the time on huge files
	}
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func validEnvNames(l *loader, p string, env map[string]string) {
	keys := sortedKeys(env)
	for _, k := range keys {
		if !validVarName(k) {
			l.keyErrf(join(p, k), "invalid variable name: use letters, digits and _, not starting with a digit")
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// show writes a path for a message: relative to the config's directory when inside it.
func (l *loader) show(p string) string {
	if r, err := filepath.Rel(l.dir, p); err == nil && r != ".." && !strings.HasPrefix(r, "../") {
		return r
	}
	return p
}

// rel resolves p against the config's directory.
func (l *loader) rel(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(l.dir, p)
}

// minLogSize keeps room for output beside devstack's rotation notes.
const minLogSize = 64 << 10

func validateTop(l *loader, c *Config) {
	validEnvNames(l, "env", c.Env)
	if c.Control.Port < 0 || c.Control.Port > 65535 {
		l.errf("control.port", "must be between 0 (a free port) and 65535, got %d", c.Control.Port)
	}
	if c.Logs.MaxSize > 0 && c.Logs.MaxSize < minLogSize {
		l.errf("logs.max_size", "must be 0 (no limit) or at least 64KiB, got %d bytes", int64(c.Logs.MaxSize))
	}
	if c.Logs.MaxFiles < 0 || c.Logs.MaxFiles > 1000 {
		l.errf("logs.max_files", "must be between 0 and 1000, got %d", c.Logs.MaxFiles)
	}
}

func validHost(h string) bool {
	return h == "localhost" || net.ParseIP(h) != nil
}

func validateServices(l *loader, c *Config) {
	for _, name := range c.ServiceSeq {
		s := c.Services[name]
		p := join("services", name)
		if !serviceNameRe.MatchString(name) || len(name) > 63 {
			l.keyErrf(p, "invalid service name: use lowercase letters, digits, - and _, starting with a letter or digit (at most 63)")
		}
		if s.Command == "" && !l.has(p+".command") {
			l.keyErrf(p+".command", "is required: %s", requiredHints["Service.command"])
		}
		if st, err := os.Stat(s.Dir); err != nil || !st.IsDir() {
			l.errf(p+".dir", "directory %s does not exist", l.show(s.Dir))
		}
		validEnvNames(l, p+".env", s.Env)
		if s.Replicas < 1 {
			l.errf(p+".replicas", "must be at least 1, got %d (use disabled: true to not start the service)", s.Replicas)
		} else if s.Replicas > maxReplicas {
			l.errf(p+".replicas", "must be at most %d, got %d", maxReplicas, s.Replicas)
		}
		switch {
		case s.Port < 0 || s.Port > 65535:
			l.errf(p+".port", "must be between 1 and 65535, got %d (leave it out to get a free port)", s.Port)
		case s.Port > 0 && s.Replicas >= 1 && s.Replicas <= maxReplicas && s.Port+s.Replicas-1 > 65535:
			l.errf(p+".port", "replicas need ports %d-%d, beyond 65535", s.Port, s.Port+s.Replicas-1)
		}
		if s.Database != "" {
			switch {
			case l.dbTrue[p+".database"] && !databaseNameRe.MatchString(s.Database):
				l.errf(p+".database", "the service name gives the invalid database name %q: name one, e.g. database: %s", s.Database, "db_"+DatabaseNameFor(name))
			default:
				validDatabaseName(l, p+".database", s.Database)
			}
		}
		l.enum(s.Restart.Policy, []string{"no", "on-failure", "always"}, p+".restart.policy", p+".restart")
		if s.Restart.MaxRestarts < -1 {
			l.errf(p+".restart.max_restarts", "must be -1 (no limit) or more, got %d", s.Restart.MaxRestarts)
		}
		for i, in := range s.SetupInputs {
			if strings.TrimSpace(in) == "" {
				l.errf(index(p+".setup_inputs", i), "must not be empty")
			}
		}
		if s.Ready != nil {
			validateProbe(l, p+".ready", s.Ready)
		}
		if s.Watch != nil {
			validateWatch(l, p+".watch", s)
		}
	}
}

func validDatabaseName(l *loader, p, name string) {
	switch {
	case !databaseNameRe.MatchString(name) || len(name) > 63:
		l.errf(p, "invalid database name %q: use lowercase letters, digits and _, starting with a letter or _ (at most 63)", name)
	case name == "template0" || name == "template1":
		l.errf(p, "%s is a PostgreSQL system database; choose another name", name)
	}
}

func validateProbe(l *loader, p string, r *Probe) {
	var kinds []string
	if r.HTTP != "" {
		kinds = append(kinds, "http")
	}
	if r.TCP {
		kinds = append(kinds, "tcp")
	}
	if r.Log != "" {
		kinds = append(kinds, "log")
	}
	if r.Exec != "" {
		kinds = append(kinds, "exec")
	}
	switch len(kinds) {
	case 0:
		l.errf(p, "needs exactly one of http, tcp, log or exec, e.g. http: /health")
	case 1:
	default:
		l.errf(p, "has %s; use exactly one of http, tcp, log or exec", strings.Join(kinds, " and "))
	}
	if r.HTTP != "" && !strings.HasPrefix(r.HTTP, "/") {
		l.errf(p+".http", "must be a path starting with /, e.g. /health, got %q", r.HTTP)
	}
	if r.Log != "" {
		if _, err := regexp.Compile(r.Log); err != nil {
			l.errf(p+".log", "invalid regular expression: %v", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
	}
	if r.Interval <= 0 {
		l.errf(p+".interval", "must be greater than 0")
	}
	if r.Timeout <= 0 {
		l.errf(p+".timeout", "must be greater than 0")
	}
}

func validateWatch(l *loader, p string, s *Service) {
	w := s.Watch
	if w.Warm && s.Replicas > 1 {
		l.errf(p+".warm", "keeps one standby for a single instance, but the service has %d replicas; remove warm or set replicas: 1", s.Replicas)
	}
	for i, g := range w.Include {
		if err := glob.Check(g); err != nil {
			l.errf(index(p+".include", i), "%s", err)
		}
	}
	for i, g := range w.Ignore {
		if err := glob.Check(g); err != nil {
			l.errf(index(p+".ignore", i), "%s", err)
		}
	}
	for i, wp := range w.Paths {
		ip := index(p+".paths", i)
		if strings.TrimSpace(wp) == "" {
			l.errf(ip, "must not be empty")
			continue
		}
		full := wp
		if !filepath.IsAbs(full) {
			full = filepath.Join(s.Dir, wp)
		}
		if _, err := os.Stat(full); err != nil {
			l.errf(ip, "%s does not exist", l.show(full))
		}
	}
}

func validateDependencies(l *loader, c *Config) {
	for _, name := range c.ServiceSeq {
		s := c.Services[name]
		for _, dep := range sortedKeys(s.DependsOn) {
			d := s.DependsOn[dep]
			dp := join(join("services", name)+".depends_on", dep)
			target, ok := c.Services[dep]
			if !ok {
				l.keyErrf(dp, "unknown service %q%s", dep, suggest(dep, c.ServiceSeq))
				continue
			}
			l.enum(d.Condition, []string{"started", "healthy", "completed"}, dp+".condition", dp)
			if d.Condition == "completed" && target.Restart.Policy == "always" {
				l.errf(dp, "condition completed waits for %s to exit, but its restart policy is always; use restart: no or on-failure", dep)
			}
		}
	}
	seen := map[string]bool{}
	for _, cyc := range c.cycles() {
		key := strings.Join(cyc, " -> ")
		if seen[key] {
			continue
		}
		seen[key] = true
		l.keyErrf(join(join("services", cyc[0])+".depends_on", cyc[1]), "dependency cycle: %s", key)
	}
}

// cycles finds dependency cycles, each rotated to start at its service that comes first in the
// file and closed (a -> b -> a).
func (c *Config) cycles() [][]string {
	order := c.serviceSeq()
	idx := map[string]int{}
	for i, n := range order {
		idx[n] = i
	}
	deps := func(n string) []string {
		var out []string
		if s := c.Services[n]; s != nil {
			for d := range s.DependsOn {
				if _, ok := idx[d]; ok {
					out = append(out, d)
				}
			}
		}
		sort.Slice(out, func(i, j int) bool { return idx[out[i]] < idx[out[j]] })
		return out
	}
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var found [][]string
	var visit func(n string)
	visit = func(n string) {
		color[n] = grey
		stack = append(stack, n)
		for _, d := range deps(n) {
			switch color[d] {
			case white:
				visit(d)
			case grey:
				start := 0
				for i, s := range stack {
					if s == d {
						start = i
					}
				}
				cyc := append([]string(nil), stack[start:]...)
				// rotate to the service first in the file
				first := 0
				for i, s := range cyc {
					if idx[s] < idx[cyc[first]] {
						first = i
					}
				}
				cyc = append(cyc[first:], cyc[:first]...)
				found = append(found, append(cyc, cyc[0]))
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
	}
	for _, n := range order {
		if color[n] == white {
			visit(n)
		}
	}
	return found
}

// serviceSeq is ServiceSeq, or the sorted names for a Config not made by Load.
func (c *Config) serviceSeq() []string {
	if len(c.ServiceSeq) == len(c.Services) {
		return c.ServiceSeq
	}
	return sortedKeys(c.Services)
}

// Order returns the service names (disabled ones included) so that every service comes after the
// services it depends on; among services free to go, file order decides. It fails on a cycle.
func (c *Config) Order() ([]string, error) {
	if cyc := c.cycles(); len(cyc) > 0 {
		return nil, fmt.Errorf("dependency cycle: %s", strings.Join(cyc[0], " -> "))
	}
	seq := c.serviceSeq()
	done := map[string]bool{}
	out := make([]string, 0, len(seq))
	for len(out) < len(seq) {
		progressed := false
		for _, n := range seq {
			if done[n] {
				continue
			}
			ready := true
			for d := range c.Services[n].DependsOn {
				if _, known := c.Services[d]; known && !done[d] {
					ready = false
					break
				}
			}
			if ready {
				done[n] = true
				out = append(out, n)
				progressed = true
				break // restart from the top so file order wins among ready services
			}
		}
		if !progressed {
			return nil, fmt.Errorf("dependency cycle among services")
		}
	}
	return out, nil
}

// portUse is a port range something listens on.
type portUse struct {
	lo, hi int
	path   string
	pos    Pos
	set    bool // written in the file (not a default)
}

func (u portUse) String() string {
	var what string
	switch {
	case u.hi > u.lo:
		what = fmt.Sprintf("%d-%d with replicas", u.lo, u.hi)
	case !u.set:
		what = fmt.Sprintf("default %d", u.lo)
	default:
		what = strconv.Itoa(u.lo)
	}
	return fmt.Sprintf("%s (%s)", u.path, what)
}

func validatePorts(l *loader, c *Config) {
	var uses []portUse
	add := func(path string, port, n int) {
		if port <= 0 || port > 65535 || n < 1 || n > maxReplicas {
			return // reported elsewhere, or automatic
		}
		uses = append(uses, portUse{lo: port, hi: port + n - 1, path: path, pos: l.where(path), set: l.has(path)})
	}
	add("control.port", c.Control.Port, 1)
	if c.BrokerEnabled() && !c.BrokerExternal() {
		add("broker.port", c.Broker.Port, 1)
	}
	if c.PostgresEnabled() && !c.PostgresExternal() {
		add("postgres.port", c.Postgres.Port, 1)
	}
	if c.RegistryEnabled() {
		add("registry.port", c.Registry.Port, 1)
	}
	if c.TelemetryEnabled() {
		add("telemetry.http_port", c.Telemetry.HTTPPort, 1)
		add("telemetry.grpc_port", c.Telemetry.GRPCPort, 1)
	}
	if c.GatewayEnabled() {
		add("gateway.http_port", c.Gateway.HTTPPort, 1)
		if c.Gateway.HTTPSPort != -1 {
			add("gateway.https_port", c.Gateway.HTTPSPort, 1)
		}
	}
	for _, name := range c.ServiceSeq {
		if s := c.Services[name]; !s.Disabled && s.Port > 0 {
			add(join("services", name)+".port", s.Port, s.Replicas)
		}
	}
	for _, pp := range []string{"broker.port", "postgres.port", "gateway.http_port"} {
		var v int
		switch pp {
		case "broker.port":
			v = c.Broker.Port
		case "postgres.port":
			v = c.Postgres.Port
		case "gateway.http_port":
			v = c.Gateway.HTTPPort
		}
		if v < 0 || v > 65535 {
			l.errf(pp, "must be between 1 and 65535, got %d", v)
		}
	}
	if h := c.Gateway.HTTPSPort; h < -1 || h > 65535 {
		l.errf("gateway.https_port", "must be between 1 and 65535, or -1 to disable HTTPS, got %d", h)
	}
	// Sweep the ranges by start port: each range is compared with the one reaching furthest so far,
	// so every clash is found in O(n log n) even for huge files.
	sort.SliceStable(uses, func(i, j int) bool {
		if uses[i].lo != uses[j].lo {
			return uses[i].lo < uses[j].lo
		}
		return before(uses[i].pos, uses[j].pos)
	})
	reach := -1
	for j := range uses {
		if reach >= 0 && uses[j].lo <= uses[reach].hi {
			// Report at the use written later in the file (or the one written at all).
			at, other := uses[j], uses[reach]
			if before(at.pos, other.pos) {
				at, other = other, at
			}
			if !at.set {
				at, other = other, at
			}
			if at.set {
				msg := fmt.Sprintf("port %d is already used by %s", at.lo, other)
				if at.hi > at.lo {
					msg = fmt.Sprintf("ports %d-%d (one per replica) overlap %s", at.lo, at.hi, other)
				}
				l.errAt(l.where(at.path), at.path, msg)
			}
		}
		if reach < 0 || uses[j].hi > uses[reach].hi {
			reach = j
		}
	}
}

func before(a, b Pos) bool { return a.Line < b.Line || (a.Line == b.Line && a.Col < b.Col) }

func validateBroker(l *loader, c *Config) {
	b := c.Broker
	if !validHost(b.Host) {
		l.errf("broker.host", "must be an IP address or localhost, got %q", b.Host)
	}
	if b.DefaultPartitions < 1 {
		l.errf("broker.default_partitions", "must be at least 1, got %d", b.DefaultPartitions)
	}
	if b.MaxRequestBytes < MinMaxRequestBytes || b.MaxRequestBytes > MaxMaxRequestBytes {
		l.errf("broker.max_request_bytes", "must be between 1KiB and 2GiB-1 (a Kafka request size is a 32-bit signed integer), got %d bytes", int64(b.MaxRequestBytes))
	}
	for _, name := range sortedKeys(b.Topics) {
		t := b.Topics[name]
		tp := join("broker.topics", name)
		if kafkaname.CheckTopic(name) != nil {
			l.keyErrf(tp, "invalid topic name: use letters, digits, ., _ and - (at most 249)")
		}
		if t.Partitions < 1 && (l.has(tp+".partitions") || b.DefaultPartitions >= 1) {
			l.errf(tp+".partitions", "must be at least 1, got %d", t.Partitions)
		}
		for _, k := range sortedKeys(t.Configs) {
			if strings.TrimSpace(k) == "" {
				l.keyErrf(join(tp+".configs", k), "config names must not be empty")
			}
		}
	}
}

func validatePostgres(l *loader, c *Config) {
	p := c.Postgres
	if !versionRe.MatchString(p.Version) {
		l.errf("postgres.version", "must be a version like 15 or 16.4, got %q", p.Version)
	}
	if !databaseNameRe.MatchString(p.User) {
		l.errf("postgres.user", "invalid user name %q: use lowercase letters, digits and _, starting with a letter or _", p.User)
	}
	if p.BinDir != "" {
		if st, err := os.Stat(l.rel(p.BinDir)); err != nil || !st.IsDir() {
			l.errf("postgres.bin_dir", "directory %s does not exist", l.show(l.rel(p.BinDir)))
		}
	}
	first := map[string]int{}
	for i, d := range p.Databases {
		dp := index("postgres.databases", i)
		if d.Name != "" {
			validDatabaseName(l, dp+".name", d.Name)
			if j, dup := first[d.Name]; dup {
				l.errf(dp+".name", "database %s is already listed at postgres.databases[%d]", d.Name, j)
			} else {
				first[d.Name] = i
			}
		}
		for k, f := range d.Init {
			fp := index(dp+".init", k)
			if st, err := os.Stat(l.rel(f)); err != nil || !st.Mode().IsRegular() {
				l.errf(fp, "file %s does not exist", l.show(l.rel(f)))
			}
		}
	}
}

var (
	hmacAlgs = []string{"HS256", "HS384", "HS512"}
	asymAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
	methods  = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}
)

func validateGateway(l *loader, c *Config) {
	g := c.Gateway
	if !validHost(g.Host) {
		l.errf("gateway.host", "must be an IP address or localhost, got %q", g.Host)
	}
	for i, h := range g.TLS.Hosts {
		if net.ParseIP(h) == nil && !hostnameRe.MatchString(h) {
			l.errf(index("gateway.tls.hosts", i), "must be a host name or IP address, got %q", h)
		}
	}
	if l.has("gateway.auth.dev_issuer.token_ttl") && g.Auth.DevIssuer.TokenTTL <= 0 {
		l.errf("gateway.auth.dev_issuer.token_ttl", "must be greater than 0")
	}
	if g.Auth.Issuer == "" {
		l.errf("gateway.auth.issuer", "must not be empty")
	}
	if g.Auth.Audience == "" {
		l.errf("gateway.auth.audience", "must not be empty")
	}
	validateKeys(l, g.Auth.Keys)
	ids := map[string]int{}
	for i, cl := range g.Auth.DevIssuer.Clients {
		cp := index("gateway.auth.dev_issuer.clients", i)
		if j, dup := ids[cl.ID]; dup && cl.ID != "" {
			l.errf(cp+".id", "client %q is already defined at clients[%d]", cl.ID, j)
		}
		ids[cl.ID] = i
	}
	users := map[string]int{}
	for i, u := range g.Auth.DevIssuer.Users {
		up := index("gateway.auth.dev_issuer.users", i)
		if j, dup := users[u.Username]; dup && u.Username != "" {
			l.errf(up+".username", "user %q is already defined at users[%d]", u.Username, j)
		}
		users[u.Username] = i
	}
	validateRateLimit(l, "gateway.rate_limit", g.RateLimit)
	validateCORS(l, "gateway.cors", g.CORS)
	canVerify := len(g.Auth.Keys) > 0 || c.DevIssuerEnabled()
	type routeKey struct{ host, path, methods string }
	routes := map[routeKey]int{}
	for i, r := range g.Routes {
		rp := index("gateway.routes", i)
		if r.Path != "" {
			switch {
			case !strings.HasPrefix(r.Path, "/"):
				l.errf(rp+".path", "must start with /, e.g. /api/users, got %q", r.Path)
			case strings.ContainsAny(r.Path, "?# \t"):
				l.errf(rp+".path", "must be a plain path without query, fragment or spaces, got %q", r.Path)
			}
		}
		if r.Service != "" {
			if _, ok := c.Services[r.Service]; !ok {
				l.errf(rp+".service", "unknown service %q%s", r.Service, suggest(r.Service, c.ServiceSeq))
			}
		}
		if r.Host != "" && net.ParseIP(r.Host) == nil && !hostnameRe.MatchString(r.Host) {
			l.errf(rp+".host", "must be a host name without scheme, port or path, got %q", r.Host)
		}
		for j, m := range r.Methods {
			if !oneOf(m, methods...) {
				l.errf(index(rp+".methods", j), "unknown HTTP method %q; use %s", m, strings.Join(methods, ", "))
			}
		}
		if r.Rewrite != "" && !strings.HasPrefix(r.Rewrite, "/") {
			l.errf(rp+".rewrite", "must start with /, got %q", r.Rewrite)
		}
		if r.Rewrite != "" && r.StripPrefix {
			l.errf(rp+".rewrite", "use either strip_prefix or rewrite, not both (rewrite already replaces the prefix)")
		}
		l.enum(r.Auth, []string{"none", "optional", "required"}, rp+".auth")
		l.enum(r.Balance, []string{"round_robin", "least_conn"}, rp+".balance")
		if r.Auth != "required" {
			if len(r.Scopes) > 0 {
				l.errf(rp+".scopes", "needs auth: required")
			}
			if len(r.Claims) > 0 {
				l.errf(rp+".claims", "needs auth: required")
			}
		}
		if (r.Auth == "required" || r.Auth == "optional") && !canVerify {
			l.errf(rp+".auth", "no key can verify tokens: enable gateway.auth.dev_issuer or add gateway.auth.keys")
		}
		if r.MaxConcurrent < 0 {
			l.errf(rp+".max_concurrent", "must be 0 (no cap) or more, got %d", r.MaxConcurrent)
		}
		validateRateLimit(l, rp+".rate_limit", r.RateLimit)
		validateCORS(l, rp+".cors", r.CORS)
		ms := append([]string(nil), r.Methods...)
		sort.Strings(ms)
		k := routeKey{strings.ToLower(r.Host), r.Path, strings.Join(ms, ",")}
		if j, dup := routes[k]; dup && r.Path != "" {
			l.errf(rp+".path", "same host, path and methods as gateway.routes[%d]", j)
		} else {
			routes[k] = i
		}
	}
}

func validateKeys(l *loader, keys []Key) {
	ids := map[string]int{}
	for i, k := range keys {
		kp := index("gateway.auth.keys", i)
		if j, dup := ids[k.ID]; dup && k.ID != "" {
			l.errf(kp+".id", "another key (keys[%d]) has the same id; give each key a distinct id", j)
		}
		ids[k.ID] = i
		var sources []string
		for _, s := range []struct{ name, val string }{{"secret", k.Secret}, {"pem_file", k.PEMFile}, {"jwks_url", k.JWKSURL}} {
			switch {
			case s.val != "":
				sources = append(sources, s.name)
			case l.has(kp + "." + s.name):
				l.errf(kp+"."+s.name, "is empty; is the variable it comes from set?")
			}
		}
		if len(sources) != 1 && !l.hasErrAt(kp+".secret") && !l.hasErrAt(kp+".pem_file") && !l.hasErrAt(kp+".jwks_url") {
			msg := "needs exactly one of secret, pem_file or jwks_url"
			if len(sources) > 1 {
				msg += "; it has " + strings.Join(sources, " and ")
			}
			l.keyErrf(kp, "%s", msg)
		}
		hasHMAC, hasAsym := false, false
		for j, a := range k.Algorithms {
			ap := index(kp+".algorithms", j)
			switch {
			case strings.EqualFold(a, "none"):
				l.errf(ap, "none is never allowed: it would accept unsigned tokens")
			case oneOf(a, hmacAlgs...):
				hasHMAC = true
			case oneOf(a, asymAlgs...):
				hasAsym = true
			default:
				l.errf(ap, "unknown algorithm %q; use one of %s, %s", a, strings.Join(hmacAlgs, ", "), strings.Join(asymAlgs, ", "))
			}
		}
		switch {
		case hasHMAC && hasAsym:
			l.errf(kp+".algorithms", "mixes HMAC (HS*) and public-key algorithms; use one key for each")
		case hasAsym && k.Secret != "":
			l.errf(kp+".algorithms", "a secret verifies only HS256, HS384 or HS512")
		case hasHMAC && (k.PEMFile != "" || k.JWKSURL != ""):
			l.errf(kp+".algorithms", "HS* needs a secret; a public key must never be used as an HMAC secret")
		}
		if k.Secret != "" && hasHMAC && len(k.Secret) < 32 {
			l.warnAt(l.where(kp+".secret"), kp+".secret", "is shorter than 32 bytes; HMAC secrets should be at least as long as the hash")
		}
		if k.JWKSURL != "" {
			u, err := url.Parse(k.JWKSURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				l.errf(kp+".jwks_url", "must be an http:// or https:// URL, got %q", k.JWKSURL)
			}
		}
		if k.PEMFile != "" {
			validatePEM(l, kp, k)
		}
	}
}

func validatePEM(l *loader, kp string, k Key) {
	fp := kp + ".pem_file"
	full := l.rel(k.PEMFile)
	shown := l.show(full)
	data, err := readSmallFile(full)
	if err != nil {
		l.errf(fp, "cannot read %s: %v", shown, unwrapPathError(err))
		return
	}
	block, _ := pem.Decode(data)
	if block == nil {
		l.errf(fp, "%s holds no PEM block; expected a public key or certificate", shown)
		return
	}
	var pub any
	switch block.Type {
	case "CERTIFICATE":
		if cert, err := x509.ParseCertificate(block.Bytes); err == nil {
			pub = cert.PublicKey
		}
	case "RSA PUBLIC KEY":
		if k, err := x509.ParsePKCS1PublicKey(block.Bytes); err == nil {
			pub = k
		}
	case "PUBLIC KEY":
		if k, err := x509.ParsePKIXPublicKey(block.Bytes); err == nil {
			pub = k
		}
	default:
		l.errf(fp, "%s holds a %q block; expected PUBLIC KEY or CERTIFICATE (never a private key)", shown, block.Type)
		return
	}
	if pub == nil {
		l.errf(fp, "%s: cannot parse the %s", shown, strings.ToLower(block.Type))
		return
	}
	for j, a := range k.Algorithms {
		var ok bool
		switch {
		case strings.HasPrefix(a, "RS") || strings.HasPrefix(a, "PS"):
			_, ok = pub.(*rsa.PublicKey)
		case strings.HasPrefix(a, "ES"):
			_, ok = pub.(*ecdsa.PublicKey)
		case a == "EdDSA":
			_, ok = pub.(ed25519.PublicKey)
		default:
			ok = true // reported above
		}
		if !ok {
			l.errf(index(kp+".algorithms", j), "%s does not fit the %T in %s", a, pub, k.PEMFile)
		}
	}
}

func validateRateLimit(l *loader, p string, r *RateLimit) {
	if r == nil {
		return
	}
	if r.Requests <= 0 && !l.hasErrAt(p+".requests") {
		l.errf(p+".requests", "must be greater than 0, got %s", strconv.FormatFloat(r.Requests, 'g', -1, 64))
	}
	if r.Per <= 0 {
		l.errf(p+".per", "must be greater than 0")
	}
	if r.Burst < 1 && (l.has(p+".burst") || r.Requests > 0) {
		l.errf(p+".burst", "must be at least 1, got %d", r.Burst)
	}
	switch {
	case r.Key == "ip" || r.Key == "sub" || r.Key == "global":
	case strings.HasPrefix(r.Key, "header:") && headerNameRe.MatchString(strings.TrimPrefix(r.Key, "header:")):
	default:
		l.errf(p+".key", "must be ip, sub, global or header:NAME (e.g. header:X-API-Key), got %q", r.Key)
	}
}

func validateCORS(l *loader, p string, c *CORS) {
	if c == nil {
		return
	}
	for i, o := range c.Origins {
		op := index(p+".origins", i)
		if o == "*" {
			if c.Credentials {
				l.errf(op, "* cannot be used with credentials: true (browsers refuse it); list the origins")
			}
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			l.errf(op, "must be * or an origin like http://localhost:3000 (scheme, host, optional port), got %q", o)
		}
	}
	for i, m := range c.Methods {
		if !oneOf(strings.ToUpper(m), methods...) {
			l.errf(index(p+".methods", i), "unknown HTTP method %q", m)
		}
	}
	for i, h := range c.Headers {
		if h != "*" && !headerNameRe.MatchString(h) {
			l.errf(index(p+".headers", i), "invalid header name %q", h)
		}
	}
}

func validateTests(l *loader, c *Config) {
	names := map[string]int{}
	for i, t := range c.Tests {
		tp := index("tests", i)
		if j, dup := names[t.Name]; dup && t.Name != "" && l.has(tp+".name") {
			l.errf(tp+".name", "tests[%d] has the same name", j)
		}
		names[t.Name] = i
		if st, err := os.Stat(t.Dir); err != nil || !st.IsDir() {
			l.errf(tp+".dir", "directory %s does not exist", l.show(t.Dir))
		}
		validEnvNames(l, tp+".env", t.Env)
	}
}
