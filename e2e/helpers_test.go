//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// requireEnv returns the variable or skips the test (fails it under DEVSTACK_REQUIRE_ALL=1).
func requireEnv(t *testing.T, name, why string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		skipOrFail(t, fmt.Sprintf("%s is not set (%s); run the suite with `devstack test`", name, why))
	}
	return v
}

func skipOrFail(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("DEVSTACK_REQUIRE_ALL") == "1" {
		t.Fatalf("DEVSTACK_REQUIRE_ALL=1: %s", reason)
	}
	t.Skip(reason)
}

// gw is a client of one stack's gateway.
type gw struct {
	base string
	hc   *http.Client
}

func gateway(t *testing.T) *gw {
	return &gw{base: strings.TrimRight(requireEnv(t, "GATEWAY_URL", "the gateway of the stack under test"), "/"), hc: &http.Client{Timeout: 15 * time.Second}}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response is not the JSON expected: %v\n%s", err, r.body)
	}
}

func (r resp) String() string { return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body)) }

// do sends a request; body is JSON-encoded unless it is already url.Values (form) or nil.
func (g *gw) do(ctx context.Context, method, path, token string, body any) (resp, error) {
	return g.doWithHeader(ctx, method, path, token, body, nil)
}

// doWithHeader is do with extra request headers (h may be nil).
func (g *gw) doWithHeader(ctx context.Context, method, path, token string, body any, h http.Header) (resp, error) {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			return resp{}, err
		}
		rd, ctype = bytes.NewReader(buf), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, rd)
	if err != nil {
		return resp{}, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	res, err := g.hc.Do(req)
	if err != nil {
		return resp{}, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: data}, err
}

func (g *gw) must(t *testing.T, method, path, token string, body any, want int) resp {
	t.Helper()
	r, err := g.do(context.Background(), method, path, token, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if r.status != want {
		t.Fatalf("%s %s: got %s, want status %d", method, path, r, want)
	}
	return r
}

type user struct {
	ID, Email, Token string
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newUser registers a fresh user and logs in.
func (g *gw) newUser(t *testing.T, name string) user {
	t.Helper()
	email := fmt.Sprintf("%s-%s@example.com", name, randomHex(6))
	var reg struct{ ID, Email string }
	g.must(t, "POST", "/api/users/register", "", map[string]string{"email": email, "password": "correct-horse-42", "displayName": name}, 201).json(t, &reg)
	var login struct {
		AccessToken string `json:"accessToken"`
		Scope       string `json:"scope"`
	}
	g.must(t, "POST", "/api/users/login", "", map[string]string{"email": email, "password": "correct-horse-42"}, 200).json(t, &login)
	if login.AccessToken == "" || !strings.Contains(login.Scope, "orders:write") {
		t.Fatalf("login gave no usable token: %+v", login)
	}
	return user{ID: reg.ID, Email: email, Token: login.AccessToken}
}

// clientToken gets a token for the e2e client (scope analytics:read) from the gateway's dev issuer.
func (g *gw) clientToken(t *testing.T) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"analytics:read"}}
	req, _ := http.NewRequest("POST", g.base+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("e2e", "e2e-secret")
	res, err := g.hc.Do(req)
	if err != nil {
		t.Fatalf("POST /oauth/token: %v", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		// Some servers want the client credentials in the form instead of Basic auth.
		form.Set("client_id", "e2e")
		form.Set("client_secret", "e2e-secret")
		r := g.must(t, "POST", "/oauth/token", "", form, 200)
		body = r.body
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("POST /oauth/token: no access_token in %s", body)
	}
	return tok.AccessToken
}

type order struct {
	ID         string `json:"id"`
	TotalCents int64  `json:"totalCents"`
	Status     string `json:"status"`
}

// placeOrder places an order and returns it with the request id the gateway gave the request.
func (g *gw) placeOrder(t *testing.T, u user, sku string, qty, priceCents int) (order, string) {
	t.Helper()
	r := g.must(t, "POST", "/api/orders", u.Token, map[string]any{
		"items":    []map[string]any{{"sku": sku, "quantity": qty, "unitPriceCents": priceCents}},
		"currency": "EUR",
	}, 201)
	var o order
	r.json(t, &o)
	return o, r.header.Get("X-Request-Id")
}

// waitScored waits (up to 90 s) until analytics, asked with token, has order id scored.
func (g *gw) waitScored(t *testing.T, token, id, what string) {
	t.Helper()
	eventually(t, 90*time.Second, what, func() (bool, string) {
		r, err := g.do(context.Background(), "GET", "/api/analytics/orders/"+id, token, nil)
		if err != nil || r.status != 200 {
			return false, fmt.Sprint(r, err)
		}
		var a analyticsOrder
		r.json(t, &a)
		return a.Scored, string(r.body)
	})
}

// eventually polls check until it reports done or the deadline passes; last describes the state.
func eventually(t *testing.T, within time.Duration, what string, check func() (done bool, last string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for {
		var done bool
		done, last = check()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last: %s", what, within, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func gatewayHTTPClient() *http.Client { return &http.Client{Timeout: 15 * time.Second} }
