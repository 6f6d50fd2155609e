//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// devToken runs `devstack token` for the stack under test (its devstack.yaml and state directory).
func devToken(t *testing.T, sub, scope string) string {
	t.Helper()
	bin := devstackBinary(t)
	cfg := requireEnv(t, "DEVSTACK_CONFIG", "the devstack.yaml of the stack under test")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "token", "-c", cfg, "--sub", sub, "--scope", scope)
	cmd.Stderr = &stderr
	cmd.Env = os.Environ()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("devstack token --sub %s --scope %q: %v\n%s", sub, scope, err, stderr.Bytes())
	}
	return strings.TrimSpace(string(out))
}

// TestDevIssuerTokens: a token from `devstack token` (ES256, the gateway's dev issuer) works on every
// protected route, the same as a user's own login token: the gateway checks it and so do the services
// behind it (users verifies it against the gateway's JWKS rather than trusting X-Auth-* headers).
func TestDevIssuerTokens(t *testing.T) {
	g := gateway(t)
	u := g.newUser(t, "devtoken")
	tok := devToken(t, u.ID, "orders:read orders:write profile analytics:read")

	var placed order
	g.must(t, "POST", "/api/orders", tok, map[string]any{
		"items":    []map[string]any{{"sku": "dev-issuer-1", "quantity": 1, "unitPriceCents": 1234}},
		"currency": "EUR",
	}, 201).json(t, &placed)
	var list []order
	g.must(t, "GET", "/api/orders", tok, nil, 200).json(t, &list)
	if len(list) != 1 || list[0].ID != placed.ID {
		t.Errorf("GET /api/orders with a dev issuer token = %+v, want just the order %s", list, placed.ID)
	}
	g.must(t, "GET", "/api/orders/"+placed.ID, tok, nil, 200)
	// The user's own login token sees the same order: both tokens name the same subject.
	g.must(t, "GET", "/api/orders/"+placed.ID, u.Token, nil, 200)
	var me struct{ ID, Email string }
	g.must(t, "GET", "/api/users/me", tok, nil, 200).json(t, &me)
	if me.ID != u.ID || me.Email != u.Email {
		t.Errorf("GET /api/users/me = %+v, want %s %s", me, u.ID, u.Email)
	}
	g.must(t, "GET", "/api/analytics/summary", tok, nil, 200)
	eventually(t, 30*time.Second, "analytics has the order placed with a dev issuer token", func() (bool, string) {
		r, err := g.do(context.Background(), "GET", "/api/analytics/orders/"+placed.ID, tok, nil)
		if err != nil {
			return false, err.Error()
		}
		return r.status == 200, r.String()
	})

	// A subject that is no registered user (the README's `--sub alice`): clear 4xx answers, never a 500.
	alice := devToken(t, "alice", "orders:read orders:write profile")
	tests := []struct {
		name, method, path, token string
		body                      any
		want                      int
	}{
		{"profile of a subject that is no user", "GET", "/api/users/me", alice, nil, 404},
		{"orders of a subject that is no user", "GET", "/api/orders", alice, nil, 200},
		{"an order by a subject that is no user", "POST", "/api/orders", alice, map[string]any{
			"items": []map[string]any{{"sku": "x", "quantity": 1, "unitPriceCents": 1}}, "currency": "EUR"}, 403},
		{"someone else's order", "GET", "/api/orders/" + placed.ID, alice, nil, 404},
		{"dev issuer token without the scope users checks itself", "GET", "/api/users/me", devToken(t, u.ID, "orders:read"), nil, 403},
		{"client credentials token on a user's profile", "GET", "/api/users/me", g.clientToken(t), nil, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g.must(t, tt.method, tt.path, tt.token, tt.body, tt.want)
		})
	}
}

// servicePort asks the stack under test (`devstack status --json`) for a ready instance's port.
func servicePort(t *testing.T, name string) int {
	t.Helper()
	cfg := requireEnv(t, "DEVSTACK_CONFIG", "the devstack.yaml of the stack under test")
	out, err := exec.Command(devstackBinary(t), "status", "--json", "-c", cfg).Output()
	if err != nil {
		t.Fatalf("devstack status --json: %v", err)
	}
	var st struct {
		Services []struct {
			Name      string
			Instances []struct {
				Port  int
				Ready bool
			}
		}
	}
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("devstack status --json: %v\n%s", err, out)
	}
	for _, s := range st.Services {
		for _, in := range s.Instances {
			if s.Name == name && in.Ready && in.Port > 0 {
				return in.Port
			}
		}
	}
	t.Fatalf("devstack status: no ready instance of %s:\n%s", name, out)
	return 0
}

// TestServicesCheckTokensOnTheirOwnPorts: a service's port is reachable without the gateway, so the
// gateway's X-Auth-* headers must prove nothing there; the token itself is what counts.
func TestServicesCheckTokensOnTheirOwnPorts(t *testing.T) {
	g := gateway(t)
	u := g.newUser(t, "direct")
	forged := map[string]string{"X-Auth-Subject": u.ID, "X-Auth-Scopes": "analytics:read orders:read orders:write profile"}
	analyst := devToken(t, "analyst", "analytics:read")
	tests := []struct {
		name, service, path, token string
		headers                    map[string]string
		want                       int
	}{
		{"analytics, forged identity headers", "analytics", "/api/analytics/summary", "", forged, 401},
		{"analytics, dev issuer token", "analytics", "/api/analytics/summary", analyst, nil, 200},
		{"analytics, user token (no analytics:read)", "analytics", "/api/analytics/summary", u.Token, nil, 403},
		{"users, forged identity headers", "users", "/api/orders", "", forged, 401},
		{"users, dev issuer token", "users", "/api/orders", devToken(t, u.ID, "orders:read"), nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			direct := &gw{base: fmt.Sprintf("http://127.0.0.1:%d", servicePort(t, tt.service)), hc: gatewayHTTPClient()}
			req, _ := http.NewRequest("GET", direct.base+tt.path, nil)
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			res, err := direct.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.want {
				t.Fatalf("GET %s on %s's own port: %d %s, want %d", tt.path, tt.service, res.StatusCode, body, tt.want)
			}
		})
	}
}
