// Package proxy is devstack's API gateway: routing, load balancing, JWT auth, the dev OAuth2 issuer,
// rate limiting, TLS with a local CA, access logs, metrics and a server span per request (W3C trace context).
package proxy

import (
	"github.com/prometheus/client_golang/prometheus"

	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strings"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// Config is the gateway's configuration (the stack translates devstack.yaml's gateway section into it,
// and internal/config owns every default). New and Reload take each value as given: a zero means what
// the field's doc says, never a default.
type Config struct {
	Host      string // listen address (an IP or localhost), required
	HTTPPort  int    // 0 picks a free port
	HTTPSPort int    // -1 disables HTTPS; 0 picks a free port
	// StateDir is the stack's state directory; the CA, certificate and issuer key live in StateDir/gateway.
	StateDir    string
	TLSHosts    []string // names/IPs the certificate covers besides localhost, 127.0.0.1 and ::1
	Routes      []Route
	Auth        Auth
	GlobalLimit *RateLimit // stack-wide limit, applied before per-route limits
	// WaitReady is how long a request waits for a ready instance before 503; 0 answers 503 at once.
	WaitReady time.Duration
	CORS      *CORS // default CORS policy for routes without their own
	// HeaderTimeout bounds reading request headers (slowloris), and each wait for more of a request
	// body; required (> 0).
	HeaderTimeout time.Duration
	// SendTimeout bounds each write of a response to a client (a client that stops reading is cut,
	// as with nginx's send_timeout); required (> 0).
	SendTimeout time.Duration
	// UpstreamConnLifetime bounds how long a kept-alive connection to an upstream is reused after it
	// was opened (a service restarted in place keeps answering with old code on connections it
	// already had); 0 means no limit.
	UpstreamConnLifetime time.Duration
}

// Route sends matching requests to a service.
type Route struct {
	Path          string   // prefix: matches Path and Path/...
	Host          string   // optional Host match (port ignored)
	Methods       []string // optional method allow-list
	Service       string
	StripPrefix   bool
	Rewrite       string            // replaces Path with this prefix
	Auth          string            // none ("" too), optional, required
	Scopes        []string          // all required
	Claims        map[string]string // required exact claim values
	RateLimit     *RateLimit
	Balance       string        // round_robin ("" too) or least_conn
	Timeout       time.Duration // bounds the wait for the upstream's response head; 0 means none
	MaxBody       int64         // request body limit in bytes; 0 means none
	CORS          *CORS
	MaxConcurrent int // 0: unlimited; extra requests queue briefly, then 503
}

// Auth configures token verification and the dev issuer.
type Auth struct {
	Issuer    string        // the iss tokens must carry and the dev issuer signs; "" checks none
	Audience  string        // the aud tokens must carry and the dev issuer signs; "" checks none
	Leeway    time.Duration // clock skew allowed for exp, nbf and iat; 0 allows none
	Keys      []Key
	DevIssuer DevIssuer
}

// Key verifies tokens. Exactly one of Secret, PEMFile and JWKSURL is set.
type Key struct {
	ID         string
	Algorithms []string
	Secret     string
	PEMFile    string
	JWKSURL    string
}

// DevIssuer is the built-in development OAuth2 issuer.
type DevIssuer struct {
	Disabled bool
	TokenTTL time.Duration // lifetime of issued tokens; required (> 0) unless Disabled
	Clients  []OAuthClient
	Users    []OAuthUser
}

// OAuthClient may get tokens with the client_credentials grant.
type OAuthClient struct {
	ID, Secret string
	Scopes     []string
}

// OAuthUser may get tokens with the password grant.
type OAuthUser struct {
	Username, Password string
	Scopes             []string
}

// RateLimit is a token bucket: Requests per Per, bucket size Burst.
type RateLimit struct {
	Requests float64
	Per      time.Duration // required (> 0)
	Burst    int           // bucket size, required (>= 1)
	Key      string        // ip ("" too), sub, header:NAME, global
}

// CORS policy.
type CORS struct {
	Origins     []string
	Methods     []string
	Headers     []string
	Credentials bool
	MaxAge      time.Duration
}

// Upstream is one instance of a service, as reported by the supervisor.
type Upstream struct {
	ID    string
	Addr  string // 127.0.0.1:port
	Ready bool
}

// Options are the gateway's collaborators.
type Options struct {
	Bus    *event.Bus
	Logs   *event.Logs
	Logger *slog.Logger
	Now    func() time.Time // injectable clock for token and rate-limit checks
	// NetHTTPOnly serves the plain HTTP port with net/http alone, without the event-loop fast path
	// (also: DEVSTACK_GATEWAY_NETHTTP=1).
	NetHTTPOnly bool
	// Collectors are other components' metrics, served at /__devstack/metrics next to the gateway's
	// (the stack builds them; the gateway knows nothing of what they measure).
	Collectors []prometheus.Collector
	// Spans receives a server span per request (continuing an incoming traceparent or starting a
	// trace); nil: tracing is off and the gateway neither makes spans nor sends traceparent upstream.
	Spans event.SpanSink
}

// validate collects every problem in the config.
func (c Config) validate() error {
	var errs []error
	if net.ParseIP(c.Host) == nil && c.Host != "localhost" {
		errs = append(errs, fmt.Errorf("gateway.host: %q is not an IP address", c.Host))
	}
	if c.HTTPPort < 0 || c.HTTPPort > 65535 {
		errs = append(errs, fmt.Errorf("gateway.http_port: %d out of range", c.HTTPPort))
	}
	if c.HTTPSPort < -1 || c.HTTPSPort > 65535 {
		errs = append(errs, fmt.Errorf("gateway.https_port: %d out of range (-1 disables HTTPS)", c.HTTPSPort))
	}
	if c.WaitReady < 0 {
		errs = append(errs, fmt.Errorf("gateway.wait_ready: must not be negative, got %s", c.WaitReady))
	}
	if c.HeaderTimeout <= 0 || c.SendTimeout <= 0 {
		errs = append(errs, fmt.Errorf("gateway: HeaderTimeout and SendTimeout are required (> 0), got %s and %s", c.HeaderTimeout, c.SendTimeout))
	}
	if c.Auth.Leeway < 0 {
		errs = append(errs, fmt.Errorf("gateway.auth.leeway: must not be negative, got %s", c.Auth.Leeway))
	}
	if !c.Auth.DevIssuer.Disabled && c.Auth.DevIssuer.TokenTTL <= 0 {
		errs = append(errs, fmt.Errorf("gateway.auth.dev_issuer.token_ttl: must be greater than 0, got %s", c.Auth.DevIssuer.TokenTTL))
	}
	if c.HTTPSPort != -1 && c.StateDir == "" {
		errs = append(errs, errors.New("gateway: StateDir is required for HTTPS (the CA lives there)"))
	}
	if c.GlobalLimit != nil {
		if err := c.GlobalLimit.validate(); err != nil {
			errs = append(errs, fmt.Errorf("gateway.rate_limit: %w", err))
		}
	}
	for i, k := range c.Auth.Keys {
		if err := k.validate(); err != nil {
			errs = append(errs, fmt.Errorf("gateway.auth.keys[%d]: %w", i, err))
		}
	}
	for i, r := range c.Routes {
		where := fmt.Sprintf("gateway.routes[%d] (%s)", i, r.Path)
		if !strings.HasPrefix(r.Path, "/") {
			errs = append(errs, fmt.Errorf("%s.path: must start with /", where))
		} else if cleanPath(r.Path) != r.Path && r.Path+"/" != cleanPath(r.Path)+"/" {
			errs = append(errs, fmt.Errorf("%s.path: must be a clean path (no //, . or ..)", where))
		}
		if strings.ContainsAny(r.Path, "%?#") {
			errs = append(errs, fmt.Errorf("%s.path: must not contain %%, ? or #", where))
		}
		if r.Service == "" {
			errs = append(errs, fmt.Errorf("%s.service: required", where))
		}
		if r.Rewrite != "" && !strings.HasPrefix(r.Rewrite, "/") {
			errs = append(errs, fmt.Errorf("%s.rewrite: must start with /", where))
		}
		if r.Rewrite != "" && r.StripPrefix {
			errs = append(errs, fmt.Errorf("%s: set strip_prefix or rewrite, not both", where))
		}
		switch r.Auth {
		case "", "none", "optional", "required":
		default:
			errs = append(errs, fmt.Errorf("%s.auth: must be one of none|optional|required, got %q", where, r.Auth))
		}
		if (len(r.Scopes) > 0 || len(r.Claims) > 0) && (r.Auth == "" || r.Auth == "none") {
			errs = append(errs, fmt.Errorf("%s: scopes/claims need auth: required or optional", where))
		}
		switch r.Balance {
		case "", "round_robin", "least_conn":
		default:
			errs = append(errs, fmt.Errorf("%s.balance: must be round_robin or least_conn, got %q", where, r.Balance))
		}
		if r.RateLimit != nil {
			if err := r.RateLimit.validate(); err != nil {
				errs = append(errs, fmt.Errorf("%s.rate_limit: %w", where, err))
			}
		}
		if r.Timeout < 0 || r.MaxBody < 0 {
			errs = append(errs, fmt.Errorf("%s: timeout and max_body must not be negative (0 means none)", where))
		}
		if r.MaxConcurrent < 0 {
			errs = append(errs, fmt.Errorf("%s.max_concurrent: must not be negative", where))
		}
	}
	return errors.Join(errs...)
}

func (r *RateLimit) validate() error {
	if r.Requests <= 0 || math.IsInf(r.Requests, 0) || math.IsNaN(r.Requests) {
		return fmt.Errorf("requests must be a positive number, got %v", r.Requests)
	}
	if r.Per <= 0 {
		return fmt.Errorf("per must be greater than 0, got %s", r.Per)
	}
	if r.Burst < 1 {
		return fmt.Errorf("burst must be at least 1, got %d", r.Burst)
	}
	switch {
	case r.Key == "", r.Key == "ip", r.Key == "sub", r.Key == "global":
	case strings.HasPrefix(r.Key, "header:") && len(r.Key) > len("header:"):
	default:
		return fmt.Errorf("key must be ip, sub, header:NAME or global, got %q", r.Key)
	}
	return nil
}

func (k Key) validate() error {
	n := 0
	for _, s := range []string{k.Secret, k.PEMFile, k.JWKSURL} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return errors.New("set exactly one of secret, pem_file and jwks_url")
	}
	if len(k.Algorithms) == 0 {
		return errors.New("algorithms: list the allowed algorithms, e.g. [RS256]")
	}
	for _, a := range k.Algorithms {
		fam := algFamily(a)
		switch {
		case fam == "":
			return fmt.Errorf("algorithms: %q is not supported (use HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512 or EdDSA)", a)
		case fam == "HS" && k.Secret == "":
			return fmt.Errorf("algorithms: %s needs a secret; a public key must never verify HMAC tokens", a)
		case fam != "HS" && k.Secret != "":
			return fmt.Errorf("algorithms: %s needs a public key (pem_file or jwks_url), not a secret", a)
		}
	}
	return nil
}

// algFamily returns HS, RS, PS, ES or EdDSA for a supported alg, "" otherwise (including none).
func algFamily(alg string) string {
	switch alg {
	case "HS256", "HS384", "HS512":
		return "HS"
	case "RS256", "RS384", "RS512":
		return "RS"
	case "PS256", "PS384", "PS512":
		return "PS"
	case "ES256", "ES384", "ES512":
		return "ES"
	case "EdDSA":
		return "EdDSA"
	}
	return ""
}
