package proxy

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// POST /oauth/token is a login: after a burst of wrong secrets for a client (or, for unknown
// client ids and users, from an address) it answers 429 with Retry-After until the window has
// passed; a correct secret works again after that, and other clients are not affected.
func TestTokenEndpointThrottlesFailures(t *testing.T) {
	clock := newClock()
	gw := startGateway(t, Config{Auth: Auth{DevIssuer: DevIssuer{
		Clients: []OAuthClient{{ID: "web", Secret: "s3cret", Scopes: []string{"a"}}, {ID: "cli", Secret: "other", Scopes: []string{"a"}}},
		Users:   []OAuthUser{{Username: "alice", Password: "pw", Scopes: []string{"a"}}},
	}}}, clock.Now)
	post := func(form url.Values, basic ...string) (int, string, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("POST", gw.base+"/oauth/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if len(basic) == 2 {
			req.SetBasicAuth(basic[0], basic[1])
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, res.Header.Get("Retry-After"), body
	}
	cc := url.Values{"grant_type": {"client_credentials"}}
	start := time.Now()
	for i := 0; i < tokenFailBurst; i++ {
		if st, _, body := post(cc, "web", "wrong"); st != 401 {
			t.Fatalf("wrong secret %d: status %d %v", i+1, st, body)
		}
	}
	st, ra, body := post(cc, "web", "wrong")
	if st != 429 || ra == "" || body["error"] != "rate_limited" {
		t.Fatalf("after %d wrong secrets: status %d Retry-After %q %v", tokenFailBurst, st, ra, body)
	}
	if st, _, _ := post(cc, "web", "s3cret"); st != 429 {
		t.Fatalf("the right secret during the lockout: %d, want 429 (else the lockout is an oracle)", st)
	}
	if st, _, body := post(cc, "cli", "other"); st != 200 {
		t.Fatalf("another client during web's lockout: %d %v", st, body)
	}
	// unknown client ids count against the address, not against a known client
	for i := 0; i < tokenFailBurst+3; i++ {
		post(cc, "nobody-"+string(rune('a'+i)), "x")
	}
	if st, _, _ := post(cc, "nobody-z", "x"); st != 429 {
		t.Fatalf("unknown ids after a burst: %d, want 429", st)
	}
	if st, _, _ := post(cc, "cli", "other"); st != 200 {
		t.Fatalf("a known client after unknown ids failed: %d", st)
	}
	// wrong user passwords count against the user
	pw := func(p string) url.Values {
		return url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {p}}
	}
	for i := 0; i < tokenFailBurst; i++ {
		if st, _, _ := post(pw("x")); st != 400 {
			t.Fatalf("wrong password: %d", st)
		}
	}
	if st, _, _ := post(pw("pw")); st != 429 {
		t.Fatalf("right password during the lockout: %d, want 429", st)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Logf("took %s", el)
	}
	// after the window the right secret works again
	clock.Add(tokenFailWindow)
	if st, _, body := post(cc, "web", "s3cret"); st != 200 {
		t.Fatalf("the right secret after the window: %d %v", st, body)
	}
	if st, _, body := post(pw("pw")); st != 200 {
		t.Fatalf("the right password after the window: %d %v", st, body)
	}
	// one more wrong secret right after the window is a 401 again, not a lockout
	if st, _, _ := post(cc, "web", "wrong"); st != 401 {
		t.Fatalf("a wrong secret after the window: %d, want 401", st)
	}
}
