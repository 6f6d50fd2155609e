package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/devstack-dev/devstack/internal/proxy"
)

const gatewayYAML = `name: gwtest
services:
  orders:
    command: sleep 1000
gateway:
  auth:
    audience: shop
    dev_issuer:
      token_ttl: 20m
  routes:
    - path: /api/orders
      service: orders
      auth: required
      scopes: [orders:read]
`

// gatewayFor runs a gateway on the stack's state dir (as `devstack up` would) in front of a real
// upstream that echoes the auth headers it receives.
func gatewayFor(t *testing.T, stateDir string) string {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"sub": r.Header.Get("X-Auth-Subject"), "scopes": r.Header.Get("X-Auth-Scopes")})
	}))
	t.Cleanup(up.Close)
	g, err := proxy.New(proxy.Config{Host: "127.0.0.1", HTTPSPort: -1, StateDir: stateDir, WaitReady: 30 * time.Second,
		HeaderTimeout: 10 * time.Second, SendTimeout: time.Minute,
		Auth:   proxy.Auth{Issuer: "devstack", Audience: "shop", Leeway: 30 * time.Second, DevIssuer: proxy.DevIssuer{TokenTTL: time.Hour}},
		Routes: []proxy.Route{{Path: "/api/orders", Service: "orders", Auth: "required", Scopes: []string{"orders:read"}}}}, proxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g.SetUpstreams("orders", []proxy.Upstream{{ID: "o", Addr: strings.TrimPrefix(up.URL, "http://"), Ready: true}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-g.Started()
	return g.URL()
}

func TestTokenCommand(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "devstack.yaml")
	if err := os.WriteFile(cfgPath, []byte(gatewayYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	// the key does not exist yet: `token` creates it, and a gateway started later accepts the token
	tok := strings.TrimSpace(mustCLI(t, "", "--file", cfgPath, "token", "--sub", "alice", "--scope", "orders:read orders:write"))
	if _, err := os.Stat(filepath.Join(dir, ".devstack", "gateway", "issuer-key.pem")); err != nil {
		t.Fatalf("issuer key not created: %v", err)
	}
	var claims jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &claims); err != nil {
		t.Fatalf("not a JWT: %q: %v", tok, err)
	}
	exp, _ := claims.GetExpirationTime()
	iat, _ := claims.GetIssuedAt()
	if claims["sub"] != "alice" || claims["aud"] != "shop" || claims["iss"] != "devstack" || exp.Sub(iat.Time) != 20*time.Minute {
		t.Fatalf("claims: %v", claims)
	}
	base := gatewayFor(t, filepath.Join(dir, ".devstack"))
	get := func(tok string) (int, map[string]string) {
		req, _ := http.NewRequest("GET", base+"/api/orders/1", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]string
		_ = json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	if code, m := get(tok); code != 200 || m["sub"] != "alice" || m["scopes"] != "orders:read orders:write" {
		t.Fatalf("gateway with the token: %d %v", code, m)
	}
	tests := []struct {
		name   string
		args   []string
		status int
	}{
		{"ttl flag", []string{"--sub", "bob", "--scope", "orders:read", "--ttl", "1m"}, 200},
		{"missing scope", []string{"--sub", "bob", "--scope", "orders:write"}, 403},
		{"other audience", []string{"--sub", "bob", "--scope", "orders:read", "--aud", "elsewhere"}, 401},
		{"other issuer", []string{"--sub", "bob", "--scope", "orders:read", "--iss", "someone"}, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := strings.TrimSpace(mustCLI(t, "", append([]string{"--file", cfgPath, "token"}, tc.args...)...))
			if code, _ := get(tok); code != tc.status {
				t.Fatalf("status %d want %d", code, tc.status)
			}
		})
	}
	if _, _, err := runCLI(t, "", "--file", cfgPath, "token", "--ttl", "-1m"); err == nil {
		t.Fatal("negative ttl accepted")
	}
}

func TestTrustCommand(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "devstack.yaml")
	if err := os.WriteFile(cfgPath, []byte(gatewayYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustCLI(t, "", "--file", cfgPath, "trust")
	ca := filepath.Join(dir, ".devstack", "gateway", "ca.pem")
	if _, err := os.Stat(ca); err != nil {
		t.Fatalf("CA not created: %v", err)
	}
	for _, want := range []string{
		"certificate: " + ca,
		"update-ca-certificates",
		"security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain " + ca,
		"Firefox",
		"curl --cacert " + ca + " https://localhost:8443/",
		"NODE_EXTRA_CA_CERTS=" + ca,
		"REQUESTS_CA_BUNDLE=" + ca,
		"SSL_CERT_FILE=" + ca,
		"sudo devstack trust --install",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// the CA is kept: a second run shows the same fingerprint and file
	before, _ := os.ReadFile(ca)
	out2 := mustCLI(t, "", "--file", cfgPath, "trust")
	after, _ := os.ReadFile(ca)
	if out != out2 || string(before) != string(after) {
		t.Fatal("the CA changed between runs")
	}
}
