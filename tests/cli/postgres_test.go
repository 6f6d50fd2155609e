package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pgSecurityStack: three services on PostgreSQL, two sharing analytics' database. Each service reports what
// its DATABASE_URL reaches; analytics also tries users' database.
const pgSecurityStack = `
name: pgsec
control: {port: ${CONTROL_PORT}}
broker: {enabled: false}
postgres:
  port: ${PG_PORT}
  databases:
    - name: users_it
services:
  users:
    command: psql "$$DATABASE_URL" -Atc "select 'own:' || current_user || '@' || current_database()"; exec sleep 1000
    database: true
    ready: {log: "own:users@users"}
  analytics:
    command: >-
      psql "$${DATABASE_URL%/*}/users" -Atc 'select 1' 2>&1 | sed 's/^/cross: /';
      psql "$$DATABASE_URL" -Atc "select 'own:' || current_user || '@' || current_database()"; exec sleep 1000
    database: true
    ready: {log: "own:analytics@analytics"}
  analytics-consumer:
    command: psql "$$DATABASE_URL" -Atc "select 'own:' || current_user || '@' || current_database()"; exec sleep 1000
    database: analytics
    ready: {log: "own:analytics@analytics"}
tests:
  - name: superuser-scratch-db
    command: psql "$${DATABASE_URL%/*}/users_it?sslmode=disable" -Atc "select 'it:' || current_user || '@' || current_database()"
`

// TestPostgresSecurity runs a stack with PostgreSQL the way a user does and checks what another local user
// could do: the old postgres/postgres is refused over TCP, the generated secret is private to the stack's
// owner and is what psql, db list and test commands use, and a service's role reaches only its database.
func TestPostgresSecurity(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		if os.Getenv("DEVSTACK_REQUIRE_ALL") == "1" {
			t.Fatal("psql not installed")
		}
		t.Skip("skipping: psql not installed")
	}
	dir, ports := stackDir(t, pgSecurityStack)
	u := startUp(t, dir)
	u.waitFor(t, "all ready", 90*time.Second)

	secretFile := filepath.Join(dir, ".devstack", "postgres", "superuser-password")
	fi, err := os.Stat(secretFile)
	if err != nil {
		t.Fatalf("no generated superuser secret: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", secretFile, fi.Mode().Perm())
	}
	secretBytes, _ := os.ReadFile(secretFile)
	secret := strings.TrimSpace(string(secretBytes))

	psql := func(url string) (string, error) {
		cmd := exec.Command("psql", url, "-Atc", "select current_user")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C"}
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	pgURL := func(user, password, db string) string {
		return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", user, password, ports["PG_PORT"], db)
	}

	// another local user trying the well-known password
	if out, err := psql(pgURL("postgres", "postgres", "postgres")); err == nil || !strings.Contains(out, "password authentication failed") {
		t.Errorf("postgres/postgres over TCP: %v %q, want password authentication failed", err, out)
	}
	if out, err := psql(pgURL("postgres", secret, "postgres")); err != nil || out != "postgres" {
		t.Errorf("the generated secret: %v %q", err, out)
	}

	// devstack psql and db list reach the running stack with it
	if out, code := run(t, dir, "psql", "--", "-At", "-c", "select current_user"); code != 0 || strings.TrimSpace(out) != "postgres" {
		t.Errorf("devstack psql: exit %d: %q", code, out)
	}
	out, code := run(t, dir, "db", "list")
	if code != 0 {
		t.Fatalf("devstack db list: exit %d: %s", code, out)
	}
	for _, want := range []string{"users", "analytics", "analytics-consumer", "users_it"} {
		if !strings.Contains(out, want) {
			t.Errorf("db list lacks %q:\n%s", want, out)
		}
	}

	// services: each reaches its own database (two share analytics'), analytics not users'
	logs, _ := run(t, dir, "logs", "analytics")
	if !strings.Contains(logs, `cross: psql: error:`) || !strings.Contains(logs, `permission denied for database "users"`) {
		t.Errorf("analytics' role reached users' database, or failed otherwise:\n%s", logs)
	}
	for _, c := range []struct{ role, db string }{{"analytics", "users"}, {"users", "analytics"}, {"users", "users_it"}} {
		if out, err := psql(pgURL(c.role, c.role, c.db)); err == nil || !strings.Contains(out, "permission denied for database") {
			t.Errorf("role %s on database %s: %v %q, want permission denied", c.role, c.db, err, out)
		}
	}
	cmd := exec.Command("psql", pgURL("analytics", "analytics", "analytics"), "-Atc", "COPY (SELECT 1) TO PROGRAM 'id'")
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "must be superuser") {
		t.Errorf("COPY TO PROGRAM as a service role: %v %s", err, b)
	}

	_ = u.interrupt(t)

	// the next start (here: devstack test) reuses the secret, and test commands get the superuser's URL
	out, code = run(t, dir, "test", "--no-isolation") // the stack's own state dir, as up
	if code != 0 || !strings.Contains(out, "it:postgres@users_it") {
		t.Errorf("devstack test: exit %d:\n%s", code, out)
	}
	if b, _ := os.ReadFile(secretFile); string(b) != string(secretBytes) {
		t.Errorf("the secret changed across starts")
	}
}
