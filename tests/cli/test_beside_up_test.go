package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/stackcopy"
	"github.com/devstack-dev/devstack/internal/testkit"
)

// devstackState is what a test run must leave alone in the developer's stack.
type devstackState struct {
	Databases []string
	Groups    []string
	Topics    map[string]int64 // messages per topic
	ITTables  string           // tables in the users integration test's scratch database
}

func runLong(t *testing.T, dir string, timeout time.Duration, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("devstack %v: %v\n%s", args, err, out)
	}
	return string(out), 0
}

func mustRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, code := run(t, dir, args...)
	if code != 0 {
		t.Fatalf("devstack %s: exit %d:\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func stateOf(t *testing.T, dir string) devstackState {
	t.Helper()
	var s devstackState
	var dbs []struct{ Name string }
	if err := json.Unmarshal([]byte(mustRun(t, dir, "db", "list", "--json")), &dbs); err != nil {
		t.Fatal(err)
	}
	for _, d := range dbs {
		s.Databases = append(s.Databases, d.Name)
	}
	var groups []struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, dir, "groups", "--json")), &groups); err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		s.Groups = append(s.Groups, g.Name)
	}
	sort.Strings(s.Groups)
	var topics []struct {
		Name     string `json:"name"`
		Messages int64  `json:"messages"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, dir, "topics", "--json", "--rate-window=0")), &topics); err != nil {
		t.Fatal(err)
	}
	s.Topics = map[string]int64{}
	for _, tp := range topics {
		s.Topics[tp.Name] = tp.Messages
	}
	s.ITTables = strings.TrimSpace(mustRun(t, dir, "psql", "users_it", "--", "-Atc",
		"select count(*) || ' tables' from pg_tables where schemaname = 'public'"))
	return s
}

// `devstack test` in the checkout where `devstack up` runs: it passes on its own throwaway state and
// free ports, up keeps running, and up's databases, topics and consumer groups are as they were.
func TestDevstackTestBesideUp(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range []string{"sample-services/users/node_modules", "sample-services/analytics/.venv"} {
		if _, err := os.Stat(filepath.Join(root, dep)); err != nil {
			if os.Getenv("DEVSTACK_REQUIRE_ALL") == "1" {
				t.Fatalf("%s missing: run `make -C sample-services setup`", dep)
			}
			t.Skipf("%s missing: run `make -C sample-services setup`", dep)
		}
	}
	if _, err := exec.LookPath("psql"); err != nil {
		t.Skip("needs psql")
	}
	dir := t.TempDir()
	if _, err := stackcopy.Copy(root, dir, "sample-services"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	// up on free ports through the sample's variables; the test run sees the same (taken) ports
	for _, k := range []string{"CONTROL_PORT", "BROKER_PORT", "POSTGRES_PORT", "GATEWAY_PORT", "GATEWAY_HTTPS_PORT", "REGISTRY_PORT", "TELEMETRY_PORT", "OTLP_GRPC_PORT"} {
		t.Setenv(k, itoa(testkit.FreePort(t)))
	}
	u := startUp(t, dir)
	u.waitFor(t, "all ready", 4*time.Minute)
	before := stateOf(t, dir)
	if before.ITTables != "0 tables" {
		t.Fatalf("users_it of a fresh stack: %s", before.ITTables)
	}

	tmp := t.TempDir() // where the run makes its state dir
	t.Setenv("TMPDIR", tmp)
	out, code := runLong(t, dir, 8*time.Minute, "test", "--run", "users-integration")
	if code != 0 || !strings.Contains(out, "devstack: 1 passed, 0 failed") {
		t.Fatalf("devstack test beside up: exit %d:\n%s", code, out)
	}
	select {
	case err := <-u.done:
		u.done <- err
		t.Fatalf("devstack up exited during the test run: %v", err)
	default:
	}
	if after := stateOf(t, dir); !reflect.DeepEqual(before, after) {
		t.Fatalf("the test run changed the dev stack:\nbefore %+v\nafter  %+v", before, after)
	}
	// its throwaway state dir is gone
	if m, _ := filepath.Glob(filepath.Join(tmp, "devstack-test-*")); len(m) > 0 {
		t.Errorf("the test run's state dir is left behind: %v", m)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
