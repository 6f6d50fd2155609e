// Package config loads, validates and documents devstack.yaml.
package config

// Config is a whole devstack.yaml. Paths inside it are relative to the file's directory (Dir).
type Config struct {
	// Name of the stack, shown in the UI. Defaults to the directory name.
	Name string `yaml:"name,omitempty" json:"name,omitempty" jsonschema:"description=Name of the stack shown in the UI; defaults to the directory name"`
	// EnvFile is read for ${VAR} interpolation and injected into every service. Default ".env" (optional).
	EnvFile string `yaml:"env_file,omitempty" json:"env_file,omitempty" jsonschema:"description=File of KEY=VALUE lines used for interpolation and service env (default .env; missing is fine)"`
	// StateDir holds data, logs and caches. Default ".devstack".
	StateDir string `yaml:"state_dir,omitempty" json:"state_dir,omitempty" jsonschema:"description=Directory for data, logs and caches (default .devstack)"`
	// Env is added to every service's environment (a service's own env wins).
	Env map[string]string `yaml:"env,omitempty" json:"env,omitempty" jsonschema:"description=Environment for every service"`

	Control  Control             `yaml:"control,omitempty" json:"control,omitempty"`
	Broker   Broker              `yaml:"broker,omitempty" json:"broker,omitempty"`
	Postgres Postgres            `yaml:"postgres,omitempty" json:"postgres,omitempty"`
	Gateway  Gateway             `yaml:"gateway,omitempty" json:"gateway,omitempty"`
	Services map[string]*Service `yaml:"services,omitempty" json:"services,omitempty"`
	Tests    []Test              `yaml:"tests,omitempty" json:"tests,omitempty"`

	// Set by Load, not from YAML.
	Path       string            `yaml:"-" json:"-"` // absolute path of the file
	Dir        string            `yaml:"-" json:"-"` // its directory
	ServiceSeq []string          `yaml:"-" json:"-"` // service names in file order
	DotEnv     map[string]string `yaml:"-" json:"-"` // values read from EnvFile
}

// Control is the loopback HTTP API that `devstack status|logs|restart|tui` use.
type Control struct {
	// Port on 127.0.0.1. Default 7477; 0 in YAML means default.
	Port int `yaml:"port,omitempty" json:"port,omitempty" jsonschema:"description=Port of the control API on 127.0.0.1 (default 7477)"`
}

// Broker configures the embedded Kafka-compatible broker.
type Broker struct {
	// Enabled defaults to true when any service exists; set false to run without a broker.
	Enabled *bool  `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	Host    string `yaml:"host,omitempty" json:"host,omitempty" jsonschema:"description=Listen address (default 127.0.0.1)"`
	Port    int    `yaml:"port,omitempty" json:"port,omitempty" jsonschema:"description=Kafka port (default 9092)"`
	// AutoCreateTopics: unknown topics are created on first use (default true).
	AutoCreateTopics *bool `yaml:"auto_create_topics,omitempty" json:"auto_create_topics,omitempty"`
	// DefaultPartitions for auto-created topics (default 1).
	DefaultPartitions int `yaml:"default_partitions,omitempty" json:"default_partitions,omitempty"`
	// Persist keeps data in <state_dir>/kafka across restarts (default true).
	Persist   *bool     `yaml:"persist,omitempty" json:"persist,omitempty"`
	Retention Retention `yaml:"retention,omitempty" json:"retention,omitempty"`
	// Topics created before any service starts, by name.
	Topics map[string]Topic `yaml:"topics,omitempty" json:"topics,omitempty"`
}

// Retention bounds what the broker keeps per partition.
type Retention struct {
	Time  Duration `yaml:"time,omitempty" json:"time,omitempty" jsonschema:"description=Keep records this long (default 24h)"`
	Bytes ByteSize `yaml:"bytes,omitempty" json:"bytes,omitempty" jsonschema:"description=Keep at most this many bytes per partition (default 256MiB)"`
}

// Topic is a topic declared in devstack.yaml.
type Topic struct {
	Partitions int               `yaml:"partitions,omitempty" json:"partitions,omitempty" jsonschema:"description=Partition count (default 1)"`
	Configs    map[string]string `yaml:"configs,omitempty" json:"configs,omitempty" jsonschema:"description=Topic configs such as cleanup.policy or retention.ms"`
}

// Postgres configures the embedded PostgreSQL server.
type Postgres struct {
	Enabled *bool  `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	Port    int    `yaml:"port,omitempty" json:"port,omitempty" jsonschema:"description=Port on 127.0.0.1 (default 5433)"`
	Version string `yaml:"version,omitempty" json:"version,omitempty" jsonschema:"description=Major version to download when no local PostgreSQL is found (default 15)"`
	// BinDir points at PostgreSQL's bin directory; default: a local install if one is found.
	BinDir string `yaml:"bin_dir,omitempty" json:"bin_dir,omitempty"`
	// User and Password of the superuser (defaults postgres/postgres).
	User     string `yaml:"user,omitempty" json:"user,omitempty"`
	Password string `yaml:"password,omitempty" json:"password,omitempty"`
	// Databases created on first start besides the services' own.
	Databases []Database `yaml:"databases,omitempty" json:"databases,omitempty"`
}

// Database is an extra database with optional init SQL files run once on creation.
type Database struct {
	Name string   `yaml:"name" json:"name"`
	Init []string `yaml:"init,omitempty" json:"init,omitempty" jsonschema:"description=SQL files run once when the database is created"`
}

// Gateway configures the API gateway.
type Gateway struct {
	Enabled   *bool      `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	Host      string     `yaml:"host,omitempty" json:"host,omitempty" jsonschema:"description=Listen address (default 127.0.0.1)"`
	HTTPPort  int        `yaml:"http_port,omitempty" json:"http_port,omitempty" jsonschema:"description=HTTP port (default 8080)"`
	HTTPSPort int        `yaml:"https_port,omitempty" json:"https_port,omitempty" jsonschema:"description=HTTPS port (default 8443; -1 disables HTTPS)"`
	TLS       TLS        `yaml:"tls,omitempty" json:"tls,omitempty"`
	Auth      Auth       `yaml:"auth,omitempty" json:"auth,omitempty"`
	RateLimit *RateLimit `yaml:"rate_limit,omitempty" json:"rate_limit,omitempty" jsonschema:"description=Stack-wide limit applied before per-route limits"`
	MaxBody   ByteSize   `yaml:"max_body,omitempty" json:"max_body,omitempty" jsonschema:"description=Request body limit (default 10MiB)"`
	Timeout   Duration   `yaml:"timeout,omitempty" json:"timeout,omitempty" jsonschema:"description=Upstream timeout (default 30s)"`
	// WaitReady bounds how long a request waits for a ready instance before 503 (default 30s).
	WaitReady Duration `yaml:"wait_ready,omitempty" json:"wait_ready,omitempty"`
	CORS      *CORS    `yaml:"cors,omitempty" json:"cors,omitempty"`
	Routes    []Route  `yaml:"routes,omitempty" json:"routes,omitempty"`
}

// TLS configures the local development CA and certificate.
type TLS struct {
	// Hosts the certificate is valid for besides localhost, 127.0.0.1 and ::1.
	Hosts []string `yaml:"hosts,omitempty" json:"hosts,omitempty"`
}

// Auth configures token verification and the built-in development OAuth2 issuer.
type Auth struct {
	// Issuer (iss) that tokens must carry. Default: the gateway's own issuer URL.
	Issuer string `yaml:"issuer,omitempty" json:"issuer,omitempty"`
	// Audience (aud) tokens must carry. Default "devstack".
	Audience string   `yaml:"audience,omitempty" json:"audience,omitempty"`
	Leeway   Duration `yaml:"leeway,omitempty" json:"leeway,omitempty" jsonschema:"description=Clock skew allowed for exp/nbf/iat (default 30s)"`
	// Keys that verify tokens, besides the built-in issuer's own key.
	Keys []Key `yaml:"keys,omitempty" json:"keys,omitempty"`
	// DevIssuer is the built-in OAuth2 token endpoint (/oauth/token) and JWKS. Enabled by default.
	DevIssuer DevIssuer `yaml:"dev_issuer,omitempty" json:"dev_issuer,omitempty"`
}

// Key verifies tokens. Exactly one of Secret, PEMFile and JWKSURL is set.
type Key struct {
	ID         string   `yaml:"id,omitempty" json:"id,omitempty" jsonschema:"description=kid this key answers to; empty matches tokens without kid"`
	Algorithms []string `yaml:"algorithms" json:"algorithms" jsonschema:"description=Allowed algorithms, e.g. [HS256] or [RS256]; none is never allowed"`
	Secret     string   `yaml:"secret,omitempty" json:"secret,omitempty" jsonschema:"description=HMAC secret, usually ${JWT_SECRET}"`
	PEMFile    string   `yaml:"pem_file,omitempty" json:"pem_file,omitempty" jsonschema:"description=Public key (RSA, EC or Ed25519) in PEM"`
	JWKSURL    string   `yaml:"jwks_url,omitempty" json:"jwks_url,omitempty" jsonschema:"description=JWKS endpoint, cached and refreshed on unknown kid"`
}

// DevIssuer is the built-in development OAuth2 issuer.
type DevIssuer struct {
	Enabled  *bool         `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	TokenTTL Duration      `yaml:"token_ttl,omitempty" json:"token_ttl,omitempty" jsonschema:"description=Lifetime of issued tokens (default 1h)"`
	Clients  []OAuthClient `yaml:"clients,omitempty" json:"clients,omitempty" jsonschema:"description=client_credentials clients"`
	Users    []OAuthUser   `yaml:"users,omitempty" json:"users,omitempty" jsonschema:"description=Users for the password grant"`
}

// OAuthClient may get tokens with the client_credentials grant.
type OAuthClient struct {
	ID     string   `yaml:"id" json:"id"`
	Secret string   `yaml:"secret" json:"secret"`
	Scopes []string `yaml:"scopes,omitempty" json:"scopes,omitempty"`
}

// OAuthUser may get tokens with the password grant.
type OAuthUser struct {
	Username string   `yaml:"username" json:"username"`
	Password string   `yaml:"password" json:"password"`
	Scopes   []string `yaml:"scopes,omitempty" json:"scopes,omitempty"`
}

// RateLimit is a token bucket.
type RateLimit struct {
	// Requests per second refilled; Burst is the bucket size (default: Requests rounded up).
	Requests float64  `yaml:"requests" json:"requests" jsonschema:"description=Requests per Per (token refill rate)"`
	Per      Duration `yaml:"per,omitempty" json:"per,omitempty" jsonschema:"description=Window for Requests (default 1s)"`
	Burst    int      `yaml:"burst,omitempty" json:"burst,omitempty"`
	// Key: ip (default), sub (JWT subject), header:NAME (e.g. header:X-API-Key), or global.
	Key string `yaml:"key,omitempty" json:"key,omitempty" jsonschema:"description=ip (default), sub, header:NAME or global"`
}

// CORS policy.
type CORS struct {
	Origins     []string `yaml:"origins" json:"origins"`
	Methods     []string `yaml:"methods,omitempty" json:"methods,omitempty"`
	Headers     []string `yaml:"headers,omitempty" json:"headers,omitempty"`
	Credentials bool     `yaml:"credentials,omitempty" json:"credentials,omitempty"`
	MaxAge      Duration `yaml:"max_age,omitempty" json:"max_age,omitempty"`
}

// Route sends matching requests to a service.
type Route struct {
	// Path prefix to match, e.g. /api/users (matches /api/users and /api/users/...).
	Path    string   `yaml:"path" json:"path"`
	Host    string   `yaml:"host,omitempty" json:"host,omitempty"`
	Methods []string `yaml:"methods,omitempty" json:"methods,omitempty"`
	Service string   `yaml:"service" json:"service"`
	// StripPrefix removes Path before forwarding; Rewrite replaces it with this prefix.
	StripPrefix bool   `yaml:"strip_prefix,omitempty" json:"strip_prefix,omitempty"`
	Rewrite     string `yaml:"rewrite,omitempty" json:"rewrite,omitempty"`
	// Auth: none (default), optional, required.
	Auth   string   `yaml:"auth,omitempty" json:"auth,omitempty" jsonschema:"enum=none,enum=optional,enum=required"`
	Scopes []string `yaml:"scopes,omitempty" json:"scopes,omitempty" jsonschema:"description=Scopes the token must carry (all of them)"`
	// Claims the token must carry with these exact values.
	Claims    map[string]string `yaml:"claims,omitempty" json:"claims,omitempty"`
	RateLimit *RateLimit        `yaml:"rate_limit,omitempty" json:"rate_limit,omitempty"`
	// Balance: round_robin (default) or least_conn.
	Balance string   `yaml:"balance,omitempty" json:"balance,omitempty" jsonschema:"enum=round_robin,enum=least_conn"`
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	MaxBody ByteSize `yaml:"max_body,omitempty" json:"max_body,omitempty"`
	CORS    *CORS    `yaml:"cors,omitempty" json:"cors,omitempty"`
	// MaxConcurrent caps in-flight requests to the upstream (0: no cap); extra ones queue briefly.
	MaxConcurrent int `yaml:"max_concurrent,omitempty" json:"max_concurrent,omitempty"`
}

// Service is one process (or several replicas) that devstack runs.
type Service struct {
	// Dir is the working directory (default: the file's directory).
	Dir string `yaml:"dir,omitempty" json:"dir,omitempty"`
	// Setup installs dependencies; it re-runs only when a SetupInputs file changes.
	Setup       string            `yaml:"setup,omitempty" json:"setup,omitempty" jsonschema:"description=Dependency install command, e.g. npm ci"`
	SetupInputs []string          `yaml:"setup_inputs,omitempty" json:"setup_inputs,omitempty" jsonschema:"description=Files whose content decides whether setup re-runs (default: lock files found in dir)"`
	Build       string            `yaml:"build,omitempty" json:"build,omitempty" jsonschema:"description=Build command run before start and on every change"`
	Command     string            `yaml:"command" json:"command" jsonschema:"description=Command that runs the service (via sh -c)"`
	Env         map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	// Port the service listens on; when 0 a free port is allocated and passed as PORT.
	Port     int `yaml:"port,omitempty" json:"port,omitempty"`
	Replicas int `yaml:"replicas,omitempty" json:"replicas,omitempty" jsonschema:"description=Number of instances (default 1); each gets its own PORT"`
	// Database: true for a database named after the service, or a name. DATABASE_URL is injected.
	Database  string                `yaml:"database,omitempty" json:"database,omitempty" jsonschema:"description=Own database: true (named after the service) or a database name"`
	DependsOn map[string]Dependency `yaml:"depends_on,omitempty" json:"depends_on,omitempty"`
	Ready     *Probe                `yaml:"ready,omitempty" json:"ready,omitempty"`
	Restart   RestartPolicy         `yaml:"restart,omitempty" json:"restart,omitempty"`
	Watch     *Watch                `yaml:"watch,omitempty" json:"watch,omitempty"`
	// StopGrace is how long after SIGTERM the process group is SIGKILLed (default 10s).
	StopGrace Duration `yaml:"stop_grace,omitempty" json:"stop_grace,omitempty"`
	// Disabled services are not started.
	Disabled bool `yaml:"disabled,omitempty" json:"disabled,omitempty"`

	Name string `yaml:"-" json:"-"` // the key in services
	Line int    `yaml:"-" json:"-"` // where it is declared
}

// Dependency says when a dependent may start.
type Dependency struct {
	// Condition: started, healthy (default) or completed.
	Condition string `yaml:"condition,omitempty" json:"condition,omitempty" jsonschema:"enum=started,enum=healthy,enum=completed"`
}

// Probe decides when an instance is ready. Exactly one of HTTP, TCP, Log and Exec is set.
type Probe struct {
	HTTP     string   `yaml:"http,omitempty" json:"http,omitempty" jsonschema:"description=Path that must answer 2xx/3xx, e.g. /health"`
	TCP      bool     `yaml:"tcp,omitempty" json:"tcp,omitempty" jsonschema:"description=Ready when the port accepts connections"`
	Log      string   `yaml:"log,omitempty" json:"log,omitempty" jsonschema:"description=Regular expression a log line must match"`
	Exec     string   `yaml:"exec,omitempty" json:"exec,omitempty" jsonschema:"description=Command that must exit 0"`
	Interval Duration `yaml:"interval,omitempty" json:"interval,omitempty" jsonschema:"description=Between attempts (default 200ms)"`
	Timeout  Duration `yaml:"timeout,omitempty" json:"timeout,omitempty" jsonschema:"description=Give up and fail the service after this long (default 60s)"`
}

// RestartPolicy says what happens when a process exits.
type RestartPolicy struct {
	// Policy: no, on-failure (default), always.
	Policy      string   `yaml:"policy,omitempty" json:"policy,omitempty" jsonschema:"enum=no,enum=on-failure,enum=always"`
	MaxRestarts int      `yaml:"max_restarts,omitempty" json:"max_restarts,omitempty" jsonschema:"description=Give up after this many restarts in a row (default 5)"`
	Backoff     Duration `yaml:"backoff,omitempty" json:"backoff,omitempty" jsonschema:"description=First delay, doubled each time up to 30s (default 500ms)"`
}

// Watch configures hot reload.
type Watch struct {
	// Paths to watch, relative to the service dir (default: the service dir).
	Paths    []string `yaml:"paths,omitempty" json:"paths,omitempty"`
	Include  []string `yaml:"include,omitempty" json:"include,omitempty" jsonschema:"description=Globs of files that trigger a reload (default all)"`
	Ignore   []string `yaml:"ignore,omitempty" json:"ignore,omitempty" jsonschema:"description=Globs ignored besides the defaults (.git, node_modules, .venv, dist, __pycache__)"`
	Debounce Duration `yaml:"debounce,omitempty" json:"debounce,omitempty" jsonschema:"description=Quiet period before reloading (default 200ms)"`
	Disabled bool     `yaml:"disabled,omitempty" json:"disabled,omitempty"`
}

// Test is a command `devstack test` runs once the stack is ready.
type Test struct {
	Name    string            `yaml:"name" json:"name"`
	Command string            `yaml:"command" json:"command"`
	Dir     string            `yaml:"dir,omitempty" json:"dir,omitempty"`
	Env     map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	Timeout Duration          `yaml:"timeout,omitempty" json:"timeout,omitempty" jsonschema:"description=Default 10m"`
}
