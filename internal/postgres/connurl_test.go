package postgres

import "testing"

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    ConnInfo
		svcURL  string // URLFor("orders")
		wantErr bool
	}{
		{
			in:     "postgres://admin:s%40cret@db.internal:6432/ops?sslmode=require",
			want:   ConnInfo{Host: "db.internal", Port: 6432, User: "admin", Password: "s@cret", SSLMode: "require", AdminDB: "ops"},
			svcURL: "postgres://orders:orders@db.internal:6432/orders?sslmode=require",
		},
		{
			in:     "postgresql://admin@10.0.0.5",
			want:   ConnInfo{Host: "10.0.0.5", Port: 5432, User: "admin", SSLMode: "prefer"},
			svcURL: "postgres://orders:orders@10.0.0.5:5432/orders?sslmode=prefer",
		},
		{in: "mysql://admin:x@db/postgres", wantErr: true},
		{in: "postgres://db:5432/postgres", wantErr: true},
		{in: "postgres://admin:x@db:0/postgres", wantErr: true},
	} {
		got, err := ParseURL(tc.in)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%s: no error", tc.in)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		if u := NewAdmin(got).URLFor("orders"); u != tc.svcURL {
			t.Errorf("%s: service URL %s, want %s", tc.in, u, tc.svcURL)
		}
	}
	// the embedded server's admin talks over its socket; services get loopback TCP without TLS
	if u := NewAdmin(ConnInfo{Host: "/run/devstack-sock", Port: 5433, User: "postgres"}).URLFor("orders"); u != "postgres://orders:orders@127.0.0.1:5433/orders?sslmode=disable" {
		t.Errorf("embedded service URL %s", u)
	}
}
