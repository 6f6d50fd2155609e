//go:build e2e

package e2e

import (
	"bytes"
	"context"
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
