package proxy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// A token whose crit header names extensions is refused (RFC 7515 section 4.1.11: devstack
// understands none), and a token lacking iss or aud says which claim it lacks.
func TestTokenCritAndMissingClaims(t *testing.T) {
	k := makeKeys(t)
	up := upstream(t, "a")
	gw := startGateway(t, Config{Auth: Auth{Keys: []Key{{ID: "rsa1", Algorithms: []string{"RS256"}, PEMFile: k.rsaFile}}},
		Routes: []Route{{Path: "/secure", Service: "a", Auth: "required"}}}, nil)
	gw.SetUpstreams("a", []Upstream{{ID: "a", Addr: hostOf(up), Ready: true}})
	withHeader := func(h map[string]any, c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"] = "rsa1"
		for k, v := range h {
			tok.Header[k] = v
		}
		s, err := tok.SignedString(k.rsa)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name, token string
		status      int
		want        string // in the JSON message and WWW-Authenticate
	}{
		{"plain", withHeader(nil, claims(nil)), 200, ""},
		{"crit unknown", withHeader(map[string]any{"crit": []string{"http://example.com/ext"}, "http://example.com/ext": true}, claims(nil)), 401, "crit"},
		{"crit b64", withHeader(map[string]any{"crit": []string{"b64"}, "b64": true}, claims(nil)), 401, "crit"},
		{"crit empty", withHeader(map[string]any{"crit": []string{}}, claims(nil)), 401, "crit"},
		{"crit not a list", withHeader(map[string]any{"crit": "exp"}, claims(nil)), 401, "crit"},
		{"no iss", withHeader(nil, claims(func(c jwt.MapClaims) { delete(c, "iss") })), 401, "lacks a required claim (iss)"},
		{"no aud", withHeader(nil, claims(func(c jwt.MapClaims) { delete(c, "aud") })), 401, "lacks a required claim (aud)"},
		{"empty aud list", withHeader(nil, claims(func(c jwt.MapClaims) { c["aud"] = []string{} })), 401, "lacks a required claim (aud)"},
		{"no exp", withHeader(nil, claims(func(c jwt.MapClaims) { delete(c, "exp") })), 401, "lacks a required claim (exp)"},
		{"no iss and no aud", withHeader(nil, claims(func(c jwt.MapClaims) { delete(c, "iss"); delete(c, "aud") })), 401, "lacks required claims (aud, iss)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// twice: the second answer must not come from a cache that forgot why it refused
			for i := 0; i < 2; i++ {
				r := do(t, "GET", gw.base+"/secure", map[string]string{"Authorization": "Bearer " + tc.token}, nil)
				if r.status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
				}
				if tc.status == 200 {
					continue
				}
				var body struct{ Error, Message string }
				_ = json.Unmarshal(r.body, &body)
				if body.Error != "invalid_token" || !strings.Contains(body.Message, tc.want) {
					t.Errorf("body %s, want invalid_token and %q", r.body, tc.want)
				}
				if www := r.header.Get("WWW-Authenticate"); !strings.Contains(www, `error="invalid_token"`) || !strings.Contains(www, tc.want) {
					t.Errorf("WWW-Authenticate %q", www)
				}
			}
		})
	}
}
