package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/devstack-dev/devstack/internal/testkit"
)

// openPTY returns a pseudo-terminal: what is written to master is read from tty.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// runCLIStdin runs one command line with stdin as given (a terminal, say).
func runCLIStdin(t *testing.T, stdin io.Reader, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	app := &App{Stdin: stdin, Stdout: &out, Stderr: &errb}
	root := newRoot(app)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(app.Stdout)
	root.SetErr(app.Stderr)
	err := root.ExecuteContext(ctx)
	return out.String(), errb.String(), err
}

// TestExternalPostgresDBCommands: with postgres.source external the db commands work on the server named
// by admin_url, and `db reset` asks first (y/N on a terminal; without one it refuses unless --yes).
func TestExternalPostgresDBCommands(t *testing.T) {
	_, s := startTestPostgres(t) // a separate PostgreSQL server with databases shop (init SQL) and orders
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "init.sql"), []byte("CREATE TABLE items (id int);\nINSERT INTO items VALUES (1), (2);\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`name: ext
control: {port: %d}
broker: {enabled: false}
telemetry: {http_port: 0, grpc_port: 0}
postgres:
  source: external
  external:
    admin_url: %q
  databases:
    - name: shop
      init: [init.sql]
services:
  orders: {command: sleep 1000, database: true}
`, testkit.FreePort(t), s.URL("postgres"))
	cfg := filepath.Join(dir, "devstack.yaml")
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	addItem := func() {
		t.Helper()
		_, _, err := runCLI(t, "", "--file", cfg, "psql", "shop", "--", "-X", "-q", "-c", "INSERT INTO items VALUES (9)")
		if err != nil {
			t.Fatal(err)
		}
	}
	where := fmt.Sprintf("the external server 127.0.0.1:%d", s.Port())

	out := mustCLI(t, "", "--file", cfg, "db", "list")
	if !strings.Contains(out, "shop") || !strings.Contains(out, "orders") {
		t.Fatalf("db list on the external server:\n%s", out)
	}
	addItem()
	if n := countItems(t, s); n != 3 {
		t.Fatalf("psql on the external server: %d items, want 3", n)
	}

	// not a terminal, no --yes: refused, nothing dropped
	_, _, err := runCLI(t, "y\n", "--file", cfg, "db", "reset", "shop")
	if err == nil || !strings.Contains(err.Error(), where) || !strings.Contains(err.Error(), "pass --yes") {
		t.Fatalf("reset without a terminal: %v", err)
	}
	if n := countItems(t, s); n != 3 {
		t.Fatalf("refused reset changed the data: %d items", n)
	}

	// a terminal: the question names the external server; N keeps the data, y resets it
	for _, tc := range []struct {
		answer string
		items  int
	}{{"n\n", 3}, {"\n", 3}, {"y\n", 2}} {
		master, tty := openPTY(t)
		if _, err := master.WriteString(tc.answer); err != nil {
			t.Fatal(err)
		}
		out, errOut, err := runCLIStdin(t, tty, "--file", cfg, "db", "reset", "shop", "--no-restart")
		if !strings.Contains(errOut, `Drop database "shop" on `+where+` and create it again? All its data is lost. [y/N]`) {
			t.Fatalf("answer %q: no question on stderr: %q", tc.answer, errOut)
		}
		if tc.items == 3 && (err == nil || !strings.Contains(err.Error(), "not reset")) {
			t.Fatalf("answer %q: %v", tc.answer, err)
		}
		if tc.items == 2 && (err != nil || !strings.Contains(out, "database shop reset (1 init file(s) run)")) {
			t.Fatalf("answer %q: %v %q", tc.answer, err, out)
		}
		if n := countItems(t, s); n != tc.items {
			t.Fatalf("answer %q: %d items, want %d", tc.answer, n, tc.items)
		}
	}

	// --yes resets without asking
	addItem()
	out, errOut, err := runCLI(t, "", "--file", cfg, "db", "reset", "shop", "--yes", "--no-restart")
	if err != nil || !strings.Contains(out, "database shop reset") || strings.Contains(errOut, "[y/N]") {
		t.Fatalf("reset --yes: %v %q %q", err, out, errOut)
	}
	if n := countItems(t, s); n != 2 {
		t.Fatalf("after reset --yes: %d items", n)
	}
}
