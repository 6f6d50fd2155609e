package proxy

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

type keys struct {
	rsa     *rsa.PrivateKey
	rsaPEM  []byte // public key PEM
	ed      ed25519.PrivateKey
	hmac    []byte
	rsaFile string
	edFile  string
}

func makeKeys(t *testing.T) keys {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	edDer, _ := x509.MarshalPKIXPublicKey(edPub)
	dir := t.TempDir()
	k := keys{rsa: rk, rsaPEM: pemBytes, ed: edPriv, hmac: []byte("a-shared-secret-of-32-bytes-long!"),
		rsaFile: filepath.Join(dir, "rsa.pem"), edFile: filepath.Join(dir, "ed.pem")}
	os.WriteFile(k.rsaFile, pemBytes, 0o600)
	os.WriteFile(k.edFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: edDer}), 0o600)
	return k
}

func sign(t *testing.T, m jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func claims(mod func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"iss": "devstack", "aud": "devstack", "sub": "alice", "scope": "orders:read orders:write",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if mod != nil {
		mod(c)
	}
	return c
}

func TestTokenSecurity(t *testing.T) {
	k := makeKeys(t)
	u := upstream(t, "orders")
	state := t.TempDir()
	gw := startGateway(t, Config{StateDir: state, Auth: Auth{Keys: []Key{
		{ID: "rsa1", Algorithms: []string{"RS256"}, PEMFile: k.rsaFile},
		{ID: "hs1", Algorithms: []string{"HS256"}, Secret: string(k.hmac)},
		{ID: "ed1", Algorithms: []string{"EdDSA"}, PEMFile: k.edFile},
	}}, Routes: []Route{
		{Path: "/secure", Service: "orders", Auth: "required", Scopes: []string{"orders:read"}},
		{Path: "/admin", Service: "orders", Auth: "required", Claims: map[string]string{"role": "admin"}},
		{Path: "/opt", Service: "orders", Auth: "optional"},
	}}, nil)
	gw.SetUpstreams("orders", []Upstream{{ID: "o", Addr: hostOf(u), Ready: true}})

	devTok, err := IssueToken(state, "devstack", "devstack", "alice", []string{"orders:read", "orders:write"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "rsa1", claims(nil))
	confused := sign(t, jwt.SigningMethodHS256, k.rsaPEM, "rsa1", claims(nil))
	confusedDER := sign(t, jwt.SigningMethodHS256, x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey), "rsa1", claims(nil))
	good := sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1", claims(nil))

	type tc struct {
		name, path, token string
		extraHdr          map[string]string
		query             string
		status            int
		wwwAuth           string // substring of WWW-Authenticate
		sub, scopes       string // forwarded on success
	}
	tests := []tc{
		{name: "dev issuer token", path: "/secure", token: devTok, status: 200, sub: "alice", scopes: "orders:read orders:write"},
		{name: "RS256 from PEM", path: "/secure", token: good, status: 200, sub: "alice", scopes: "orders:read orders:write"},
		{name: "HS256 secret", path: "/secure", token: sign(t, jwt.SigningMethodHS256, k.hmac, "hs1", claims(nil)), status: 200, sub: "alice"},
		{name: "EdDSA", path: "/secure", token: sign(t, jwt.SigningMethodEdDSA, k.ed, "ed1", claims(nil)), status: 200, sub: "alice"},
		{name: "scp array", path: "/secure", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1", claims(func(c jwt.MapClaims) { delete(c, "scope"); c["scp"] = []string{"orders:read"} })), status: 200, scopes: "orders:read"},
		{name: "scopes array", path: "/secure", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1", claims(func(c jwt.MapClaims) { delete(c, "scope"); c["scopes"] = []string{"orders:read", "x"} })), status: 200, scopes: "orders:read x"},
		{name: "aud array containing ours", path: "/secure", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1", claims(func(c jwt.MapClaims) { c["aud"] = []string{"other", "devstack"} })), status: 200},
		{name: "alg none", path: "/secure", token: none, status: 401, wwwAuth: `error="invalid_token"`},
		{name: "HS256 signed with the RSA public key PEM", path: "/secure", token: confused, status: 401, wwwAuth: `error="invalid_token"`},
		{name: "HS256 signed with the RSA public key DER", path: "/secure", token: confusedDER, status: 401, wwwAuth: `error="invalid_token"`},
		{name: "HS256 with the RSA key's kid but the HMAC secret", path: "/secure", token: sign(t, jwt.SigningMethodHS256, k.hmac, "rsa1", claims(nil)), status: 401, wwwAuth: `error="invalid_token"`},
		{name: "expired", path: "/secure", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1", claims(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() })), status: 401, wwwAuth: "expired"},
		{name: "no exp", path: "/secure", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1", claims(func(c jwt.MapClaims) { delete(c, "exp") })), status: 401, wwwAuth: `error="invalid_token"`},
		{name: "nbf in the future", path: "/secure", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1", claims(func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(10 * time.Minute).Unix() })), status: 401, wwwAuth: "not valid yet"},
		{name: "iat in the future", path: "/secure", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1", claims(func(c jwt.MapClaims) { c["iat"] = time.Now().Add(10 * time.Minute).Unix() })), status: 401, wwwAuth: `error="invalid_token"`},
		{name: "wrong iss", path: "/secure", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1", claims(func(c jwt.MapClaims) { c["iss"] = "evil" })), status: 401, wwwAuth: "issuer"},
		{name: "wrong aud", path: "/secure", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1", claims(func(c jwt.MapClaims) { c["aud"] = "other" })), status: 401, wwwAuth: "audience"},
		{name: "bad signature (other key, same kid)", path: "/secure", token: sign(t, jwt.SigningMethodRS256, otherRSA, "rsa1", claims(nil)), status: 401, wwwAuth: "signature"},
		{name: "payload swapped", path: "/secure", token: swapPayload(good, claims(func(c jwt.MapClaims) { c["sub"] = "mallory" })), status: 401, wwwAuth: "signature"},
		{name: "header injection in sub", path: "/secure", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1", claims(func(c jwt.MapClaims) { c["sub"] = "alice\r\nX-Admin: 1" })), status: 401, wwwAuth: "control characters"},
		{name: "kid with quotes", path: "/secure", token: sign(t, jwt.SigningMethodRS256, k.rsa, "a\"b\\", claims(nil)), status: 401, wwwAuth: `error_description="no key for kid 'a''b''' and alg RS256"`},
		{name: "unknown kid", path: "/secure", token: sign(t, jwt.SigningMethodRS256, k.rsa, "nope", claims(nil)), status: 401, wwwAuth: `error="invalid_token"`},
		{name: "truncated", path: "/secure", token: good[:len(good)/2], status: 401, wwwAuth: `error="invalid_token"`},
		{name: "garbage", path: "/secure", token: "not-a-jwt", status: 401, wwwAuth: `error="invalid_token"`},
		{name: "three garbage parts", path: "/secure", token: "a.b.c", status: 401, wwwAuth: `error="invalid_token"`},
		{name: "missing token", path: "/secure", status: 401, wwwAuth: `Bearer realm="devstack"`},
		{name: "basic scheme", path: "/secure", extraHdr: map[string]string{"Authorization": "Basic YTpi"}, status: 401, wwwAuth: `error="invalid_request"`},
		{name: "token in header and query", path: "/secure", token: good, query: "access_token=" + good, status: 400, wwwAuth: `error="invalid_request"`},
		{name: "token only in query", path: "/secure", query: "access_token=" + good, status: 400, wwwAuth: `error="invalid_request"`},
		{name: "missing scope", path: "/secure", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1", claims(func(c jwt.MapClaims) { c["scope"] = "orders:write" })), status: 403, wwwAuth: `error="insufficient_scope", scope="orders:read"`},
		{name: "claim mismatch", path: "/admin", token: good, status: 403, wwwAuth: `error="insufficient_scope"`},
		{name: "claim match", path: "/admin", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1", claims(func(c jwt.MapClaims) { c["role"] = "admin" })), status: 200, sub: "alice"},
		{name: "optional without token", path: "/opt", status: 200},
		{name: "optional with token", path: "/opt", token: good, status: 200, sub: "alice"},
		{name: "optional with a bad token", path: "/opt", token: none, status: 401, wwwAuth: `error="invalid_token"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{"X-Auth-Subject": "forged"}
			if tc.token != "" {
				hdr["Authorization"] = "Bearer " + tc.token
			}
			for k, v := range tc.extraHdr {
				hdr[k] = v
			}
			url := gw.base + tc.path
			if tc.query != "" {
				url += "?" + tc.query
			}
			r := do(t, "GET", url, hdr, nil)
			if r.status != tc.status {
				t.Fatalf("status %d want %d: %s", r.status, tc.status, r.body)
			}
			if tc.wwwAuth != "" && !strings.Contains(r.header.Get("WWW-Authenticate"), tc.wwwAuth) {
				t.Fatalf("WWW-Authenticate %q lacks %q", r.header.Get("WWW-Authenticate"), tc.wwwAuth)
			}
			if tc.status != 200 {
				if r.echo.Name != "" {
					t.Fatal("a rejected request reached the upstream")
				}
				return
			}
			if got := r.echo.Header.Get("X-Auth-Subject"); (tc.sub != "" || tc.token == "") && got != tc.sub {
				t.Fatalf("X-Auth-Subject %q want %q", got, tc.sub)
			}
			if tc.scopes != "" && r.echo.Header.Get("X-Auth-Scopes") != tc.scopes {
				t.Fatalf("X-Auth-Scopes %q want %q", r.echo.Header.Get("X-Auth-Scopes"), tc.scopes)
			}
			if tc.token != "" && r.echo.Header.Get("Authorization") != "Bearer "+tc.token {
				t.Fatal("Authorization not forwarded unchanged")
			}
		})
	}

	t.Run("two Authorization headers", func(t *testing.T) {
		out := rawRequest(t, gw.Addr(), "GET /secure HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+good+"\r\nAuthorization: Bearer "+devTok+"\r\nConnection: close\r\n\r\n")
		if !strings.HasPrefix(out, "HTTP/1.1 400") {
			t.Fatalf("got %q", firstLine(out))
		}
	})
}

func swapPayload(tok string, c jwt.MapClaims) string {
	parts := strings.Split(tok, ".")
	b, _ := json.Marshal(c)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// TestTokenCacheHonoursExpiry: a token accepted (and cached) earlier is rejected once the
// injected clock passes exp + leeway, and one not yet valid is accepted once nbf is reached.
func TestTokenCacheHonoursExpiry(t *testing.T) {
	clk := newClock()
	k := makeKeys(t)
	u := upstream(t, "s")
	gw := startGateway(t, Config{Auth: Auth{Leeway: 5 * time.Second, Keys: []Key{{Algorithms: []string{"HS256"}, Secret: string(k.hmac)}}},
		Routes: []Route{{Path: "/", Service: "s", Auth: "required"}}}, clk.Now)
	gw.SetUpstreams("s", []Upstream{{ID: "s", Addr: hostOf(u), Ready: true}})
	now := clk.Now()
	short := sign(t, jwt.SigningMethodHS256, k.hmac, "", jwt.MapClaims{"iss": "devstack", "aud": "devstack", "sub": "a",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	later := sign(t, jwt.SigningMethodHS256, k.hmac, "", jwt.MapClaims{"iss": "devstack", "aud": "devstack", "sub": "b",
		"nbf": now.Add(2 * time.Minute).Unix(), "exp": now.Add(time.Hour).Unix()})
	get := func(tok string) int {
		return do(t, "GET", gw.base+"/x", map[string]string{"Authorization": "Bearer " + tok}, nil).status
	}
	steps := []struct {
		advance     time.Duration
		short, late int
	}{
		{0, 200, 401},
		{50 * time.Second, 200, 401},
		{14 * time.Second, 200, 401}, // 64s: exp passed, within 5s leeway
		{2 * time.Second, 401, 401},  // 66s: beyond leeway; the cache must not keep accepting it
		{50 * time.Second, 401, 200}, // 116s: nbf (120s) minus leeway reached
		{time.Hour, 401, 401},        // both expired
	}
	for i, s := range steps {
		clk.Add(s.advance)
		if got := get(short); got != s.short {
			t.Fatalf("step %d: short-lived token: %d want %d", i, got, s.short)
		}
		if got := get(later); got != s.late {
			t.Fatalf("step %d: not-before token: %d want %d", i, got, s.late)
		}
	}
}

// jwksServer serves a JWKS whose keys can be changed, counting fetches.
type jwksServer struct {
	mu   sync.Mutex
	keys []map[string]string
	hits atomic.Int64
	srv  *httptest.Server
}

func newJWKSServer(t *testing.T) *jwksServer {
	j := &jwksServer{}
	j.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.hits.Add(1)
		j.mu.Lock()
		defer j.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": j.keys})
	}))
	t.Cleanup(j.srv.Close)
	return j
}

func (j *jwksServer) add(kid string, pub *rsa.PublicKey) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.keys = append(j.keys, map[string]string{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())})
}

func TestJWKSRefreshOnUnknownKid(t *testing.T) {
	clk := newClock()
	j := newJWKSServer(t)
	k1, _ := rsa.GenerateKey(rand.Reader, 2048)
	k2, _ := rsa.GenerateKey(rand.Reader, 2048)
	j.add("k1", &k1.PublicKey)
	u := upstream(t, "s")
	gw := startGateway(t, Config{Auth: Auth{Keys: []Key{{JWKSURL: j.srv.URL, Algorithms: []string{"RS256"}}}},
		Routes: []Route{{Path: "/", Service: "s", Auth: "required"}}}, clk.Now)
	gw.SetUpstreams("s", []Upstream{{ID: "s", Addr: hostOf(u), Ready: true}})
	claimsNow := func() jwt.MapClaims {
		n := clk.Now()
		return jwt.MapClaims{"iss": "devstack", "aud": "devstack", "sub": "x", "iat": n.Unix(), "exp": n.Add(time.Hour).Unix()}
	}
	get := func(tok string) int {
		return do(t, "GET", gw.base+"/", map[string]string{"Authorization": "Bearer " + tok}, nil).status
	}

	if s := get(sign(t, jwt.SigningMethodRS256, k1, "k1", claimsNow())); s != 200 {
		t.Fatalf("k1: %d", s)
	}
	if j.hits.Load() != 1 {
		t.Fatalf("fetches after first token: %d", j.hits.Load())
	}
	tok2 := sign(t, jwt.SigningMethodRS256, k2, "k2", claimsNow())
	j.add("k2", &k2.PublicKey) // rotated in, but fetched < 10s ago: no refresh yet
	if s := get(tok2); s != 401 {
		t.Fatalf("k2 before refresh allowed: %d", s)
	}
	for i := 0; i < 5; i++ {
		get(sign(t, jwt.SigningMethodRS256, k2, "unknown-kid", claimsNow()))
	}
	if j.hits.Load() != 1 {
		t.Fatalf("refresh is not rate limited: %d fetches", j.hits.Load())
	}
	clk.Add(11 * time.Second)
	if s := get(tok2); s != 200 {
		t.Fatalf("k2 after refresh: %d", s)
	}
	if j.hits.Load() != 2 {
		t.Fatalf("fetches: %d want 2", j.hits.Load())
	}
	// a symmetric key in JWKS is never used, and HS256 never verifies against JWKS keys
	if s := get(sign(t, jwt.SigningMethodHS256, []byte("x"), "k1", claimsNow())); s != 401 {
		t.Fatalf("HS256 against JWKS: %d", s)
	}
}

func TestDevIssuer(t *testing.T) {
	u := upstream(t, "s")
	gw := startGateway(t, Config{Auth: Auth{DevIssuer: DevIssuer{
		Clients: []OAuthClient{{ID: "web", Secret: "s3cret", Scopes: []string{"orders:read", "orders:write"}}},
		Users:   []OAuthUser{{Username: "alice", Password: "pw", Scopes: []string{"orders:read"}}},
	}}, Routes: []Route{{Path: "/", Service: "s", Auth: "required"}}}, nil)
	gw.SetUpstreams("s", []Upstream{{ID: "s", Addr: hostOf(u), Ready: true}})

	tests := []struct {
		name   string
		form   url.Values
		basic  [2]string
		status int
		errStr string
		sub    string
		scope  string
	}{
		{"client_credentials basic", url.Values{"grant_type": {"client_credentials"}}, [2]string{"web", "s3cret"}, 200, "", "web", "orders:read orders:write"},
		{"client_credentials form", url.Values{"grant_type": {"client_credentials"}, "client_id": {"web"}, "client_secret": {"s3cret"}}, [2]string{}, 200, "", "web", "orders:read orders:write"},
		{"scope narrows", url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:read"}}, [2]string{"web", "s3cret"}, 200, "", "web", "orders:read"},
		{"scope not allowed", url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}, [2]string{"web", "s3cret"}, 400, "invalid_scope", "", ""},
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}}, [2]string{"web", "nope"}, 401, "invalid_client", "", ""},
		{"no client", url.Values{"grant_type": {"client_credentials"}}, [2]string{}, 401, "invalid_client", "", ""},
		{"password", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"pw"}}, [2]string{}, 200, "", "alice", "orders:read"},
		{"wrong password", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"x"}}, [2]string{}, 400, "invalid_grant", "", ""},
		{"unsupported grant", url.Values{"grant_type": {"authorization_code"}}, [2]string{}, 400, "unsupported_grant_type", "", ""},
		{"no grant", url.Values{}, [2]string{}, 400, "invalid_request", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", gw.base+"/oauth/token", strings.NewReader(tc.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.basic[0] != "" {
				req.SetBasicAuth(tc.basic[0], tc.basic[1])
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(res.Body).Decode(&body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d want %d: %v", res.StatusCode, tc.status, body)
			}
			if tc.status != 200 {
				if body["error"] != tc.errStr {
					t.Fatalf("error %v want %s", body["error"], tc.errStr)
				}
				return
			}
			if body["token_type"] != "Bearer" || body["scope"] != tc.scope || res.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("token response: %v %v", body, res.Header)
			}
			r := do(t, "GET", gw.base+"/x", map[string]string{"Authorization": "Bearer " + body["access_token"].(string)}, nil)
			if r.status != 200 || r.echo.Header.Get("X-Auth-Subject") != tc.sub || r.echo.Header.Get("X-Auth-Scopes") != tc.scope {
				t.Fatalf("using the token: %d %v", r.status, r.echo.Header)
			}
		})
	}
	t.Run("GET token endpoint", func(t *testing.T) {
		if r := do(t, "GET", gw.base+"/oauth/token", nil, nil); r.status != 405 {
			t.Fatalf("%d", r.status)
		}
	})
	t.Run("discovery and jwks", func(t *testing.T) {
		r := do(t, "GET", gw.base+"/.well-known/openid-configuration", nil, nil)
		var doc map[string]any
		_ = json.Unmarshal(r.body, &doc)
		if doc["token_endpoint"] != gw.base+"/oauth/token" || doc["jwks_uri"] != gw.base+"/.well-known/jwks.json" || doc["issuer"] != "devstack" {
			t.Fatalf("discovery: %s", r.body)
		}
		r = do(t, "GET", gw.base+"/.well-known/jwks.json", nil, nil)
		var set struct {
			Keys []map[string]string `json:"keys"`
		}
		_ = json.Unmarshal(r.body, &set)
		if len(set.Keys) != 1 || set.Keys[0]["kid"] != gw.dev.kid || set.Keys[0]["alg"] != "ES256" || set.Keys[0]["d"] != "" {
			t.Fatalf("jwks: %s", r.body)
		}
		// the published key verifies an issued token
		pub, err := parseJWK(map[string]any{"kty": "EC", "crv": set.Keys[0]["crv"], "x": set.Keys[0]["x"], "y": set.Keys[0]["y"]})
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := gw.dev.sign(time.Now(), "devstack", "devstack", "z", nil, time.Minute, nil)
		if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return pub, nil }, jwt.WithValidMethods([]string{"ES256"})); err != nil {
			t.Fatal(err)
		}
		_ = pub.(*ecdsa.PublicKey).Curve == elliptic.P256()
	})
}

func TestIssuerKeyPersists(t *testing.T) {
	dir := t.TempDir()
	a, err := loadOrCreateIssuerKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadOrCreateIssuerKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.kid != b.kid || !a.priv.Equal(b.priv) {
		t.Fatal("issuer key was not kept")
	}
	st, err := os.Stat(filepath.Join(dir, "gateway", issuerKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	// IssueToken uses the same key, and a gateway on that state dir accepts its tokens
	tok, err := IssueToken(dir, "devstack", "devstack", "bob", nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	parsed, _ := jwt.Parse(tok, nil)
	if parsed == nil || parsed.Header["kid"] != a.kid {
		t.Fatalf("kid: %v", parsed)
	}
}

// TestIssuerKeyCreateRace: a key written by another process first wins; ours is not written over it.
func TestIssuerKeyCreateRace(t *testing.T) {
	dir := t.TempDir()
	first, err := loadOrCreateIssuerKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err := writeECKeyExclusive(filepath.Join(dir, "gateway", issuerKeyFile), other); !errors.Is(err, os.ErrExist) {
		t.Fatalf("exclusive write over an existing key: %v", err)
	}
	again, _ := loadOrCreateIssuerKey(dir)
	if again.kid != first.kid {
		t.Fatal("existing key replaced")
	}
}

// IssueToken signs what it is given: no silent issuer, audience or lifetime.
func TestIssueTokenTakesValuesAsGiven(t *testing.T) {
	dir := t.TempDir()
	if _, err := IssueToken(dir, "devstack", "devstack", "bob", nil, 0); err == nil || !strings.Contains(err.Error(), "lifetime must be positive") {
		t.Errorf("ttl 0: %v, want an error", err)
	}
	tok, err := IssueToken(dir, "shop-issuer", "", "bob", nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims["iss"] != "shop-issuer" || claims["aud"] != "" {
		t.Errorf("claims %v, want iss shop-issuer and an empty aud", claims)
	}
}
