//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/stackcopy"
)

// TestHotReload edits a handler of each service (Go, NestJS, Django) in a temporary copy of the stack
// while a client keeps calling it through the gateway: the new behaviour must be served without a
// single failed request in between (devstack rebuilds, starts the new instance on a new port, waits
// until it is ready, switches the gateway over, then stops the old one).
func TestHotReload(t *testing.T) {
	bin, dir := newStackCopy(t)
	g := startStack(t, bin, dir)

	u := g.newUser(t, "reload")
	analyst := g.clientToken(t)
	svc := filepath.Join(dir, "sample-services")

	tests := []struct {
		name        string
		file        string // relative to sample-services
		old, new    string
		path, token string
		reloaded    func(body []byte) bool
	}{
		{
			name: "go scorer",
			file: "scorer/internal/risk/risk.go",
			old:  "LargeOrderCents: 50_000,", new: "LargeOrderCents: 50_001,",
			path: "/api/scorer/rules",
			reloaded: func(b []byte) bool {
				var r struct {
					LargeOrderCents int64 `json:"large_order_cents"`
				}
				return json.Unmarshal(b, &r) == nil && r.LargeOrderCents == 50_001
			},
		},
		{
			name: "nest users",
			file: "users/src/users/user.view.ts",
			old:  "displayName: u.displayName,", new: "displayName: `${u.displayName} (reloaded)`,",
			path: "/api/users/me", token: u.Token,
			reloaded: func(b []byte) bool {
				var r struct{ DisplayName string }
				return json.Unmarshal(b, &r) == nil && strings.HasSuffix(r.DisplayName, "(reloaded)")
			},
		},
		{
			name: "django analytics",
			file: "analytics/orders/views.py",
			old:  "        data = stats.summary()\n", new: "        data = stats.summary()\n        data[\"reloaded\"] = True\n",
			path: "/api/analytics/summary", token: analyst,
			reloaded: func(b []byte) bool {
				var r struct{ Reloaded bool }
				return json.Unmarshal(b, &r) == nil && r.Reloaded
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Served before the edit, and not yet in the new way.
			before := g.must(t, "GET", tt.path, tt.token, nil, 200)
			if tt.reloaded(before.body) {
				t.Fatalf("already shows the new behaviour before the edit: %s", before.body)
			}
			load := startLoad(g, tt.path, tt.token)
			edit(t, filepath.Join(svc, tt.file), tt.old, tt.new)

			eventually(t, 4*time.Minute, "the edited handler is served", func() (bool, string) {
				r, err := g.do(context.Background(), "GET", tt.path, tt.token, nil)
				if err != nil {
					return false, err.Error()
				}
				return r.status == 200 && tt.reloaded(r.body), r.String()
			})
			// Keep calling for a moment after the switch: the old instance is being stopped now.
			time.Sleep(2 * time.Second)
			total, failures := load.stop()
			t.Logf("%d requests during the reload, %d failed", total, len(failures))
			if total < 10 {
				t.Fatalf("the client made only %d requests; the check proves nothing", total)
			}
			if len(failures) > 0 {
				t.Fatalf("%d of %d requests failed during the reload, first: %s", len(failures), total, failures[0])
			}
		})
	}
}

// load calls one endpoint in a loop and records every failure.
type load struct {
	cancel   context.CancelFunc
	done     chan struct{}
	mu       sync.Mutex
	total    int
	failures []string
}

func startLoad(g *gw, path, token string) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for ctx.Err() == nil {
			r, err := g.do(ctx, "GET", path, token, nil)
			if ctx.Err() != nil {
				return
			}
			l.mu.Lock()
			l.total++
			switch {
			case err != nil:
				l.failures = append(l.failures, err.Error())
			case r.status != 200:
				l.failures = append(l.failures, r.String())
			}
			l.mu.Unlock()
			time.Sleep(25 * time.Millisecond)
		}
	}()
	return l
}

func (l *load) stop() (int, []string) {
	l.cancel()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total, l.failures
}

func edit(t *testing.T, file, old, new string) {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(src, []byte(old)) {
		t.Fatalf("%s no longer contains %q; update the hot-reload test", file, old)
	}
	if err := os.WriteFile(file, bytes.Replace(src, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

func devstackBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("DEVSTACK_BIN")
	if bin == "" {
		bin, _ = filepath.Abs(filepath.Join("..", "bin", "devstack"))
	}
	if _, err := os.Stat(bin); err != nil {
		skipOrFail(t, fmt.Sprintf("no devstack binary at %s (set DEVSTACK_BIN or run make build)", bin))
	}
	return bin
}

// newStackCopy copies the repository's stack (copyStack) into a temporary directory and returns the
// devstack binary and that directory; skipped with -short (a test with it starts a second stack).
func newStackCopy(t *testing.T) (bin, dir string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a second stack; skipped with -short")
	}
	bin = devstackBinary(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	copyStack(t, root, dir)
	return bin, dir
}

// copyStack copies devstack.yaml and the sample services' sources. The installed dependencies are the
// original's (linked, and the copy's npm/pip setup steps are turned off; see internal/stackcopy), so the
// copy starts in seconds and without the network, and nothing it runs writes into the original tree.
func copyStack(t *testing.T, root, dst string) {
	t.Helper()
	res, err := stackcopy.Copy(root, dst, "sample-services")
	if err != nil {
		t.Fatalf("copy the stack: %v", err)
	}
	t.Logf("the copy reuses %v (setup off for %v)", res.Linked, res.Skipped)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startStack runs `devstack up --no-tui` in dir on free ports and waits until every route answers.
func startStack(t *testing.T, bin, dir string) *gw {
	t.Helper()
	g, _ := startStackPorts(t, bin, dir)
	return g
}

// startStackPorts is startStack, also returning the ports the copy listens on (by the variable
// devstack.yaml reads: GATEWAY_PORT, BROKER_PORT, REGISTRY_PORT...).
func startStackPorts(t *testing.T, bin, dir string) (*gw, map[string]int) {
	t.Helper()
	ports := map[string]int{}
	for _, k := range []string{"GATEWAY_PORT", "GATEWAY_HTTPS_PORT", "BROKER_PORT", "POSTGRES_PORT", "CONTROL_PORT", "REGISTRY_PORT", "TELEMETRY_PORT", "OTLP_GRPC_PORT"} {
		ports[k] = freePort(t)
	}
	env := []string{}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case ports[name] != 0, name == "GATEWAY_URL", name == "KAFKA_BROKERS", name == "DATABASE_URL", name == "SCHEMA_REGISTRY_URL",
			strings.HasPrefix(name, "DEVSTACK_") && name != "DEVSTACK_REQUIRE_ALL":
			continue // the outer stack's; the copy gets its own
		}
		env = append(env, kv)
	}
	for k, v := range ports {
		env = append(env, k+"="+strconv.Itoa(v))
	}
	logPath := filepath.Join(dir, "devstack-up.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "up", "--no-tui")
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s up: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		logFile.Close()
		if t.Failed() {
			tail, _ := os.ReadFile(logPath)
			if len(tail) > 8000 {
				tail = tail[len(tail)-8000:]
			}
			t.Logf("devstack up (copy) log tail:\n%s", tail)
		}
	})

	g := &gw{base: fmt.Sprintf("http://127.0.0.1:%d", ports["GATEWAY_PORT"]), hc: gatewayHTTPClient()}
	deadline := time.Now().Add(10 * time.Minute) // go build, migrations on 2 shared cores; a cold copy (no installed deps) also installs them
	// Paths the services answer themselves without a token (the gateway passes them through).
	for _, path := range []string{"/api/scorer/rules", "/api/users/me", "/admin/login/"} {
		for {
			select {
			case err := <-exited:
				t.Fatalf("devstack up exited early: %v (log: %s)", err, logPath)
			default:
			}
			r, err := g.do(context.Background(), "GET", path, "", nil)
			// Any answer from the service itself (not the gateway's 502/503/504) means it is up.
			if err == nil && r.status < 500 && r.status != 404 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the copied stack did not serve %s within 10 minutes; last: %v %v", path, r, err)
			}
			time.Sleep(time.Second)
		}
	}
	return g, ports
}
