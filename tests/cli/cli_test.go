// Package cli_test drives the real devstack binary the way a user does: validate, up, status, logs,
// restart, Ctrl-C, kill -9 and devstack test.
package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/testkit"
)

var bin string

func TestMain(m *testing.M) {
	bin = os.Getenv("DEVSTACK_BIN")
	if bin == "" {
		dir, err := os.MkdirTemp("", "devstack-bin")
		if err != nil {
			panic(err)
		}
		bin = filepath.Join(dir, "devstack")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/devstack")
		cmd.Dir = root
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build devstack:", err)
			os.Exit(1)
		}
		// devstack test's throwaway state dirs (and the logs a failing run keeps) go with the run; other
		// users may pass through (TestRunsAsNormalUser), their own dirs stay private
		os.Chmod(dir, 0o755)
		os.Setenv("TMPDIR", dir)
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// stackDir writes devstack.yaml (with ${BROKER_PORT}, ${GATEWAY_PORT}, ${CONTROL_PORT}, ${PG_PORT},
// ${REGISTRY_PORT}, ${TELEMETRY_PORT} and ${OTLP_GRPC_PORT} filled in) into a temp dir. A file without a
// registry: key gets one on a free port: the schema registry runs wherever the broker does, and its
// default 8081 is no test's to take; the same for telemetry: (OTLP on 4318 and 4317 by default).
func stackDir(t *testing.T, yaml string) (dir string, ports map[string]int) {
	t.Helper()
	dir = t.TempDir()
	ports = map[string]int{"BROKER_PORT": testkit.FreePort(t), "GATEWAY_PORT": testkit.FreePort(t), "CONTROL_PORT": testkit.FreePort(t), "PG_PORT": testkit.FreePort(t), "REGISTRY_PORT": testkit.FreePort(t),
		"TELEMETRY_PORT": testkit.FreePort(t), "OTLP_GRPC_PORT": testkit.FreePort(t)}
	if !regexp.MustCompile(`(?m)^registry:`).MatchString(yaml) && regexp.MustCompile(`(?m)^[a-z_]+:`).MatchString(yaml) {
		yaml = strings.TrimRight(yaml, "\n") + "\nregistry: {port: ${REGISTRY_PORT}}\n"
	}
	if !regexp.MustCompile(`(?m)^telemetry:`).MatchString(yaml) && regexp.MustCompile(`(?m)^[a-z_]+:`).MatchString(yaml) {
		yaml = strings.TrimRight(yaml, "\n") + "\ntelemetry: {http_port: ${TELEMETRY_PORT}, grpc_port: ${OTLP_GRPC_PORT}}\n"
	}
	for k, v := range ports {
		yaml = strings.ReplaceAll(yaml, "${"+k+"}", fmt.Sprint(v))
	}
	if err := os.WriteFile(filepath.Join(dir, "devstack.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, ports
}

func run(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("devstack %v: %v", args, err)
	}
	return string(out), code
}

// upProcess is a running `devstack up --no-tui`.
type upProcess struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
}

func (u *upProcess) output() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.out.String()
}

// interrupt sends devstack up Ctrl-C and returns how it exited; it fails the test if it has not
// exited within 30s.
func (u *upProcess) interrupt(t *testing.T) error {
	t.Helper()
	u.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-u.done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("devstack up did not stop within 30s of Ctrl-C")
		return nil
	}
}

// stopUp stops devstack up with Ctrl-C and reports (without stopping the test) an exit with an
// error; it says whether devstack up exited cleanly.
func stopUp(t *testing.T, u *upProcess) bool {
	t.Helper()
	if err := u.interrupt(t); err != nil {
		t.Errorf("devstack up after Ctrl-C: %v", err)
		return false
	}
	return true
}

// startUp runs `devstack up --no-tui` (with any extra arguments) in dir until the test ends.
func startUp(t *testing.T, dir string, args ...string) *upProcess {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"up", "--no-tui"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	u := &upProcess{cmd: cmd, done: make(chan error, 1)}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			u.mu.Lock()
			u.out.WriteString(sc.Text() + "\n")
			u.mu.Unlock()
		}
	}()
	go func() { err := cmd.Wait(); pw.Close(); u.done <- err }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-u.done
		}
		if t.Failed() {
			t.Logf("devstack up output:\n%s", u.output())
		}
	})
	return u
}

func (u *upProcess) waitFor(t *testing.T, substr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(u.output(), substr) {
			return
		}
		select {
		case err := <-u.done:
			u.done <- err
			t.Fatalf("devstack up exited (%v) before printing %q", err, substr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("devstack up did not print %q within %s", substr, timeout)
}

type state struct {
	Components []struct {
		Name, Status, Addr string
	}
	Services []struct {
		Name      string
		Status    string
		Restarts  int
		Instances []struct {
			PID, Port  int
			Ready      bool
			Generation int
		}
	}
}

func status(t *testing.T, dir string) state {
	t.Helper()
	out, code := run(t, dir, "status", "--json")
	if code != 0 {
		t.Fatalf("devstack status: exit %d: %s", code, out)
	}
	var st state
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return st
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	// a zombie is not alive for our purposes
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// descendants returns every process whose ancestry includes pid.
func descendants(pid int) []int {
	parent := map[int]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var p int
		if _, err := fmt.Sscan(e.Name(), &p); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(fields) < 2 {
			continue
		}
		var pp int
		fmt.Sscan(fields[1], &pp)
		parent[p] = pp
	}
	var out []int
	for p := range parent {
		for a := parent[p]; a > 1; a = parent[a] {
			if a == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

func waitGone(t *testing.T, pids []int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var left []int
		for _, p := range pids {
			if alive(p) {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	var left []string
	for _, p := range pids {
		if alive(p) {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
			left = append(left, fmt.Sprintf("%d (%s)", p, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
	t.Fatalf("processes outlived devstack: %s", strings.Join(left, ", "))
}

const basicStack = `
name: clitest
control: {port: ${CONTROL_PORT}}
broker: {port: ${BROKER_PORT}, persist: false, topics: {events: {partitions: 2}}}
postgres: {enabled: false}
gateway:
  http_port: ${GATEWAY_PORT}
  https_port: -1
  routes:
    - {path: /web, service: web, strip_prefix: true}
services:
  web:
    command: exec python3 -u -m http.server $PORT --bind 127.0.0.1
    ready: {http: /}
  forker:
    command: "echo forker-started; sh -c 'sleep 1000 & wait'"
    ready: {log: forker-started}
  stubborn:
    command: "trap '' TERM; echo stubborn-started; while true; do sleep 1; done"
    ready: {log: stubborn-started}
    stop_grace: 1s
`

func TestUpStatusLogsRestartAndCtrlC(t *testing.T) {
	dir, ports := stackDir(t, basicStack)
	u := startUp(t, dir)
	u.waitFor(t, "all ready", 60*time.Second)

	// the gateway routes to the web service
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/web/", ports["GATEWAY_PORT"]))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /web/ through the gateway: %d", resp.StatusCode)
	}

	st := status(t, dir)
	var pids []int
	restarts := map[string]int{}
	for _, s := range st.Services {
		if s.Status != "ready" {
			t.Errorf("service %s status %q, want ready", s.Name, s.Status)
		}
		for _, in := range s.Instances {
			pids = append(pids, in.PID)
			pids = append(pids, descendants(in.PID)...)
		}
		restarts[s.Name] = s.Restarts
	}
	if len(st.Services) != 3 {
		t.Fatalf("status shows %d services, want 3", len(st.Services))
	}
	for _, c := range []string{"control", "broker", "gateway"} {
		found := false
		for _, comp := range st.Components {
			found = found || comp.Name == c && comp.Status == "ready"
		}
		if !found {
			t.Errorf("component %s not ready in status", c)
		}
	}

	out, code := run(t, dir, "logs", "forker")
	if code != 0 || !strings.Contains(out, "forker-started") {
		t.Errorf("devstack logs forker: exit %d, output %q", code, out)
	}
	if !strings.Contains(u.output(), "forker-started") {
		t.Errorf("up output lacks the service's log line")
	}

	out, code = run(t, dir, "restart", "web")
	if code != 0 {
		t.Fatalf("devstack restart web: exit %d: %s", code, out)
	}
	out, code = run(t, dir, "restart", "nope")
	if code == 0 || !strings.Contains(out, "nope") {
		t.Errorf("restart of an unknown service: exit %d, %q", code, out)
	}

	// Ctrl-C: everything stops, including the forked grandchild and the process that ignores SIGTERM.
	st = status(t, dir)
	for _, s := range st.Services {
		for _, in := range s.Instances {
			pids = append(pids, in.PID)
			pids = append(pids, descendants(in.PID)...)
		}
	}
	pids = append(pids, descendants(u.cmd.Process.Pid)...)
	stopUp(t, u)
	waitGone(t, pids, 5*time.Second)
	if _, code := run(t, dir, "status"); code == 0 {
		t.Errorf("status succeeded after the stack stopped")
	}
}

func TestKill9LeavesNoOrphans(t *testing.T) {
	dir, _ := stackDir(t, basicStack)
	u := startUp(t, dir)
	u.waitFor(t, "all ready", 60*time.Second)
	pids := descendants(u.cmd.Process.Pid)
	if len(pids) < 3 {
		t.Fatalf("expected service processes under devstack, found %v", pids)
	}
	u.cmd.Process.Signal(syscall.SIGKILL)
	<-u.done
	u.done <- nil
	waitGone(t, pids, 10*time.Second)
}

func TestValidate(t *testing.T) {
	dir, _ := stackDir(t, basicStack)
	out, code := run(t, dir, "validate")
	if code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("validate of a good file: exit %d: %s", code, out)
	}
	bad := "services:\n  web:\n    command: x\n    replicas: many\n    depends_on: {ghost: {}}\n  other:\n    comand: y\n"
	os.WriteFile(filepath.Join(dir, "devstack.yaml"), []byte(bad), 0o644)
	out, code = run(t, dir, "validate")
	if code == 0 {
		t.Fatalf("validate of a bad file exited 0: %s", out)
	}
	for _, want := range []string{"devstack.yaml:4:", "devstack.yaml:5:", "devstack.yaml:7:", "ghost"} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
	// up refuses to start anything on a bad file
	out, code = run(t, dir, "up", "--no-tui")
	if code == 0 || !strings.Contains(out, "devstack.yaml:4:") {
		t.Errorf("up with a bad file: exit %d: %s", code, out)
	}
}

func TestDevstackTestPassAndFail(t *testing.T) {
	yaml := basicStack + `
tests:
  - name: gateway-answers
    command: python3 -c "import os,urllib.request; urllib.request.urlopen(os.environ['GATEWAY_URL']+'/web/').read(); print('gateway ok')"
  - name: kafka-env
    command: test -n "$KAFKA_BROKERS" && echo brokers=$KAFKA_BROKERS
`
	dir, _ := stackDir(t, yaml)
	junit := filepath.Join(dir, "junit.xml")
	out, code := run(t, dir, "test", "--junit", junit)
	if code != 0 {
		t.Fatalf("devstack test: exit %d:\n%s", code, out)
	}
	for _, want := range []string{"gateway ok", "brokers=127.0.0.1:", "devstack: 2 passed, 0 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	var suites struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
		} `xml:"testsuite"`
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, &suites); err != nil || len(suites.Suites) != 1 || suites.Suites[0].Tests != 2 || suites.Suites[0].Failures != 0 {
		t.Errorf("junit = %+v (%v)\n%s", suites, err, b)
	}

	// a failing command after --: its own exit status, and the services' last log lines are printed
	out, code = run(t, dir, "test", "--junit", junit, "--", "sh", "-c", "echo failing-now; exit 3")
	if code != 3 {
		t.Errorf("failing test: exit %d, want 3 (the command's own):\n%s", code, out)
	}
	for _, want := range []string{"failing-now", "FAIL", "stubborn-started", "devstack: 0 passed, 1 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b, _ = os.ReadFile(junit)
	if !bytes.Contains(b, []byte("<failure")) {
		t.Errorf("junit lacks the failure:\n%s", b)
	}
}

func TestServiceNeverReadyFailsClearly(t *testing.T) {
	yaml := `
control: {port: ${CONTROL_PORT}}
broker: {enabled: false}
postgres: {enabled: false}
services:
  slow:
    command: sleep 1000
    ready: {http: /health, timeout: 2s}
tests:
  - {name: never, command: "true"}
`
	dir, _ := stackDir(t, yaml)
	out, code := run(t, dir, "test")
	if code == 0 {
		t.Fatalf("devstack test with a never-ready service exited 0:\n%s", out)
	}
	if !strings.Contains(out, "slow") || !strings.Contains(out, "not ready") {
		t.Errorf("output does not say which service was not ready:\n%s", out)
	}
}

func TestRoutesFollowDevstackYAML(t *testing.T) {
	dir, ports := stackDir(t, basicStack)
	u := startUp(t, dir)
	u.waitFor(t, "all ready", 60*time.Second)
	url := fmt.Sprintf("http://127.0.0.1:%d/other/", ports["GATEWAY_PORT"])
	if resp, err := http.Get(url); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /other/ before the route exists: %v %v", resp, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "devstack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// an invalid edit is reported and the running routes stay
	broken := strings.Replace(string(b), "strip_prefix: true}", "strip_prefix: maybe}", 1)
	os.WriteFile(filepath.Join(dir, "devstack.yaml"), []byte(broken), 0o644)
	u.waitFor(t, "keeping the running", 10*time.Second)
	added := strings.Replace(string(b), "    - {path: /web, service: web, strip_prefix: true}",
		"    - {path: /web, service: web, strip_prefix: true}\n    - {path: /other, service: web, strip_prefix: true}", 1)
	if err := os.WriteFile(filepath.Join(dir, "devstack.yaml"), []byte(added), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new route did not start working within 10s (last: %v %v)", resp, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(u.output(), "routes reloaded") {
		t.Errorf("up output does not mention the route reload")
	}
}

// TestRunsAsNormalUser runs a stack with PostgreSQL as an unprivileged user (the other tests here run as
// whoever runs go test — root on CI, where PostgreSQL itself runs as devstack's system user).
func TestRunsAsNormalUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: not root, so every other test here already runs as a normal user")
	}
	if _, err := exec.LookPath("psql"); err != nil {
		t.Skip("skipping: psql not installed")
	}
	const uid, gid = 65534, 65534 // nobody
	dir, err := os.MkdirTemp("", "devstack-nonroot")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	// the binary, somewhere the user can run it from
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	userBin := filepath.Join(dir, "devstack")
	if err := os.WriteFile(userBin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	stack := filepath.Join(dir, "stack")
	os.Mkdir(stack, 0o755)
	yaml := fmt.Sprintf(`name: nonroot
control: {port: %d}
broker: {port: %d}
postgres: {port: %d}
registry: {port: %[4]d}
telemetry: {http_port: %[5]d, grpc_port: -1}
services:
  app:
    command: echo app-up; exec sleep 1000
    database: true
    ready: {log: app-up}
tests:
  - name: own-database
    command: psql "$DATABASE_URL" -Atc 'select current_user' && psql "postgres://app:app@127.0.0.1:%[3]d/app?sslmode=disable" -Atc 'create table t(x int); insert into t values (1); select count(*) from t'
`, testkit.FreePort(t), testkit.FreePort(t), testkit.FreePort(t), testkit.FreePort(t), testkit.FreePort(t))
	if err := os.WriteFile(filepath.Join(stack, "devstack.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, uid, gid) })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, userBin, "test", "--no-isolation") // .devstack, checked below
	cmd.Dir = stack
	cmd.Env = []string{"HOME=" + dir, "PATH=/usr/local/bin:/usr/bin:/bin", "NO_COLOR=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("devstack test as nobody: %v\n%s", err, out)
	}
	for _, want := range []string{"postgres", "devstack: 1 passed, 0 failed"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// the data belongs to the user, not root
	st, err := os.Stat(filepath.Join(stack, ".devstack", "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); !ok || sys.Uid != uid {
		t.Errorf(".devstack/postgres is not owned by the user: %+v", st.Sys())
	}
}

// A service that never becomes ready does not take the stack down with it under `up` (it can be fixed
// and reloaded); with --ready-timeout, up exits with an error instead.
func TestUpKeepsRunningWhenAServiceFails(t *testing.T) {
	yaml := `
control: {port: ${CONTROL_PORT}}
broker: {port: ${BROKER_PORT}, persist: false}
services:
  good:
    command: echo good-up; exec sleep 1000
    ready: {log: good-up}
  bad:
    command: exec sleep 1000
    ready: {http: /health, timeout: 1s}
    restart: {policy: "no"}
`
	dir, _ := stackDir(t, yaml)
	u := startUp(t, dir)
	u.waitFor(t, "the rest of the stack keeps running", 60*time.Second)
	st := status(t, dir)
	for _, s := range st.Services {
		want := map[string]string{"good": "ready", "bad": "failed"}[s.Name]
		if s.Status != want {
			t.Errorf("service %s is %s, want %s", s.Name, s.Status, want)
		}
	}
	stopUp(t, u)

	out, code := run(t, dir, "up", "--no-tui", "--ready-timeout", "1m")
	if code == 0 || !strings.Contains(out, "not ready") || !strings.Contains(out, "bad") {
		t.Errorf("up --ready-timeout with a failing service: exit %d:\n%s", code, out)
	}
}
