package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

func ephemeralIssuerKey() (*issuerKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("dev issuer: generate key: %w", err)
	}
	return &issuerKey{priv: priv, kid: jwkThumbprint(&priv.PublicKey)}, nil
}

// serveReserved serves the gateway's own endpoints. It returns false when p is not one of them.
func (c *chain) serveReserved(w http.ResponseWriter, r *http.Request, p string, lg *reqLog) bool {
	switch {
	case p == "/__devstack/metrics":
		lg.status = http.StatusOK
		c.g.metrics.ServeHTTP(w, r)
	case p == "/__devstack/health":
		lg.status = http.StatusOK
		w.Header()["Content-Type"] = []string{"application/json"}
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	case c.dev == nil:
		return false
	case p == "/oauth/token":
		lg.status = c.tokenEndpoint(w, r, lg)
	case p == "/.well-known/jwks.json":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			lg.status = writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
			return true
		}
		w.Header()["Content-Type"] = []string{"application/json"}
		w.Header()["Cache-Control"] = []string{"public, max-age=300"}
		lg.status = http.StatusOK
		_, _ = w.Write(c.dev.jwks())
	case p == "/.well-known/openid-configuration" || p == "/.well-known/oauth-authorization-server":
		base := "http://" + r.Host
		if r.TLS != nil {
			base = "https://" + r.Host
		}
		doc := map[string]any{
			"issuer":                                c.cfg.Auth.Issuer,
			"token_endpoint":                        base + "/oauth/token",
			"jwks_uri":                              base + "/.well-known/jwks.json",
			"grant_types_supported":                 []string{"client_credentials", "password"},
			"response_types_supported":              []string{"token"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
			"id_token_signing_alg_values_supported": []string{"ES256"},
			"subject_types_supported":               []string{"public"},
			"scopes_supported":                      c.allScopes(),
			"claims_supported":                      []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "client_id"},
		}
		w.Header()["Content-Type"] = []string{"application/json"}
		lg.status = http.StatusOK
		_ = json.NewEncoder(w).Encode(doc)
	default:
		return false
	}
	return true
}

func (c *chain) allScopes() []string {
	var all []string
	for _, cl := range c.cfg.Auth.DevIssuer.Clients {
		all = append(all, cl.Scopes...)
	}
	for _, u := range c.cfg.Auth.DevIssuer.Users {
		all = append(all, u.Scopes...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// oauthError writes an RFC 6749 section 5.2 error.
func oauthError(w http.ResponseWriter, status int, code, desc string) int {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Cache-Control"] = []string{"no-store"}
	h["Pragma"] = []string{"no-cache"}
	if status == http.StatusUnauthorized {
		h["Www-Authenticate"] = []string{`Basic realm="devstack"`}
	}
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"error": code, "error_description": desc})
	_, _ = w.Write(append(b, '\n'))
	return status
}

func secretEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// tokenEndpoint implements POST /oauth/token for client_credentials and password grants.
func (c *chain) tokenEndpoint(w http.ResponseWriter, r *http.Request, lg *reqLog) int {
	if r.Method != http.MethodPost {
		w.Header()["Allow"] = []string{"POST"}
		return oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST with an application/x-www-form-urlencoded body")
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return oauthError(w, http.StatusBadRequest, "invalid_request", "cannot parse the form body: "+err.Error())
	}
	form := r.PostForm
	for k, v := range form {
		if len(v) > 1 {
			return oauthError(w, http.StatusBadRequest, "invalid_request", "parameter "+k+" is repeated")
		}
	}
	// client authentication: HTTP Basic (RFC 6749 2.3.1, form-encoded id and secret) or form fields
	clientID, clientSecret, basic := r.BasicAuth()
	if basic {
		if form.Get("client_secret") != "" {
			return oauthError(w, http.StatusBadRequest, "invalid_request", "use one client authentication method, not Basic and client_secret together")
		}
		if id, err := url.QueryUnescape(clientID); err == nil {
			clientID = id
		}
		if s, err := url.QueryUnescape(clientSecret); err == nil {
			clientSecret = s
		}
	} else {
		clientID, clientSecret = form.Get("client_id"), form.Get("client_secret")
	}
	// failed authentications are throttled per client / user (per address for unknown ids)
	ip := clientIP(r)
	var clientKey, userKey string
	if clientID != "" {
		clientKey = "addr:" + ip
		if slices.ContainsFunc(c.cfg.Auth.DevIssuer.Clients, func(cl OAuthClient) bool { return cl.ID == clientID }) {
			clientKey = "client:" + clientID
		}
	}
	if form.Get("grant_type") == "password" {
		user := form.Get("username")
		userKey = "addr:" + ip
		if user != "" && slices.ContainsFunc(c.cfg.Auth.DevIssuer.Users, func(u OAuthUser) bool { return u.Username == user }) {
			userKey = "user:" + user
		}
	}
	for _, k := range [...]string{clientKey, userKey} {
		if k == "" {
			continue
		}
		if d := c.g.tokenFails.retryAfter(k); d > 0 {
			lg.auth = "throttled"
			w.Header()["Retry-After"] = []string{retryAfterSeconds(d)}
			what := map[string]string{"client": "client", "user": "user", "addr": "address (unknown ids)"}[strings.SplitN(k, ":", 2)[0]]
			return oauthError(w, http.StatusTooManyRequests, "rate_limited", fmt.Sprintf(
				"too many failed logins for this %s: at most %d per %s; retry after the number of seconds in Retry-After",
				what, tokenFailBurst, tokenFailWindow))
		}
	}
	var client *OAuthClient
	if clientID != "" {
		for i := range c.cfg.Auth.DevIssuer.Clients {
			cl := &c.cfg.Auth.DevIssuer.Clients[i]
			if cl.ID == clientID && secretEqual(cl.Secret, clientSecret) {
				client = cl
			}
		}
		if client == nil {
			c.g.tokenFails.fail(clientKey)
			lg.auth = "invalid_client"
			return oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret (clients are in devstack.yaml under gateway.auth.dev_issuer.clients)")
		}
	}
	var sub string
	var allowed []string
	extra := map[string]any{}
	switch gt := form.Get("grant_type"); gt {
	case "client_credentials":
		if client == nil {
			lg.auth = "invalid_client"
			return oauthError(w, http.StatusUnauthorized, "invalid_client", "client_credentials needs client authentication (HTTP Basic or client_id/client_secret)")
		}
		sub, allowed = client.ID, client.Scopes
		extra["client_id"] = client.ID
	case "password":
		user, pass := form.Get("username"), form.Get("password")
		var found *OAuthUser
		for i := range c.cfg.Auth.DevIssuer.Users {
			u := &c.cfg.Auth.DevIssuer.Users[i]
			if u.Username == user && secretEqual(u.Password, pass) {
				found = u
			}
		}
		if user == "" || found == nil {
			c.g.tokenFails.fail(userKey)
			lg.auth = "invalid_grant"
			return oauthError(w, http.StatusBadRequest, "invalid_grant", "wrong username or password (users are in devstack.yaml under gateway.auth.dev_issuer.users)")
		}
		sub, allowed = found.Username, found.Scopes
		if client != nil {
			extra["client_id"] = client.ID
		}
	case "":
		return oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required (client_credentials or password)")
	default:
		return oauthError(w, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q is not supported; use client_credentials or password", gt))
	}
	scopes := allowed
	if s, ok := form["scope"]; ok {
		scopes = strings.Fields(s[0])
		for _, sc := range scopes {
			if !slices.Contains(allowed, sc) {
				return oauthError(w, http.StatusBadRequest, "invalid_scope", fmt.Sprintf("scope %q is not allowed for %s (allowed: %s)", sc, sub, strings.Join(allowed, " ")))
			}
		}
	}
	ttl := c.cfg.Auth.DevIssuer.TokenTTL
	tok, err := c.dev.sign(c.g.now(), c.cfg.Auth.Issuer, c.cfg.Auth.Audience, sub, scopes, ttl, extra)
	if err != nil {
		return oauthError(w, http.StatusInternalServerError, "server_error", err.Error())
	}
	lg.subject, lg.auth = sub, "issued"
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Cache-Control"] = []string{"no-store"}
	h["Pragma"] = []string{"no-cache"}
	resp := map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int64(ttl / time.Second)}
	if len(scopes) > 0 {
		resp["scope"] = strings.Join(scopes, " ")
	}
	b, _ := json.Marshal(resp)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(b, '\n'))
	return http.StatusOK
}

// corsPolicy is a compiled CORS config.
type corsPolicy struct {
	any     bool
	origins map[string]bool
	methods string
	headers string
	creds   bool
	maxAge  string
}

func newCORS(c *CORS) *corsPolicy {
	if c == nil {
		return nil
	}
	p := &corsPolicy{origins: map[string]bool{}, creds: c.Credentials}
	for _, o := range c.Origins {
		if o == "*" {
			p.any = true
		}
		p.origins[strings.TrimSuffix(o, "/")] = true
	}
	p.methods = strings.Join(c.Methods, ", ")
	if p.methods == "" {
		p.methods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
	}
	p.headers = strings.Join(c.Headers, ", ")
	if c.MaxAge > 0 {
		p.maxAge = strconv.Itoa(int(c.MaxAge / time.Second))
	}
	return p
}

func (p *corsPolicy) allowed(origin string) bool { return p.any || p.origins[origin] }

func (p *corsPolicy) allowOrigin(h http.Header, origin string) {
	if p.any && !p.creds {
		h["Access-Control-Allow-Origin"] = []string{"*"}
	} else {
		h["Access-Control-Allow-Origin"] = []string{origin}
		h["Vary"] = append(h["Vary"], "Origin")
	}
	if p.creds {
		h["Access-Control-Allow-Credentials"] = []string{"true"}
	}
}

func (p *corsPolicy) actual(h http.Header, origin string) {
	if !p.allowed(origin) {
		return
	}
	p.allowOrigin(h, origin)
	h["Access-Control-Expose-Headers"] = []string{"X-Request-Id, RateLimit, RateLimit-Policy, Retry-After"}
}

func (p *corsPolicy) preflight(w http.ResponseWriter, r *http.Request, origin string) int {
	if !p.allowed(origin) {
		return writeError(w, http.StatusForbidden, "cors_forbidden", "origin "+origin+" is not allowed (gateway cors.origins)")
	}
	h := w.Header()
	p.allowOrigin(h, origin)
	h["Access-Control-Allow-Methods"] = []string{p.methods}
	if p.headers != "" {
		h["Access-Control-Allow-Headers"] = []string{p.headers}
	} else if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h["Access-Control-Allow-Headers"] = []string{req}
	}
	if p.maxAge != "" {
		h["Access-Control-Max-Age"] = []string{p.maxAge}
	}
	w.WriteHeader(http.StatusNoContent)
	return http.StatusNoContent
}
