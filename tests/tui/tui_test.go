// Package tui_test runs `devstack up` with its terminal UI inside tmux against a copy of the sample
// stack (root devstack.yaml), types keys like a user and reads the screen with capture-pane.
//
// It needs tmux and the sample services' toolchains (node/npm, python3 with venv, go), so it runs
// only with DEVSTACK_REQUIRE_ALL=1 (as `make test` sets after installing them); otherwise it skips.
package tui_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/stackcopy"
	"github.com/devstack-dev/devstack/internal/testkit"
)

func root(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// copyStack copies devstack.yaml and the sample services' sources; their installed dependencies are
// the original's (linked, the copy's npm/pip setup steps off: internal/stackcopy, shared with e2e/).
func copyStack(t *testing.T, src, dst string) {
	t.Helper()
	res, err := stackcopy.Copy(src, dst, "sample-services", "schemas")
	if err != nil {
		t.Fatalf("copy the stack: %v", err)
	}
	t.Logf("the copy reuses %v (setup off for %v)", res.Linked, res.Skipped)
}

// term is one tmux server (its own socket, so nothing touches the user's tmux) running devstack.
type term struct {
	t      *testing.T
	socket string
	last   string
	pid    int // the pane's process (devstack up); 0 if tmux did not say
}

func (tm *term) tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-L", tm.socket}, args...)...).CombinedOutput()
	return string(out), err
}

// screen is the visible pane as text; it fails the test if the pane is gone (devstack exited).
func (tm *term) screen() string {
	tm.t.Helper()
	out, err := tm.tmux("capture-pane", "-p", "-t", "ui")
	if err != nil {
		tm.t.Fatalf("the devstack pane is gone (devstack up exited?): %v %s; last screen:\n%s", err, out, tm.last)
	}
	tm.last = out
	return out
}

// keys sends tmux key names (Enter, Tab, C-s …) one by one.
func (tm *term) keys(keys ...string) {
	tm.t.Helper()
	for _, k := range keys {
		if out, err := tm.tmux("send-keys", "-t", "ui", k); err != nil {
			tm.t.Fatalf("send-keys %s: %v %s", k, err, out)
		}
	}
}

// typeText sends text literally.
func (tm *term) typeText(s string) {
	tm.t.Helper()
	if out, err := tm.tmux("send-keys", "-t", "ui", "-l", s); err != nil {
		tm.t.Fatalf("send-keys -l %q: %v %s", s, err, out)
	}
}

// waitFor polls the screen until ok accepts it, or fails after d showing the last screen.
func (tm *term) waitFor(what string, d time.Duration, ok func(string) bool) string {
	tm.t.Helper()
	deadline := time.Now().Add(d)
	for {
		s := tm.screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("timed out after %s waiting for %s; the screen:\n%s", d, what, tm.last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// upInTmux runs `devstack up` (bin) in dir in a tmux pane of 120x40 on a socket of its own named
// from prefix, after the shell lines env, with its stderr in dir/up.stderr. When the test ends it
// quits the UI (which stops the stack) and makes sure devstack is gone before the tmux server: q,
// then SIGINT and SIGKILL to the pane's process group, each after waiting its stop wait. A failed
// test logs the tails of up.stderr and logs.
func upInTmux(t *testing.T, bin, dir, env, prefix string, stopWaits [3]time.Duration, logs ...string) *term {
	t.Helper()
	script := filepath.Join(dir, "run-up.sh")
	logPath := filepath.Join(dir, "up.stderr")
	body := "#!/bin/sh\n" + env +
		"export TERM=xterm-256color COLORTERM=truecolor\n" +
		"exec " + strconv.Quote(bin) + " up 2>" + strconv.Quote(logPath) + "\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	tm := &term{t: t, socket: prefix + hex.EncodeToString(b)}
	if out, err := tm.tmux("-f", "/dev/null", "new-session", "-d", "-s", "ui", "-x", "120", "-y", "40", "-c", dir, script); err != nil {
		t.Fatalf("tmux new-session: %v %s", err, out)
	}
	pidOut, _ := tm.tmux("list-panes", "-t", "ui", "-F", "#{pane_pid}")
	tm.pid, _ = strconv.Atoi(strings.TrimSpace(pidOut))
	pid := tm.pid
	t.Cleanup(func() {
		_, _ = tm.tmux("send-keys", "-t", "ui", "q")
		if pid > 0 {
			gone := func(d time.Duration) bool {
				deadline := time.Now().Add(d)
				for syscall.Kill(pid, 0) == nil {
					if time.Now().After(deadline) {
						return false
					}
					time.Sleep(100 * time.Millisecond)
				}
				return true
			}
			if !gone(stopWaits[0]) && !func() bool { _ = syscall.Kill(-pid, syscall.SIGINT); return gone(stopWaits[1]) }() {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
				gone(stopWaits[2])
			}
		}
		_, _ = tm.tmux("kill-server")
		// a server that ended with its last pane can leave its socket behind
		tmp := os.Getenv("TMUX_TMPDIR")
		if tmp == "" {
			tmp = "/tmp"
		}
		_ = os.Remove(filepath.Join(tmp, fmt.Sprintf("tmux-%d", os.Getuid()), tm.socket))
		if t.Failed() {
			for _, p := range append([]string{logPath}, logs...) {
				b, _ := os.ReadFile(p)
				if len(b) > 6000 {
					b = b[len(b)-6000:]
				}
				t.Logf("%s (tail):\n%s", p, b)
			}
		}
	})
	return tm
}

func contains(subs ...string) func(string) bool {
	return func(s string) bool {
		for _, x := range subs {
			if !strings.Contains(s, x) {
				return false
			}
		}
		return true
	}
}

func TestTUIAgainstTheSampleStack(t *testing.T) {
	if os.Getenv("DEVSTACK_REQUIRE_ALL") != "1" {
		t.Skip("runs the whole sample stack (node, python, go toolchains) in tmux: set DEVSTACK_REQUIRE_ALL=1 (make test does)")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is not installed (apt-get install -y tmux)")
	}
	bin := testkit.DevstackBinary(t)
	dir := t.TempDir()
	copyStack(t, root(t), dir)
	if y, err := os.ReadFile(filepath.Join(dir, "devstack.yaml")); err != nil || !regexp.MustCompile(`(?m)^  users:`).Match(y) || !regexp.MustCompile(`(?m)^  scorer:`).Match(y) {
		t.Fatalf("%s is not the sample stack (users, scorer, analytics): %v\n%s", filepath.Join(root(t), "devstack.yaml"), err, y)
	}

	// free ports, so this copy runs beside any other stack on the machine
	var env strings.Builder
	for _, k := range []string{"GATEWAY_PORT", "GATEWAY_HTTPS_PORT", "BROKER_PORT", "POSTGRES_PORT", "CONTROL_PORT", "REGISTRY_PORT", "TELEMETRY_PORT", "OTLP_GRPC_PORT"} {
		fmt.Fprintf(&env, "export %s=%d\n", k, testkit.FreePort(t))
	}
	tm := upInTmux(t, bin, dir, env.String()+"unset GATEWAY_URL KAFKA_BROKERS DATABASE_URL\n", "devstack-tui-test-",
		[3]time.Duration{60 * time.Second, 30 * time.Second, 10 * time.Second}, filepath.Join(dir, ".devstack", "devstack.log"))
	b := make([]byte, 6) // names this run's order and user
	_, _ = rand.Read(b)

	// 1. the services: the UI opens at once, then every service becomes ready (cold setup can
	// install npm and pip packages on 2 cores, hence the long deadline)
	tm.waitFor("the UI", 60*time.Second, contains("1 Services", "NAME", "STATUS"))
	services := []string{"users", "scorer", "analytics", "analytics-consumer"}
	s := tm.waitFor("every service to be ready", 12*time.Minute, func(s string) bool {
		st := statuses(s)
		for _, name := range services {
			if st[name] != "ready" {
				return false
			}
		}
		return true
	})
	for _, c := range []string{"broker", "postgres", "gateway"} {
		if statuses(s)[c] != "ready" {
			t.Errorf("component %s is not shown ready on the services screen", c)
		}
	}

	// 2. a log line: enter on the first service (users) opens its logs
	tm.keys("g", "Enter")
	tm.waitFor("a log line of users", 60*time.Second, func(s string) bool {
		return strings.Contains(s, "source: users") && regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d(\.\d{3})? users\s+\S`).MatchString(s)
	})

	// 3. an order produced from the UI (Avro, through the registry) shows up in the live tail of orders.placed, and the scorer's
	// result for it in orders.scored: the records filter (on its correlation-id header) follows it
	// from one topic to the other
	corr := "tui-" + hex.EncodeToString(b[:4])
	user, order := uuid(b, 1), uuid(b, 2)
	value := fmt.Sprintf(`{"schema_version":1,"order_id":%q,"user_id":%q,"items":[{"sku":"TUI-1","quantity":2,"unit_price_cents":450}],"total_cents":900,"currency":"EUR","placed_at":%q}`,
		order, user, time.Now().UTC().Format(time.RFC3339))
	tm.keys("4", "P")
	tm.waitFor("the produce form", 20*time.Second, contains("Produce a message"))
	tm.typeText("orders.placed")
	tm.keys("Tab")
	tm.typeText(user)
	tm.keys("Tab")
	tm.typeText("correlation-id=" + corr + ", content-type=avro/binary")
	// the sample's orders.placed carries Avro through the registry: the dialog encodes the JSON with the
	// subject's latest version (and the tail shows it decoded)
	tm.keys("Tab")
	tm.typeText("orders.placed-value")
	tm.keys("Tab")
	tm.typeText(value)
	tm.keys("C-s")
	tm.waitFor("the produced order in the tail of orders.placed", 60*time.Second, func(s string) bool {
		return strings.Contains(s, "topic: orders.placed") && strings.Contains(s, corr) && strings.Contains(s, order)
	})
	tm.keys("/")
	tm.typeText(corr)
	tm.keys("Enter", "t")
	tm.waitFor("the topic picker", 20*time.Second, contains("tail which topic"))
	tm.typeText("orders.scored")
	tm.keys("Enter")
	tm.waitFor("the scored order in orders.scored", 90*time.Second, func(s string) bool {
		return strings.Contains(s, "topic: orders.scored") && strings.Contains(s, "filter: "+corr) && strings.Contains(s, corr) && strings.Contains(s, order)
	})

	// 4. the order topics and a consumer group with its lag column
	tm.keys("3")
	tm.waitFor("the order topics", 30*time.Second, contains("orders.placed", "orders.scored", "orders.dlq"))
	tm.keys("5")
	tm.waitFor("a consumer group on orders.placed", 60*time.Second, contains("GROUP", "LAG", "orders.placed", "COMMITTED"))
	// the scorer's group row carries a number in its LAG column (GROUP STATE MEMBERS LAG TOPICS)
	tm.waitFor("the scorer group's lag", 30*time.Second, func(s string) bool {
		return regexp.MustCompile(`(?m)\bscorer\s+\S+\s+\d+\s+\d+\s+orders\.placed`).MatchString(s)
	})

	// 5. a failing build is easy to find: break scorer's source, and its row and detail say why
	broken := filepath.Join(dir, "sample-services", "scorer", "cmd", "scorer", "zz_tui_broken.go")
	if err := os.WriteFile(broken, []byte("package main\n\nfunc broken( {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tm.keys("1", "g")
	tm.waitFor("the services view, users selected", 20*time.Second, func(s string) bool {
		return strings.Contains(s, "LAST RELOAD") && statusRowSelected(s) == "users"
	})
	tm.keys("j") // scorer is the second service in devstack.yaml
	tm.waitFor("scorer's failed rebuild with the compiler's error", 3*time.Minute, func(s string) bool {
		return statusRowSelected(s) == "scorer" && strings.Contains(s, "FAILED") && strings.Contains(s, "zz_tui_broken.go")
	})

	// 6. q quits the UI and stops the stack
	tm.keys("q")
	deadline := time.Now().Add(90 * time.Second)
	for tm.pid > 0 && syscall.Kill(tm.pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("devstack up did not exit after q; the screen:\n%s", tm.screen())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// statuses reads the services table: name -> status of every row.
func statuses(screen string) map[string]string {
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^[ ›]([a-z][\w.-]*)\s+(pending|setup|building|starting|ready|backoff|stopping|stopped|completed|failed)\b`).FindAllStringSubmatch(screen, -1) {
		if _, seen := out[m[1]]; !seen {
			out[m[1]] = m[2]
		}
	}
	return out
}

// uuid makes a version-4 UUID from the test's random bytes (n varies it).
func uuid(seed []byte, n byte) string {
	var u [16]byte
	copy(u[:], seed)
	u[15] = n
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// statusRowSelected is the name on the services row marked with the cursor (›).
func statusRowSelected(screen string) string {
	m := regexp.MustCompile(`(?m)^›([a-z][\w.-]*)\s`).FindStringSubmatch(screen)
	if m == nil {
		return ""
	}
	return m[1]
}
