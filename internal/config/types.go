// Package config loads, validates and documents devstack.yaml.
package config

// The struct tags drive three things: `yaml` names the key (a key without omitempty is required),
// `jsonschema_description` documents it in the generated JSON Schema, and `jsonschema:"enum=..."`
// lists allowed values. After Load every default below is filled in, so a zero value read from a
// loaded Config is a value the user chose (e.g. max_restarts: 0).

// Config is a whole devstack.yaml. Paths inside it are relative to the file's directory (Dir).
type Config struct {
	// Name of the stack, shown in the UI. Default: the name of the file's directory.
	Name string `yaml:"name,omitempty" json:"name,omitempty" jsonschema_description:"Name of the stack shown in the UI. Default: the name of the directory holding devstack.yaml."`
	// EnvFile is read for ${VAR} interpolation and injected into every service. Default ".env"
	// (a missing default file is fine; a missing file named explicitly is an error).
	EnvFile string `yaml:"env_file,omitempty" json:"env_file,omitempty" jsonschema_description:"File of KEY=VALUE lines used for ${VAR} interpolation and added to every service's environment. Default .env beside devstack.yaml (missing is fine unless named explicitly)."`
	// StateDir holds data, logs and caches. Default ".devstack".
	StateDir string `yaml:"state_dir,omitempty" json:"state_dir,omitempty" jsonschema_description:"Directory for data, logs and caches, relative to devstack.yaml. Default .devstack."`
	// Env is added to every service's environment (a service's own env wins).
	Env map[string]string `yaml:"env,omitempty" json:"env,omitempty" jsonschema_description:"Environment for every service (a service's own env wins). A mapping or a list of KEY=VALUE."`

	Control   Control             `yaml:"control,omitempty" json:"control,omitempty" jsonschema_description:"The loopback control API used by devstack status, logs and restart."`
	Broker    Broker              `yaml:"broker,omitempty" json:"broker,omitempty" jsonschema_description:"The embedded Kafka-compatible broker."`
	Postgres  Postgres            `yaml:"postgres,omitempty" json:"postgres,omitempty" jsonschema_description:"The embedded PostgreSQL server."`
	Gateway   Gateway             `yaml:"gateway,omitempty" json:"gateway,omitempty" jsonschema_description:"The API gateway in front of the services."`
	Registry  Registry            `yaml:"registry,omitempty" json:"registry,omitempty" jsonschema_description:"The Confluent-compatible schema registry next to the broker, and the schemas devstack registers in it (schemas as code)."`
	Services  map[string]*Service `yaml:"services,omitempty" json:"services,omitempty" jsonschema_description:"The processes devstack runs, by name ([a-z0-9][a-z0-9_-]*)."`
	Tests     []Test              `yaml:"tests,omitempty" json:"tests,omitempty" jsonschema_description:"Commands devstack test runs once every service is ready."`
	Logs      Logs                `yaml:"logs,omitempty" json:"logs,omitempty" jsonschema_description:"How much of each service's output is kept in <state_dir>/logs."`
	Telemetry Telemetry           `yaml:"telemetry,omitempty" json:"telemetry,omitempty" jsonschema_description:"The OTLP receiver that keeps the services' traces (and takes their OTLP logs and metrics), and the span store behind it."`

	// Set by Load, not from YAML.
	Path       string            `yaml:"-" json:"-"` // absolute path of the file
	Dir        string            `yaml:"-" json:"-"` // its directory
	ServiceSeq []string          `yaml:"-" json:"-"` // service names in file order
	DotEnv     map[string]string `yaml:"-" json:"-"` // values read from EnvFile
	// Warnings are problems that do not stop loading, formatted like errors
	// ("devstack.yaml:3:12: services.api.env.TOKEN: variable TOKEN is not set; using an empty string").
	Warnings []string `yaml:"-" json:"-"`
}

// Control is the loopback HTTP API that `devstack status|logs|restart|tui` use.
type Control struct {
	// Port on 127.0.0.1. Default 7477; 0 written in the file means a free port (the CLI and the TUI
	// find it in <state_dir>/control.json).
	Port int `yaml:"port,omitempty" json:"port,omitempty" jsonschema_description:"Port of the control API on 127.0.0.1. Default 7477; 0 picks a free port (devstack commands find it in <state_dir>/control.json)." jsonschema:"minimum=0,maximum=65535"`
}

// Broker configures the embedded Kafka-compatible broker.
type Broker struct {
	// Enabled defaults to true; set false to run without a broker.
	Enabled *bool `yaml:"enabled,omitempty" json:"enabled,omitempty" jsonschema_description:"Run the broker. Default true."`
	// Source says where the broker comes from: embedded (default), container or external.
	Source string `yaml:"source,omitempty" json:"source,omitempty" jsonschema_description:"Where the broker comes from: embedded (default: kfake inside devstack), container (real Kafka in Docker) or external (an existing cluster, see broker.external)." jsonschema:"enum=embedded,enum=container,enum=external"`
	// External is the existing cluster; required when Source is external, refused otherwise.
	External *BrokerExternal `yaml:"external,omitempty" json:"external,omitempty" jsonschema_description:"The existing Kafka cluster used when broker.source is external (required then, refused otherwise)."`
	Host     string          `yaml:"host,omitempty" json:"host,omitempty" jsonschema_description:"Listen address (an IP address or localhost). Default 127.0.0.1."`
	Port     int             `yaml:"port,omitempty" json:"port,omitempty" jsonschema_description:"Kafka port. Default 9092." jsonschema:"minimum=0,maximum=65535"`
	// AutoCreateTopics: unknown topics are created on first use (default true).
	AutoCreateTopics *bool `yaml:"auto_create_topics,omitempty" json:"auto_create_topics,omitempty" jsonschema_description:"Create unknown topics on first use. Default true."`
	// DefaultPartitions for auto-created topics (default 1).
	DefaultPartitions int `yaml:"default_partitions,omitempty" json:"default_partitions,omitempty" jsonschema_description:"Partitions of auto-created topics and of topics without partitions. Default 1." jsonschema:"minimum=1"`
	// Persist keeps data in <state_dir>/kafka across restarts (default true).
	Persist   *bool     `yaml:"persist,omitempty" json:"persist,omitempty" jsonschema_description:"Keep topics and records in <state_dir>/kafka across restarts. Default true."`
	Retention Retention `yaml:"retention,omitempty" json:"retention,omitempty" jsonschema_description:"What the broker keeps per partition."`
	// MaxRequestBytes caps one client request (Kafka's socket.request.max.bytes); default 100MiB.
	MaxRequestBytes ByteSize `yaml:"max_request_bytes,omitempty" json:"max_request_bytes,omitempty" jsonschema_description:"Largest request a client may send; the broker closes a connection that announces a larger one. Between 1KiB and 2GiB-1. Default 100MiB (Kafka's socket.request.max.bytes)."`
	// Topics created before any service starts, by name.
	Topics map[string]Topic `yaml:"topics,omitempty" json:"topics,omitempty" jsonschema_description:"Topics created before any service starts, by name."`
	// Image is the Kafka container image `--containers` runs (default apache/kafka:4.1.0).
	Image string `yaml:"image,omitempty" json:"image,omitempty" jsonschema_description:"Container image of the real Kafka that --containers runs (it must honour the official apache/kafka image's KAFKA_* environment). Default apache/kafka:4.1.0."`
}

// Registry configures the schema registry (Confluent's v1 REST API, schemas kept in the broker's _schemas
// topic). Services get its URL in SCHEMA_REGISTRY_URL.
type Registry struct {
	// Enabled defaults to true when the broker is enabled; true without a broker is an error.
	Enabled *bool `yaml:"enabled,omitempty" json:"enabled,omitempty" jsonschema_description:"Run the schema registry. Default: true when the broker runs (it needs one)."`
	// Port on 127.0.0.1. Default 8081; 0 written in the file means a free port.
	Port int `yaml:"port,omitempty" json:"port,omitempty" jsonschema_description:"Port of the registry's REST API on 127.0.0.1. Default 8081; 0 picks a free port (services get the real one in SCHEMA_REGISTRY_URL)." jsonschema:"minimum=0,maximum=65535"`
	// Compatibility is the global level (default BACKWARD), upper-cased by Load.
	Compatibility string `yaml:"compatibility,omitempty" json:"compatibility,omitempty" jsonschema_description:"Global compatibility level until PUT /config changes it. Default BACKWARD." jsonschema:"enum=NONE,enum=BACKWARD,enum=BACKWARD_TRANSITIVE,enum=FORWARD,enum=FORWARD_TRANSITIVE,enum=FULL,enum=FULL_TRANSITIVE"`
	// Subjects are registered at start, before the services, and again when their file is saved.
	Subjects map[string]Subject `yaml:"subjects,omitempty" json:"subjects,omitempty" jsonschema_description:"Schemas as code: subject name to schema file. Each is registered once the registry is up (before any service starts) and again whenever its file is saved; a refused schema is reported and the registered version stays."`
}

// Telemetry configures the OTLP receiver (HTTP and gRPC on 127.0.0.1) and the span store. Services and
// test commands get OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES pointing at it.
type Telemetry struct {
	// Enabled defaults to true.
	Enabled *bool `yaml:"enabled,omitempty" json:"enabled,omitempty" jsonschema_description:"Run the OTLP receiver and keep traces. Default true."`
	// HTTPPort on 127.0.0.1. Default 4318; 0 written in the file means a free port.
	HTTPPort int `yaml:"http_port,omitempty" json:"http_port,omitempty" jsonschema_description:"Port of OTLP/HTTP (protobuf and JSON) on 127.0.0.1. Default 4318; 0 picks a free port (services get the real one in OTEL_EXPORTER_OTLP_ENDPOINT)." jsonschema:"minimum=0,maximum=65535"`
	// GRPCPort on 127.0.0.1. Default 4317; 0 means a free port, -1 no gRPC listener.
	GRPCPort int `yaml:"grpc_port,omitempty" json:"grpc_port,omitempty" jsonschema_description:"Port of OTLP/gRPC on 127.0.0.1. Default 4317; 0 picks a free port; -1 runs no gRPC listener." jsonschema:"minimum=-1,maximum=65535"`
	// MaxSpans bounds the spans kept (in memory and on disk); the oldest traces are evicted whole.
	MaxSpans int `yaml:"max_spans,omitempty" json:"max_spans,omitempty" jsonschema_description:"Spans kept in memory and in <state_dir>/traces; past it the oldest traces are dropped whole. At least 1. Default 100000." jsonschema:"minimum=1,maximum=10000000"`
	// Persist keeps spans in <state_dir>/traces across restarts (default true).
	Persist *bool `yaml:"persist,omitempty" json:"persist,omitempty" jsonschema_description:"Keep spans in <state_dir>/traces so the last runs' traces survive a restart. Default true."`
}

// Subject is one schema file registered under a subject (registry.subjects).
type Subject struct {
	// File is relative to devstack.yaml (Load makes it absolute).
	File string `yaml:"file" json:"file" jsonschema_description:"Schema file, relative to devstack.yaml: .avsc (AVRO), .json (JSON Schema) or .proto (PROTOBUF)." jsonschema:"minLength=1"`
	// Type defaults to the file's extension (.avsc AVRO, .json JSON, .proto PROTOBUF).
	Type string `yaml:"type,omitempty" json:"type,omitempty" jsonschema_description:"Schema type. Default: from the file's extension (.avsc AVRO, .json JSON, .proto PROTOBUF)." jsonschema:"enum=AVRO,enum=JSON,enum=PROTOBUF"`
	// Compatibility is the subject's own level; "" leaves the subject on the global level.
	Compatibility string `yaml:"compatibility,omitempty" json:"compatibility,omitempty" jsonschema_description:"The subject's compatibility level, set before its schema is registered. Default: none of its own (the global level applies)." jsonschema:"enum=NONE,enum=BACKWARD,enum=BACKWARD_TRANSITIVE,enum=FORWARD,enum=FORWARD_TRANSITIVE,enum=FULL,enum=FULL_TRANSITIVE"`
}

// BrokerExternal is an existing Kafka cluster devstack uses instead of starting one.
type BrokerExternal struct {
	BootstrapServers []string   `yaml:"bootstrap_servers,omitempty" json:"bootstrap_servers,omitempty" jsonschema_description:"Bootstrap servers as host:port (at least one); services get them all in KAFKA_BROKERS, comma-separated."`
	SASL             *KafkaSASL `yaml:"sasl,omitempty" json:"sasl,omitempty" jsonschema_description:"SASL authentication: absent means none."`
	TLS              *KafkaTLS  `yaml:"tls,omitempty" json:"tls,omitempty" jsonschema_description:"TLS to the brokers: absent means plaintext."`
}

// KafkaSASL authenticates devstack and the services to an external cluster.
type KafkaSASL struct {
	Mechanism string `yaml:"mechanism,omitempty" json:"mechanism,omitempty" jsonschema_description:"PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512." jsonschema:"enum=PLAIN,enum=SCRAM-SHA-256,enum=SCRAM-SHA-512"`
	Username  string `yaml:"username,omitempty" json:"username,omitempty" jsonschema_description:"SASL user name."`
	Password  string `yaml:"password,omitempty" json:"password,omitempty" jsonschema_description:"SASL password, usually ${KAFKA_PASSWORD}."`
}

// KafkaTLS is TLS to an external cluster. Files are relative to devstack.yaml.
type KafkaTLS struct {
	// Enabled defaults to true when the tls mapping is present.
	Enabled            *bool  `yaml:"enabled,omitempty" json:"enabled,omitempty" jsonschema_description:"Use TLS. Default true when tls is present."`
	CAFile             string `yaml:"ca_file,omitempty" json:"ca_file,omitempty" jsonschema_description:"PEM file of the CA certificates that verify the brokers. Default: the system's roots."`
	CertFile           string `yaml:"cert_file,omitempty" json:"cert_file,omitempty" jsonschema_description:"PEM client certificate (mutual TLS), with key_file."`
	KeyFile            string `yaml:"key_file,omitempty" json:"key_file,omitempty" jsonschema_description:"PEM private key of cert_file."`
	ServerName         string `yaml:"server_name,omitempty" json:"server_name,omitempty" jsonschema_description:"Name the brokers' certificates must carry. Default: the host of each address."`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify,omitempty" json:"insecure_skip_verify,omitempty" jsonschema_description:"Do not verify the brokers' certificates (never in production)."`
}

// Retention bounds what the broker keeps per partition. 0 means no limit.
type Retention struct {
	Time  Duration `yaml:"time,omitempty" json:"time,omitempty" jsonschema_description:"Keep records this long; 0 keeps them forever. Default 24h."`
	Bytes ByteSize `yaml:"bytes,omitempty" json:"bytes,omitempty" jsonschema_description:"Keep at most this many bytes per partition; 0 means no limit. Default 256MiB."`
}

// Topic is a topic declared in devstack.yaml.
type Topic struct {
	// Partitions: default broker.default_partitions.
	Partitions int               `yaml:"partitions,omitempty" json:"partitions,omitempty" jsonschema_description:"Partition count. Default broker.default_partitions." jsonschema:"minimum=1"`
	Configs    map[string]string `yaml:"configs,omitempty" json:"configs,omitempty" jsonschema_description:"Topic configs such as cleanup.policy or retention.ms."`
}

// Postgres configures the embedded PostgreSQL server.
type Postgres struct {
	// Enabled defaults to true when a service has a database or databases is not empty.
	Enabled *bool `yaml:"enabled,omitempty" json:"enabled,omitempty" jsonschema_description:"Run PostgreSQL. Default: true when a service has a database or postgres.databases is not empty."`
	// Source says where the server comes from: embedded (default), container or external.
	Source string `yaml:"source,omitempty" json:"source,omitempty" jsonschema_description:"Where PostgreSQL comes from: embedded (default: a local server devstack runs), container (Docker) or external (an existing server, see postgres.external)." jsonschema:"enum=embedded,enum=container,enum=external"`
	// External is the existing server; required when Source is external, refused otherwise.
	External *PostgresExternal `yaml:"external,omitempty" json:"external,omitempty" jsonschema_description:"The existing server used when postgres.source is external (required then, refused otherwise)."`
	Port     int               `yaml:"port,omitempty" json:"port,omitempty" jsonschema_description:"Port on 127.0.0.1. Default 5433." jsonschema:"minimum=0,maximum=65535"`
	Version  string            `yaml:"version,omitempty" json:"version,omitempty" jsonschema_description:"Major version to download when no local PostgreSQL is found. Default 15."`
	// BinDir points at PostgreSQL's bin directory; default: a local install if one is found.
	BinDir string `yaml:"bin_dir,omitempty" json:"bin_dir,omitempty" jsonschema_description:"Directory holding postgres, initdb and pg_ctl. Default: a local install if one is found, else a download."`
	// User and Password of the superuser. The default password ("") is a random secret generated for
	// the stack and kept in <state_dir>/postgres/superuser-password (mode 0600).
	User     string `yaml:"user,omitempty" json:"user,omitempty" jsonschema_description:"Superuser name. Default postgres."`
	Password string `yaml:"password,omitempty" json:"password,omitempty" jsonschema_description:"Superuser password. Default: a random secret generated for this stack, kept in <state_dir>/postgres/superuser-password (mode 0600)."`
	// Databases created on first start besides the services' own.
	Databases []Database `yaml:"databases,omitempty" json:"databases,omitempty" jsonschema_description:"Databases created on first start besides the services' own."`
	// Image is the PostgreSQL container image `--containers` runs (default postgres:15).
	Image string `yaml:"image,omitempty" json:"image,omitempty" jsonschema_description:"Container image of the PostgreSQL that --containers runs (it must honour the official postgres image's POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB and PGDATA). Default postgres:15."`
}

// PostgresExternal is an existing PostgreSQL server devstack provisions databases on but never starts or stops.
type PostgresExternal struct {
	AdminURL string `yaml:"admin_url,omitempty" json:"admin_url,omitempty" jsonschema_description:"URL of a role that may create roles and databases: postgres://admin:secret@host:5432/postgres?sslmode=require (put the password in ${VAR})."`
}

// Database is an extra database with optional init SQL files run once on creation.
type Database struct {
	Name string   `yaml:"name" json:"name" jsonschema_description:"Database name: lowercase letters, digits and _, starting with a letter or _."`
	Init []string `yaml:"init,omitempty" json:"init,omitempty" jsonschema_description:"SQL files (relative to devstack.yaml) run once, in order, when the database is created."`
}

// Gateway configures the API gateway.
type Gateway struct {
	// Enabled defaults to true when routes is not empty.
	Enabled   *bool      `yaml:"enabled,omitempty" json:"enabled,omitempty" jsonschema_description:"Run the gateway. Default: true when routes is not empty."`
	Host      string     `yaml:"host,omitempty" json:"host,omitempty" jsonschema_description:"Listen address (an IP address or localhost). Default 127.0.0.1."`
	HTTPPort  int        `yaml:"http_port,omitempty" json:"http_port,omitempty" jsonschema_description:"HTTP port. Default 8080." jsonschema:"minimum=0,maximum=65535"`
	HTTPSPort int        `yaml:"https_port,omitempty" json:"https_port,omitempty" jsonschema_description:"HTTPS port. Default 8443; -1 disables HTTPS." jsonschema:"minimum=-1,maximum=65535"`
	TLS       TLS        `yaml:"tls,omitempty" json:"tls,omitempty" jsonschema_description:"The local development CA and certificate."`
	Auth      Auth       `yaml:"auth,omitempty" json:"auth,omitempty" jsonschema_description:"Token verification and the built-in development OAuth2 issuer."`
	RateLimit *RateLimit `yaml:"rate_limit,omitempty" json:"rate_limit,omitempty" jsonschema_description:"Stack-wide limit applied before per-route limits."`
	// MaxBody: 0 means no limit.
	MaxBody ByteSize `yaml:"max_body,omitempty" json:"max_body,omitempty" jsonschema_description:"Request body limit; 0 means no limit. Default 10MiB."`
	// Timeout: 0 means no timeout.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty" jsonschema_description:"Upstream timeout; 0 means none. Default 30s."`
	// WaitReady bounds how long a request waits for a ready instance before 503 (default 30s).
	WaitReady Duration `yaml:"wait_ready,omitempty" json:"wait_ready,omitempty" jsonschema_description:"How long a request waits for a ready instance before the gateway answers 503. Default 30s."`
	// UpstreamConnLifetime bounds how long a kept-alive connection to a service is reused; 0 means
	// no limit.
	UpstreamConnLifetime Duration `yaml:"upstream_conn_lifetime,omitempty" json:"upstream_conn_lifetime,omitempty" jsonschema_description:"How long the gateway reuses a kept-alive connection to a service after opening it, so that a service restarted in place on the same port (the old process still answering on its open connections) is reached at the new process under steady traffic; 0 means no limit. Default 1s."`
	CORS                 *CORS    `yaml:"cors,omitempty" json:"cors,omitempty" jsonschema_description:"CORS policy for every route (a route's own cors replaces it)."`
	Routes               []Route  `yaml:"routes,omitempty" json:"routes,omitempty" jsonschema_description:"Requests to forward to services; the longest matching path wins."`
}

// TLS configures the local development CA and certificate.
type TLS struct {
	// Hosts the certificate is valid for besides localhost, 127.0.0.1 and ::1.
	Hosts []string `yaml:"hosts,omitempty" json:"hosts,omitempty" jsonschema_description:"Host names or IP addresses the certificate covers besides localhost, 127.0.0.1 and ::1."`
}

// Auth configures token verification and the built-in development OAuth2 issuer.
type Auth struct {
	// Issuer (iss) that tokens must carry. Default "devstack".
	Issuer string `yaml:"issuer,omitempty" json:"issuer,omitempty" jsonschema_description:"Issuer (iss) tokens must carry; also the iss of tokens the dev issuer signs. Default devstack."`
	// Audience (aud) tokens must carry. Default "devstack".
	Audience string   `yaml:"audience,omitempty" json:"audience,omitempty" jsonschema_description:"Audience (aud) tokens must contain. Default devstack."`
	Leeway   Duration `yaml:"leeway,omitempty" json:"leeway,omitempty" jsonschema_description:"Clock skew allowed for exp, nbf and iat. Default 30s."`
	// Keys that verify tokens, besides the built-in issuer's own key.
	Keys []Key `yaml:"keys,omitempty" json:"keys,omitempty" jsonschema_description:"Keys that verify tokens, besides the dev issuer's own key."`
	// DevIssuer is the built-in OAuth2 token endpoint (/oauth/token) and JWKS. Enabled by default.
	DevIssuer DevIssuer `yaml:"dev_issuer,omitempty" json:"dev_issuer,omitempty" jsonschema_description:"The built-in OAuth2 issuer: POST /oauth/token and /.well-known/jwks.json."`
}

// Key verifies tokens. Exactly one of Secret, PEMFile and JWKSURL is set; Algorithms are either
// all HMAC (HS*, with Secret) or all asymmetric (RS*, PS*, ES*, EdDSA, with PEMFile or JWKSURL).
type Key struct {
	ID         string   `yaml:"id,omitempty" json:"id,omitempty" jsonschema_description:"kid this key answers to; empty matches any token."`
	Algorithms []string `yaml:"algorithms" json:"algorithms" jsonschema_description:"Allowed algorithms: HS256, HS384, HS512 (with secret) or RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA (with pem_file or jwks_url). none is never allowed."`
	Secret     string   `yaml:"secret,omitempty" json:"secret,omitempty" jsonschema_description:"HMAC secret, usually ${JWT_SECRET}."`
	PEMFile    string   `yaml:"pem_file,omitempty" json:"pem_file,omitempty" jsonschema_description:"Public key or certificate (RSA, EC or Ed25519) in PEM, relative to devstack.yaml."`
	JWKSURL    string   `yaml:"jwks_url,omitempty" json:"jwks_url,omitempty" jsonschema_description:"http(s) URL of a JWKS, cached and refreshed on an unknown kid."`
}

// DevIssuer is the built-in development OAuth2 issuer.
type DevIssuer struct {
	// Enabled defaults to true.
	Enabled  *bool         `yaml:"enabled,omitempty" json:"enabled,omitempty" jsonschema_description:"Serve the dev issuer. Default true."`
	TokenTTL Duration      `yaml:"token_ttl,omitempty" json:"token_ttl,omitempty" jsonschema_description:"Lifetime of issued tokens. Default 1h."`
	Clients  []OAuthClient `yaml:"clients,omitempty" json:"clients,omitempty" jsonschema_description:"Clients allowed the client_credentials grant."`
	Users    []OAuthUser   `yaml:"users,omitempty" json:"users,omitempty" jsonschema_description:"Users allowed the password grant."`
}

// OAuthClient may get tokens with the client_credentials grant.
type OAuthClient struct {
	ID     string   `yaml:"id" json:"id" jsonschema_description:"client_id."`
	Secret string   `yaml:"secret" json:"secret" jsonschema_description:"client_secret."`
	Scopes []string `yaml:"scopes,omitempty" json:"scopes,omitempty" jsonschema_description:"Scopes the client may ask for (all of them when it asks for none)."`
}

// OAuthUser may get tokens with the password grant.
type OAuthUser struct {
	Username string   `yaml:"username" json:"username" jsonschema_description:"Username; also the token's sub."`
	Password string   `yaml:"password" json:"password" jsonschema_description:"Password."`
	Scopes   []string `yaml:"scopes,omitempty" json:"scopes,omitempty" jsonschema_description:"Scopes the user may ask for (all of them when it asks for none)."`
}

// RateLimit is a token bucket: Requests tokens are added every Per, up to Burst.
type RateLimit struct {
	// Requests added to the bucket every Per (> 0).
	Requests float64 `yaml:"requests" json:"requests" jsonschema_description:"Requests allowed per 'per' (the refill rate); must be greater than 0." jsonschema:"exclusiveMinimum=0"`
	// Per is the window for Requests (default 1s).
	Per Duration `yaml:"per,omitempty" json:"per,omitempty" jsonschema_description:"Window for requests. Default 1s."`
	// Burst is the bucket size (default: Requests rounded up).
	Burst int `yaml:"burst,omitempty" json:"burst,omitempty" jsonschema_description:"Bucket size: requests allowed at once. Default: requests rounded up." jsonschema:"minimum=1"`
	// Key: ip (default), sub (JWT subject), header:NAME (e.g. header:X-API-Key), or global.
	Key string `yaml:"key,omitempty" json:"key,omitempty" jsonschema_description:"What gets its own bucket: ip (default), sub (the token's subject), header:NAME, or global." jsonschema:"pattern=^(ip|sub|global|header:[!#$%&'*+.^_|~0-9A-Za-z-]+)$"`
}

// CORS policy.
type CORS struct {
	Origins     []string `yaml:"origins" json:"origins" jsonschema_description:"Allowed origins such as http://localhost:3000, or * for any."`
	Methods     []string `yaml:"methods,omitempty" json:"methods,omitempty" jsonschema_description:"Allowed methods (GET, POST, ...)."`
	Headers     []string `yaml:"headers,omitempty" json:"headers,omitempty" jsonschema_description:"Allowed request headers."`
	Credentials bool     `yaml:"credentials,omitempty" json:"credentials,omitempty" jsonschema_description:"Allow cookies and Authorization (not with origin *)."`
	MaxAge      Duration `yaml:"max_age,omitempty" json:"max_age,omitempty" jsonschema_description:"How long browsers may cache a preflight answer."`
}

// Route sends matching requests to a service.
type Route struct {
	// Path prefix to match, e.g. /api/users (matches /api/users and /api/users/...).
	Path    string   `yaml:"path" json:"path" jsonschema_description:"Path prefix to match, starting with /; /api/users matches /api/users and /api/users/..." jsonschema:"pattern=^/"`
	Host    string   `yaml:"host,omitempty" json:"host,omitempty" jsonschema_description:"Only requests for this host name (compared without the port)."`
	Methods []string `yaml:"methods,omitempty" json:"methods,omitempty" jsonschema_description:"Only these methods (GET, POST, ...). Default: all."`
	Service string   `yaml:"service" json:"service" jsonschema_description:"Service that answers."`
	// StripPrefix removes Path before forwarding; Rewrite replaces it with this prefix.
	StripPrefix bool   `yaml:"strip_prefix,omitempty" json:"strip_prefix,omitempty" jsonschema_description:"Remove path before forwarding (/api/users/7 reaches the service as /7)."`
	Rewrite     string `yaml:"rewrite,omitempty" json:"rewrite,omitempty" jsonschema_description:"Replace path with this prefix before forwarding (starts with /)."`
	// Auth: none (default), optional, required.
	Auth   string   `yaml:"auth,omitempty" json:"auth,omitempty" jsonschema_description:"none (default): no token check; optional: a token, when sent, must be valid; required: a valid token is needed." jsonschema:"enum=none,enum=optional,enum=required"`
	Scopes []string `yaml:"scopes,omitempty" json:"scopes,omitempty" jsonschema_description:"Scopes the token must carry, all of them (needs auth: required)."`
	// Claims the token must carry with these exact values.
	Claims    map[string]string `yaml:"claims,omitempty" json:"claims,omitempty" jsonschema_description:"Claims the token must carry with these exact values (needs auth: required)."`
	RateLimit *RateLimit        `yaml:"rate_limit,omitempty" json:"rate_limit,omitempty" jsonschema_description:"Rate limit for this route."`
	// Balance: round_robin (default) or least_conn.
	Balance string `yaml:"balance,omitempty" json:"balance,omitempty" jsonschema_description:"How requests spread over replicas: round_robin (default) or least_conn." jsonschema:"enum=round_robin,enum=least_conn"`
	// Timeout and MaxBody default to the gateway's.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty" jsonschema_description:"Upstream timeout; 0 means none. Default gateway.timeout."`
	MaxBody ByteSize `yaml:"max_body,omitempty" json:"max_body,omitempty" jsonschema_description:"Request body limit; 0 means no limit. Default gateway.max_body."`
	CORS    *CORS    `yaml:"cors,omitempty" json:"cors,omitempty" jsonschema_description:"CORS policy for this route (replaces gateway.cors)."`
	// MaxConcurrent caps in-flight requests to the upstream (0: no cap); extra ones queue briefly.
	MaxConcurrent int `yaml:"max_concurrent,omitempty" json:"max_concurrent,omitempty" jsonschema_description:"Cap on in-flight requests to the service; 0 means no cap." jsonschema:"minimum=0"`
}

// Service is one process (or several replicas) that devstack runs.
type Service struct {
	// Dir is the working directory; after Load always absolute (default: the file's directory).
	Dir string `yaml:"dir,omitempty" json:"dir,omitempty" jsonschema_description:"Working directory, relative to devstack.yaml. Default: the directory of devstack.yaml."`
	// Setup installs dependencies; it re-runs only when a SetupInputs file changes.
	Setup string `yaml:"setup,omitempty" json:"setup,omitempty" jsonschema_description:"Dependency install command such as npm ci; re-runs only when a setup_inputs file changes."`
	// SetupInputs default: the lock files present in Dir among package-lock.json, yarn.lock,
	// pnpm-lock.yaml, requirements.txt, poetry.lock and go.sum.
	SetupInputs []string `yaml:"setup_inputs,omitempty" json:"setup_inputs,omitempty" jsonschema_description:"Files (relative to dir) whose content decides whether setup re-runs. Default: the lock files present in dir among package-lock.json, yarn.lock, pnpm-lock.yaml, requirements.txt, poetry.lock, go.sum."`
	Build       string   `yaml:"build,omitempty" json:"build,omitempty" jsonschema_description:"Build command run before the first start and on every watched change (via sh -c)."`
	AlwaysBuild bool     `yaml:"always_build,omitempty" json:"always_build,omitempty" jsonschema_description:"Run build on every start; by default a start skips it when nothing the build reads changed since its last successful build."`
	Command     string   `yaml:"command" json:"command" jsonschema_description:"Command that runs the service (via sh -c)." jsonschema:"minLength=1"`
	// Env for this service; it overrides everything else.
	Env map[string]string `yaml:"env,omitempty" json:"env,omitempty" jsonschema_description:"Environment of this service (wins over everything else). A mapping or a list of KEY=VALUE."`
	// Port the service listens on; when 0 a free port is allocated and passed as PORT.
	// Replica i (0-based) gets Port+i.
	Port     int `yaml:"port,omitempty" json:"port,omitempty" jsonschema_description:"Port the service listens on, passed as PORT; replica i gets port+i. Default: a free port." jsonschema:"minimum=0,maximum=65535"`
	Replicas int `yaml:"replicas,omitempty" json:"replicas,omitempty" jsonschema_description:"Number of instances; each gets its own PORT. Default 1." jsonschema:"minimum=1"`
	// Database: YAML true means a database named after the service (with - turned into _), a string
	// names it, false or absent means none. After Load it is the name or "". DATABASE_URL is injected.
	Database  string                `yaml:"database,omitempty" json:"database,omitempty" jsonschema_description:"Own database, passed as DATABASE_URL: true for one named after the service (- becomes _), or a database name."`
	DependsOn map[string]Dependency `yaml:"depends_on,omitempty" json:"depends_on,omitempty" jsonschema_description:"Services that must be up first: a list of names (condition healthy), or a mapping of name to condition or {condition: ...}."`
	Ready     *Probe                `yaml:"ready,omitempty" json:"ready,omitempty" jsonschema_description:"Readiness probe: exactly one of http, tcp, log, exec. Default: ready once started."`
	Restart   RestartPolicy         `yaml:"restart,omitempty" json:"restart,omitempty" jsonschema_description:"Restart policy: no, on-failure or always, or a mapping with policy, max_restarts, backoff."`
	// Settle: without a ready probe, an instance counts as ready once it has run this long (default
	// 1s); 0 means as soon as it started.
	Settle Duration `yaml:"settle,omitempty" json:"settle,omitempty" jsonschema_description:"Without a ready probe, an instance counts as ready once it has stayed up this long (a crash loop never does). 0 means as soon as it started. Default 1s."`
	// Watch is nil when hot reload is off (the key is absent, or null).
	Watch *Watch `yaml:"watch,omitempty" json:"watch,omitempty" jsonschema_description:"Hot reload: true for defaults, or a mapping. Absent means no hot reload."`
	// StopGrace is how long after SIGTERM the process group is SIGKILLed (default 10s).
	StopGrace Duration `yaml:"stop_grace,omitempty" json:"stop_grace,omitempty" jsonschema_description:"Time between SIGTERM and SIGKILL to the process group. Default 10s."`
	// Disabled services are not started; dependencies on them are ignored.
	Disabled bool `yaml:"disabled,omitempty" json:"disabled,omitempty" jsonschema_description:"Do not start this service (dependencies on it are ignored)."`

	Name string `yaml:"-" json:"-"` // the key in services
	Line int    `yaml:"-" json:"-"` // where it is declared
}

// Dependency says when a dependent may start.
type Dependency struct {
	// Condition: started, healthy (default) or completed.
	Condition string `yaml:"condition,omitempty" json:"condition,omitempty" jsonschema_description:"started: once running; healthy (default): once its ready probe passes; completed: once it exited with status 0." jsonschema:"enum=started,enum=healthy,enum=completed"`
}

// Probe decides when an instance is ready. Exactly one of HTTP, TCP, Log and Exec is set.
type Probe struct {
	HTTP     string   `yaml:"http,omitempty" json:"http,omitempty" jsonschema_description:"Path on the instance's port that must answer 2xx or 3xx, e.g. /health." jsonschema:"pattern=^/"`
	TCP      bool     `yaml:"tcp,omitempty" json:"tcp,omitempty" jsonschema_description:"Ready when the instance's port accepts connections."`
	Log      string   `yaml:"log,omitempty" json:"log,omitempty" jsonschema_description:"Regular expression (Go syntax) an output line must match."`
	Exec     string   `yaml:"exec,omitempty" json:"exec,omitempty" jsonschema_description:"Command (via sh -c, in dir, with the service's env) that must exit 0."`
	Interval Duration `yaml:"interval,omitempty" json:"interval,omitempty" jsonschema_description:"Time between attempts. Default 200ms."`
	Timeout  Duration `yaml:"timeout,omitempty" json:"timeout,omitempty" jsonschema_description:"Give up and fail the service after this long. Default 60s."`
}

// RestartPolicy says what happens when a process exits.
type RestartPolicy struct {
	// Policy: no, on-failure (default), always.
	Policy string `yaml:"policy,omitempty" json:"policy,omitempty" jsonschema_description:"no, on-failure (default: restart after a non-zero exit) or always." jsonschema:"enum=no,enum=on-failure,enum=always"`
	// MaxRestarts in a row before giving up (default 5; 0 never restarts; -1 means no limit).
	MaxRestarts int `yaml:"max_restarts,omitempty" json:"max_restarts,omitempty" jsonschema_description:"Give up after this many restarts in a row; -1 means no limit. Default 5." jsonschema:"minimum=-1"`
	// Backoff is the first delay, doubled after each restart up to 30s (default 500ms).
	Backoff Duration `yaml:"backoff,omitempty" json:"backoff,omitempty" jsonschema_description:"First delay before a restart, doubled each time up to 30s. Default 500ms."`
}

// Watch configures hot reload. Globs use / as separator: * and ? do not cross /, ** as a whole
// segment matches any number of directories, [abc] is a class. A glob without / matches a file's
// base name at any depth (*.go); one with / matches the path relative to the service dir.
type Watch struct {
	// Paths to watch, relative to the service dir (default: the service dir).
	Paths    []string `yaml:"paths,omitempty" json:"paths,omitempty" jsonschema_description:"Directories or files to watch, relative to dir. Default: dir."`
	Include  []string `yaml:"include,omitempty" json:"include,omitempty" jsonschema_description:"Globs of files whose change triggers a reload. Default: all files."`
	Ignore   []string `yaml:"ignore,omitempty" json:"ignore,omitempty" jsonschema_description:"Globs ignored besides the defaults (.git, node_modules, .venv, dist, __pycache__, the build output)."`
	Debounce Duration `yaml:"debounce,omitempty" json:"debounce,omitempty" jsonschema_description:"Quiet period after the last change before reloading. Default 50ms."`
	Disabled bool     `yaml:"disabled,omitempty" json:"disabled,omitempty" jsonschema_description:"Turn hot reload off (same as watch: false)."`
	// Warm keeps one standby process (Node or Python) that has loaded the dependencies ahead of the next
	// reload; off by default.
	Warm bool `yaml:"warm,omitempty" json:"warm,omitempty" jsonschema_description:"Keep one standby process (Node via NODE_OPTIONS --require, Python via sitecustomize) that has loaded the dependencies and waits; a reload tells it to go once built, so only the app's own code loads. Node and Python commands only, one replica. Default false."`
}

// Logs bounds the service log files <state_dir>/logs/<service>.log. When a file reaches max_size it
// becomes <service>.log.1 (older ones shift to .2 …); what falls beyond max_files is deleted, and a
// line in the new file says how many lines and bytes were deleted and when they were written.
type Logs struct {
	// MaxSize: 0 means no limit (one file that grows).
	MaxSize ByteSize `yaml:"max_size,omitempty" json:"max_size,omitempty" jsonschema_description:"Rotate a service's log file at this size; 0 means never. Default 10MiB."`
	// MaxFiles: rotated files kept per service; 0 keeps none (the file starts over).
	MaxFiles int `yaml:"max_files,omitempty" json:"max_files,omitempty" jsonschema_description:"Rotated files kept per service (<service>.log.1 is the newest); older output is deleted, with a line saying how much. 0 keeps none. Default 5." jsonschema:"minimum=0,maximum=1000"`
}

// Test is a command `devstack test` runs once the stack is ready.
type Test struct {
	// Name defaults to the command.
	Name    string            `yaml:"name,omitempty" json:"name,omitempty" jsonschema_description:"Name in the output and the JUnit report. Default: the command."`
	Command string            `yaml:"command" json:"command" jsonschema_description:"Command to run (via sh -c) with the stack's environment." jsonschema:"minLength=1"`
	Dir     string            `yaml:"dir,omitempty" json:"dir,omitempty" jsonschema_description:"Working directory, relative to devstack.yaml. Default: the directory of devstack.yaml."`
	Env     map[string]string `yaml:"env,omitempty" json:"env,omitempty" jsonschema_description:"Extra environment. A mapping or a list of KEY=VALUE."`
	Timeout Duration          `yaml:"timeout,omitempty" json:"timeout,omitempty" jsonschema_description:"Fail the test after this long; 0 means no limit. Default 10m."`
}
