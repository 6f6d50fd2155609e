package proxy

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Every spelling of the identity headers that an upstream may read as X-Auth-* (WSGI/CGI maps '_'
// and '-' to the same variable, header names are case-insensitive) is dropped from client requests,
// on the event loops and on net/http alike; only the gateway's own X-Auth-Subject/-Scopes arrive.
func TestIdentityHeaderSpellingsAreStripped(t *testing.T) {
	up := upstream(t, "a")
	state := t.TempDir()
	gw := startGateway(t, Config{StateDir: state, Routes: []Route{
		{Path: "/open", Service: "a"},
		{Path: "/opt", Service: "a", Auth: "optional"},
	}}, nil)
	gw.SetUpstreams("a", []Upstream{{ID: "a", Addr: hostOf(up), Ready: true}})
	tok, err := IssueToken(state, "devstack", "devstack", "alice", []string{"orders:read"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	forged := "X_Auth_Subject: mallory\r\nX-Auth_Scopes: admin\r\nx_auth-subject: mallory\r\nX-AUTH-SUBJECT: mallory\r\n" +
		"x_AUTH_roles: admin\r\nX_AUTH_: x\r\nx-auth-scopes: admin\r\n"
	tests := []struct {
		name, req, sub, scopes string
	}{
		{name: "no auth route", req: "GET /open/x HTTP/1.1\r\nHost: x\r\n" + forged + "\r\n"},
		{name: "optional auth without token", req: "GET /opt/x HTTP/1.1\r\nHost: x\r\n" + forged + "\r\n"},
		{name: "optional auth with token", req: "GET /opt/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok + "\r\n" + forged + "\r\n",
			sub: "alice", scopes: "orders:read"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := exchange(t, gw.Addr(), tc.req)[0]
			var e echo
			if err := json.Unmarshal([]byte(bodyOf(res)), &e); err != nil {
				t.Fatalf("status %d: %s", res.StatusCode, bodyOf(res))
			}
			for k, vv := range e.Header {
				if !strings.HasPrefix(strings.ReplaceAll(strings.ToLower(k), "_", "-"), "x-auth-") {
					continue
				}
				switch {
				case k == "X-Auth-Subject" && tc.sub != "" && len(vv) == 1 && vv[0] == tc.sub:
				case k == "X-Auth-Scopes" && tc.scopes != "" && len(vv) == 1 && vv[0] == tc.scopes:
				default:
					t.Errorf("the upstream got %s: %q", k, vv)
				}
			}
			if tc.sub != "" && e.Header.Get("X-Auth-Subject") != tc.sub {
				t.Errorf("X-Auth-Subject = %q, want %q", e.Header.Get("X-Auth-Subject"), tc.sub)
			}
		})
	}
}

func TestIsIdentityHeader(t *testing.T) {
	for name, want := range map[string]bool{
		"X-Auth-Subject": true, "x_auth_subject": true, "X-Auth_Scopes": true, "X_AUTH-x": true, "x-auth-": true,
		"X-Auth": false, "X-Authorization": false, "Authorization": false, "X-Author-Name": false, "XX-Auth-Subject": false,
	} {
		if got := isIdentityHeader(name); got != want {
			t.Errorf("isIdentityHeader(%q) = %v, want %v", name, got, want)
		}
		if got := headerKind([]byte(strings.ToLower(name))) == hXAuth; got != want {
			t.Errorf("headerKind(%q) is hXAuth: %v, want %v", name, got, want)
		}
	}
}
