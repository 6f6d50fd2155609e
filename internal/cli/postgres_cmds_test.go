//go:build linux

package cli

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/lib/pq"

	"github.com/devstack-dev/devstack/internal/postgres"
	"github.com/devstack-dev/devstack/internal/testkit"
)

// pgTestDirs skips (or fails under DEVSTACK_REQUIRE_ALL) without a local psql, and returns a project
// directory and a binaries cache directory for one test.
func pgTestDirs(t *testing.T) (dir, cache string) {
	t.Helper()
	if _, err := postgres.FindTool("", "", "psql"); err != nil {
		if os.Getenv("DEVSTACK_REQUIRE_ALL") == "1" {
			t.Fatal(err)
		}
		t.Skipf("needs a local PostgreSQL with psql (apt-get install postgresql): %v", err)
	}
	dir = t.TempDir()
	cache, err := os.MkdirTemp("", "devstack-cli-pg-cache-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(cache) })
	return dir, cache
}

// startTestPostgres runs a real stack in-process (a local PostgreSQL is needed) from a devstack.yaml
// with one declared database (with init SQL) and one service database; the commands find it through
// its control API, as they find `devstack up`.
func startTestPostgres(t *testing.T) (cfgPath string, s stackDB) {
	t.Helper()
	dir, _ := pgTestDirs(t)
	if err := os.WriteFile(filepath.Join(dir, "init.sql"), []byte("CREATE TABLE items (id int);\nINSERT INTO items VALUES (1), (2);\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`name: pgtest
control:
  port: %d
broker:
  enabled: false
postgres:
  port: %d
  password: pw
  databases:
    - name: shop
      init: [init.sql]
services:
  orders:
    command: sleep 1000
    database: true
`, testkit.FreePort(t), testkit.FreePort(t))
	return runTestStack(t, dir, yaml)
}

func countItems(t *testing.T, s stackDB) int {
	t.Helper()
	db, err := sql.Open("postgres", s.URL("shop"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM items").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDBCommands(t *testing.T) {
	cfg, s := startTestPostgres(t)
	db, err := sql.Open("postgres", s.URL("shop"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("INSERT INTO items VALUES (3)"); err != nil {
		t.Fatal(err)
	}

	t.Run("list", func(t *testing.T) {
		out := mustCLI(t, "", "--file", cfg, "db", "list")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if !strings.HasPrefix(lines[0], "DATABASE") {
			t.Fatalf("no header:\n%s", out)
		}
		var shop, orders bool
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			switch f[0] {
			case "shop":
				shop = f[1] == "shop" && strings.HasSuffix(f[3], "iB")
			case "orders":
				orders = f[1] == "orders" && strings.HasSuffix(l, "orders")
			}
		}
		if !shop || !orders {
			t.Fatalf("shop/orders rows missing or wrong:\n%s", out)
		}
	})

	t.Run("list json", func(t *testing.T) {
		out := mustCLI(t, "", "--file", cfg, "db", "list", "--json")
		var rows []struct {
			Name      string   `json:"name"`
			Owner     string   `json:"owner"`
			SizeBytes int64    `json:"size_bytes"`
			Services  []string `json:"services"`
		}
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		found := false
		for _, r := range rows {
			if r.Name == "orders" && r.Owner == "orders" && r.SizeBytes > 0 && len(r.Services) == 1 && r.Services[0] == "orders" {
				found = true
			}
		}
		if !found {
			t.Fatalf("orders row wrong: %+v", rows)
		}
	})

	for _, tc := range []struct {
		name    string
		stdin   string
		args    []string
		wantErr string
		items   int // rows in shop.items afterwards
	}{
		{"needs --yes without a terminal", "y\n", []string{"db", "reset", "shop"}, "pass --yes", 3},
		{"unknown database", "", []string{"db", "reset", "nosuch", "--yes"}, `no database "nosuch"`, 3},
		{"invalid name", "", []string{"db", "reset", "bad name", "--yes"}, "letters, digits", 3},
		{"superuser database", "", []string{"db", "reset", "postgres", "--yes"}, "belongs to the superuser", 3},
		{"reset runs init again", "", []string{"db", "reset", "shop", "--yes"}, "", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := runCLI(t, tc.stdin, append([]string{"--file", cfg}, tc.args...)...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if !strings.Contains(out, "database shop reset (1 init file(s) run)") {
				t.Fatalf("output: %q", out)
			}
			if n := countItems(t, s); n != tc.items {
				t.Fatalf("shop.items has %d rows, want %d", n, tc.items)
			}
		})
	}

	t.Run("reset service database restarts its service", func(t *testing.T) {
		out, errOut, err := runCLI(t, "", "--file", cfg, "db", "reset", "orders", "--yes")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "orders restarted") {
			t.Fatalf("orders not restarted:\nstdout: %s\nstderr: %s", out, errOut)
		}
	})
}

func TestPsqlCommand(t *testing.T) {
	cfg, _ := startTestPostgres(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"superuser on postgres", []string{"psql", "--", "-At", "-c", "select current_user || ' ' || current_database()"}, "postgres postgres"},
		{"database", []string{"psql", "shop", "--", "-At", "-c", "select count(*) from items"}, "2"},
		{"as owner", []string{"psql", "shop", "--owner", "--", "-At", "-c", "select current_user"}, "shop"},
		{"stdin script", []string{"psql", "orders"}, "42"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdin := ""
			if tc.name == "stdin script" {
				stdin = "\\pset tuples_only on\nselect 40 + 2;\n"
			}
			out := mustCLI(t, stdin, append([]string{"--file", cfg}, tc.args...)...)
			if strings.TrimSpace(out) != tc.want {
				t.Fatalf("output %q, want %q", out, tc.want)
			}
		})
	}
	t.Run("psql exit code", func(t *testing.T) {
		_, _, err := runCLI(t, "", "--file", cfg, "psql", "--", "-v", "ON_ERROR_STOP=1", "-c", "select nosuchcolumn")
		if err == nil || err.Error() != "exit status 1" {
			t.Fatalf("err = %v, want psql's exit status 1", err)
		}
	})
}

func TestPostgresCommandsWhenNotRunning(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir()) // no registry entry of another test's stack
	// A PostgreSQL listens on the configured port, but no stack runs for this devstack.yaml: the
	// commands say so in one line instead of using a server that is not this stack's.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	yaml := fmt.Sprintf("postgres:\n  port: %d\n  databases:\n    - name: shop\n", ln.Addr().(*net.TCPAddr).Port)
	cfg := filepath.Join(dir, "devstack.yaml")
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"db", "list"}, {"db", "reset", "shop", "--yes"}, {"psql"}} {
		_, _, err := runCLI(t, "", append([]string{"--file", cfg}, args...)...)
		want := "no devstack is running for " + dir + ": start it there with `devstack up`"
		if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: err = %v, want one line %q", args, err, want)
		}
	}
}

// Without postgres.password the stack generates the superuser's secret into .devstack/postgres; psql and
// db read it from there.
func TestPostgresCommandsUseGeneratedSecret(t *testing.T) {
	dir, _ := pgTestDirs(t)
	secretFile := filepath.Join(dir, ".devstack", "postgres", "superuser-password")
	yaml := fmt.Sprintf("name: secret\ncontrol: {port: %d}\nbroker: {enabled: false}\npostgres: {port: %d}\n"+
		"services:\n  orders: {command: sleep 1000, database: true}\n", testkit.FreePort(t), testkit.FreePort(t))
	cfg, _ := runTestStack(t, dir, yaml)

	if out := mustCLI(t, "", "--file", cfg, "psql", "--", "-At", "-c", "select current_user"); strings.TrimSpace(out) != "postgres" {
		t.Fatalf("psql as the superuser: %q", out)
	}
	if out := mustCLI(t, "", "--file", cfg, "db", "list"); !strings.Contains(out, "orders") {
		t.Fatalf("db list:\n%s", out)
	}
	if out := mustCLI(t, "", "--file", cfg, "psql", "orders", "--owner", "--", "-At", "-c", "select current_user"); strings.TrimSpace(out) != "orders" {
		t.Fatalf("psql --owner: %q", out)
	}

	// the secret gone (or never readable): the error says which file and what to do
	if err := os.Rename(secretFile, secretFile+".moved"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"psql"}, {"db", "list"}} {
		_, _, err := runCLI(t, "", append([]string{"--file", cfg}, args...)...)
		if err == nil || !strings.Contains(err.Error(), secretFile) || !strings.Contains(err.Error(), "devstack up") {
			t.Errorf("%v without the secret file: err = %v", args, err)
		}
	}
}
