//go:build linux

package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lib/pq"
)

// The superuser is reachable over TCP by every local user, so its password must be a secret: generated per
// stack, kept 0600 next to the data, reused on restart, and replacing the old default postgres/postgres.

// pgErrCode is the SQLSTATE of err ("" when it is not a server error).
func pgErrCode(err error) string {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return string(pe.Code)
	}
	return ""
}

// tryConnect opens one connection with url and runs SELECT 1.
func tryConnect(url string) error {
	db, err := sql.Open("postgres", url)
	if err != nil {
		return err
	}
	defer db.Close()
	var one int
	return db.QueryRow("SELECT 1").Scan(&one)
}

func secretOptions(t *testing.T) Options {
	t.Helper()
	o := mustOpts(t)
	o.Password = ""
	o.PasswordFile = filepath.Join(o.DataDir, "superuser-password")
	return o
}

func TestGeneratedSuperuserSecret(t *testing.T) {
	needPostgres(t)
	o := secretOptions(t)
	s := startT(t, o)

	fi, err := os.Lstat(o.PasswordFile)
	if err != nil {
		t.Fatalf("no secret file: %v", err)
	}
	if fi.Mode() != 0o600 {
		t.Fatalf("secret file mode %v, want -rw-------", fi.Mode())
	}
	b, err := os.ReadFile(o.PasswordFile)
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSpace(string(b))
	if len(secret) < 32 || secret == "postgres" {
		t.Fatalf("secret %q is not a long random secret", secret)
	}
	if want := buildURL("postgres", secret, s.Port(), "postgres"); s.URL("") != want {
		t.Fatalf("URL() = %s, want the superuser with the secret (%s)", s.URL(""), want)
	}
	if err := tryConnect(s.URL("")); err != nil {
		t.Fatalf("the secret does not work over TCP: %v", err)
	}
	for _, pw := range []string{"postgres", "", "wrong"} {
		err := tryConnect(buildURL("postgres", pw, s.Port(), "postgres"))
		if err == nil || pgErrCode(err) != "28P01" && !strings.Contains(err.Error(), "password") {
			t.Fatalf("postgres with password %q over TCP: err = %v, want password authentication failed", pw, err)
		}
	}

	// a second start reuses the secret (the file is not rewritten)
	port := s.Port()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	o.Port = port
	s2 := startT(t, o)
	b2, _ := os.ReadFile(o.PasswordFile)
	if string(b2) != string(b) {
		t.Fatalf("secret changed across restarts: %q then %q", b, b2)
	}
	if err := tryConnect(buildURL("postgres", secret, s2.Port(), "postgres")); err != nil {
		t.Fatalf("secret of the first start refused after restart: %v", err)
	}
}

func TestSecretFileProblems(t *testing.T) {
	needPostgres(t)
	t.Run("too open is tightened", func(t *testing.T) {
		o := secretOptions(t)
		os.MkdirAll(filepath.Dir(o.PasswordFile), 0o755)
		if err := os.WriteFile(o.PasswordFile, []byte("a-secret-someone-wrote-0123456789abcdef\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chmod(o.PasswordFile, 0o644)
		s := startT(t, o)
		if fi, _ := os.Stat(o.PasswordFile); fi.Mode() != 0o600 {
			t.Fatalf("mode %v after start, want 0600", fi.Mode())
		}
		if err := tryConnect(buildURL("postgres", "a-secret-someone-wrote-0123456789abcdef", s.Port(), "postgres")); err != nil {
			t.Fatalf("the file's secret is not the password: %v", err)
		}
	})
	for _, tc := range []struct {
		name, want string
		prepare    func(t *testing.T, file string)
	}{
		{"empty file", "is empty", func(t *testing.T, file string) { os.WriteFile(file, nil, 0o600) }},
		{"symlink", "not a regular file", func(t *testing.T, file string) {
			target := filepath.Join(t.TempDir(), "elsewhere")
			os.WriteFile(target, []byte("x0123456789abcdef0123456789abcdef"), 0o600)
			os.Symlink(target, file)
		}},
		{"directory", "not a regular file", func(t *testing.T, file string) { os.Mkdir(file, 0o700) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := secretOptions(t)
			os.MkdirAll(filepath.Dir(o.PasswordFile), 0o755)
			tc.prepare(t, o.PasswordFile)
			_, err := Start(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), o.PasswordFile) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %s and saying %q", err, o.PasswordFile, tc.want)
			}
		})
	}
	t.Run("neither password nor file", func(t *testing.T) {
		o := secretOptions(t)
		o.PasswordFile = ""
		if _, err := Start(context.Background(), o); err == nil || !strings.Contains(err.Error(), "password") {
			t.Fatalf("err = %v, want a missing password error", err)
		}
	})
}

// A data directory of an earlier devstack has postgres/postgres; the next start replaces that password.
func TestOldDefaultPasswordMigrated(t *testing.T) {
	needPostgres(t)
	o := secretOptions(t)
	old := o
	old.Password, old.PasswordFile = "postgres", ""
	s := startT(t, old)
	ctx := context.Background()
	url, err := s.EnsureDatabase(ctx, "orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openT(t, url).Exec("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)"); err != nil {
		t.Fatal(err)
	}
	if err := tryConnect(buildURL("postgres", "postgres", s.Port(), "postgres")); err != nil {
		t.Fatalf("setup: the old default password does not work: %v", err)
	}
	port := s.Port()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}

	o.Port = port
	s2 := startT(t, o)
	if err := tryConnect(buildURL("postgres", "postgres", port, "postgres")); err == nil {
		t.Fatal("postgres/postgres still accepted after the data directory was migrated")
	}
	if err := tryConnect(s2.URL("")); err != nil {
		t.Fatalf("the new secret is refused: %v", err)
	}
	if n := queryInt(t, openT(t, url), "SELECT x FROM kept"); n != 7 {
		t.Fatalf("data lost in the migration: %d", n)
	}
}

// No pg_hba rule may let a TCP client in without a password; a data directory whose pg_hba.conf trusts
// TCP is refused at start, naming the line.
func TestNoTrustOverTCP(t *testing.T) {
	needPostgres(t)
	o := secretOptions(t)
	s := startT(t, o)
	rows, err := openT(t, s.URL("")).Query("SELECT type, auth_method, line_number FROM pg_hba_file_rules WHERE error IS NULL")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var typ, method string
		var line int
		if err := rows.Scan(&typ, &method, &line); err != nil {
			t.Fatal(err)
		}
		n++
		if typ != "local" && method == "trust" {
			t.Errorf("pg_hba.conf:%d trusts %s connections", line, typ)
		}
	}
	if n == 0 {
		t.Fatal("no pg_hba rules read")
	}
	port := s.Port()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	hba := filepath.Join(s.DataDir(), "pg_hba.conf")
	b, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Count(string(b), "\n")
	if err := os.WriteFile(hba, append(b, "host all all 127.0.0.1/32 trust\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	o.Port = port
	_, err = Start(context.Background(), o)
	if want := fmt.Sprintf("%s:%d", hba, lines+1); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "trust") {
		t.Fatalf("start with a TCP trust rule: err = %v, want one naming %s", err, want)
	}
}

// A service's role reaches its own database only: not another service's, not an extra database, and it
// cannot run programs on the server.
func TestServiceRolesIsolated(t *testing.T) {
	needPostgres(t)
	s := startT(t, secretOptions(t))
	ctx := context.Background()
	urls := map[string]string{}
	for _, db := range []string{"users", "analytics", "users_it"} {
		u, err := s.EnsureDatabase(ctx, db, nil)
		if err != nil {
			t.Fatal(err)
		}
		urls[db] = u
	}
	// a database made by an earlier devstack (CONNECT for PUBLIC) is closed on the next ensure
	if _, err := openT(t, s.URL("")).Exec("GRANT CONNECT, TEMPORARY ON DATABASE users TO PUBLIC"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnsureDatabase(ctx, "users", nil); err != nil {
		t.Fatal(err)
	}
	roleOn := func(role, db string) string {
		return buildURL(role, role, s.Port(), db)
	}
	for _, tc := range []struct {
		role, db string
		ok       bool
	}{
		{"analytics", "analytics", true},
		{"users", "users", true},
		{"users_it", "users_it", true},
		{"analytics", "users", false},
		{"users", "analytics", false},
		{"analytics", "users_it", false},
		{"users_it", "users", false},
	} {
		t.Run(tc.role+" on "+tc.db, func(t *testing.T) {
			err := tryConnect(roleOn(tc.role, tc.db))
			switch {
			case tc.ok && err != nil:
				t.Fatalf("own database refused: %v", err)
			case !tc.ok && err == nil:
				t.Fatalf("role %s connected to database %s", tc.role, tc.db)
			case !tc.ok && (pgErrCode(err) != "42501" || !strings.Contains(err.Error(), "permission denied for database")):
				t.Fatalf("err = %v, want permission denied for database %s", err, tc.db)
			}
		})
	}
	// the superuser still reaches every database
	for db := range urls {
		if err := tryConnect(s.URL(db)); err != nil {
			t.Errorf("superuser on %s: %v", db, err)
		}
	}
	t.Run("COPY TO PROGRAM as a service role", func(t *testing.T) {
		marker := filepath.Join(t.TempDir(), "pwned")
		_, err := openT(t, urls["analytics"]).Exec(fmt.Sprintf("COPY (SELECT 1) TO PROGRAM 'touch %s'", marker))
		if err == nil || pgErrCode(err) != "42501" {
			t.Fatalf("COPY TO PROGRAM as analytics: err = %v, want permission denied", err)
		}
		if _, serr := os.Stat(marker); serr == nil {
			t.Fatal("the program ran")
		}
	})
}

// postgres.user changed on a data directory that still has postgres/postgres: the bootstrap superuser
// (postgres) must not keep the well-known password while devstack moves on to the new name.
func TestOldBootstrapSuperuserLosesDefaultPassword(t *testing.T) {
	needPostgres(t)
	o := secretOptions(t)
	old := o
	old.Password, old.PasswordFile = "postgres", ""
	s := startT(t, old)
	port := s.Port()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	o.Port, o.User = port, "admin"
	s2 := startT(t, o)
	if err := tryConnect(buildURL("postgres", "postgres", port, "postgres")); err == nil {
		t.Fatal("the bootstrap superuser postgres still accepts postgres/postgres over TCP")
	}
	if err := tryConnect(s2.URL("")); err != nil || !strings.Contains(s2.URL(""), "//admin:") {
		t.Fatalf("the configured superuser admin with the secret: %v (%s)", err, s2.URL(""))
	}
	// devstack itself still gets in (over the socket, as the bootstrap superuser) on the next start
	if err := s2.Stop(); err != nil {
		t.Fatal(err)
	}
	startT(t, o)
}
