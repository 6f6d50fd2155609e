package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/testkit"
)

// sideYAML is one stack (broker and a service that writes down the broker it was given) whose ports
// are fixed in the file, so two checkouts of it ask for the same ports.
const sideYAML = `name: %s
control: {port: %d}
broker: {port: %d}
registry: {port: %d}
telemetry: {http_port: %d, grpc_port: %d}
gateway:
  http_port: %d
  https_port: -1
  routes:
    - {path: /app, service: app}
services:
  app:
    command: echo "$KAFKA_BROKERS" > brokers.txt; exec sleep 1000
`

// twoCheckouts writes the same stack into two directories and gives the test its own registry of
// running stacks (XDG_RUNTIME_DIR), so the user's stacks and other tests' stay out of it.
func twoCheckouts(t *testing.T) (a, b string, controlPort, brokerPort int) {
	t.Helper()
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	controlPort, brokerPort = testkit.FreePort(t), testkit.FreePort(t)
	gatewayPort, registryPort := testkit.FreePort(t), testkit.FreePort(t)
	otlpPort, otlpGRPCPort := testkit.FreePort(t), testkit.FreePort(t)
	root := t.TempDir()
	a, b = filepath.Join(root, "checkout-a"), filepath.Join(root, "checkout-b")
	for _, d := range []string{a, b} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		yaml := fmt.Sprintf(sideYAML, filepath.Base(d), controlPort, brokerPort, registryPort, otlpPort, otlpGRPCPort, gatewayPort)
		if err := os.WriteFile(filepath.Join(d, "devstack.yaml"), []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return a, b, controlPort, brokerPort
}

type lsEntry struct {
	Name  string         `json:"name"`
	Dir   string         `json:"dir"`
	PID   int            `json:"pid"`
	Ports map[string]int `json:"ports"`
}

func ls(t *testing.T, dir string) []lsEntry {
	t.Helper()
	out, code := run(t, dir, "ls", "--json")
	if code != 0 {
		t.Fatalf("devstack ls --json: exit %d: %s", code, out)
	}
	var es []lsEntry
	if err := json.Unmarshal([]byte(out), &es); err != nil {
		t.Fatalf("ls --json: %v\n%s", err, out)
	}
	return es
}

func brokerAddr(t *testing.T, dir string) string {
	t.Helper()
	for _, c := range status(t, dir).Components {
		if c.Name == "broker" {
			return c.Addr
		}
	}
	t.Fatalf("no broker in the status of %s", dir)
	return ""
}

// Two checkouts of one stack run side by side: the second `up` says which stack holds the ports and
// takes free ones with --free-ports; each checkout's commands reach its own stack; `ls` lists both.
func TestStacksSideBySide(t *testing.T) {
	a, b, controlPort, brokerPort := twoCheckouts(t)

	// nothing runs yet: one line, naming this directory, and never another stack's broker
	out, code := run(t, a, "topics")
	if code == 0 || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "no devstack is running for "+a) {
		t.Fatalf("topics without a stack: exit %d, want one line naming %s:\n%s", code, a, out)
	}

	upA := startUp(t, a)
	upA.waitFor(t, "all ready", 60*time.Second)

	// B without a terminal and without --free-ports: who holds the ports, and what to do
	out, code = run(t, b, "up", "--no-tui")
	if code == 0 || !strings.Contains(out, "taken by the devstack stack checkout-a in "+a) || !strings.Contains(out, "--free-ports") {
		t.Fatalf("up beside another stack on the same ports: exit %d:\n%s", code, out)
	}
	// the stack of this very directory twice: refused
	out, code = run(t, a, "up", "--no-tui")
	if code == 0 || !strings.Contains(out, "already running") {
		t.Fatalf("second up of the same checkout: exit %d:\n%s", code, out)
	}

	// on a terminal, up asks; "n" starts nothing
	out = onTerminal(t, b, "[Y/n]", "n\n", "up", "--no-tui")
	if !strings.Contains(out, "Run this stack on free ports instead") || !strings.Contains(out, "not started") {
		t.Fatalf("up on a terminal, answered n:\n%s", out)
	}
	if es := ls(t, a); len(es) != 1 {
		t.Fatalf("ls after the refused start: %+v", es)
	}

	upB := startUp(t, b, "--free-ports")
	upB.waitFor(t, "all ready", 60*time.Second)
	if !strings.Contains(upB.output(), "using free ports") {
		t.Fatalf("up --free-ports did not say which ports it took:\n%s", upB.output())
	}

	addrA, addrB := brokerAddr(t, a), brokerAddr(t, b)
	if addrA != fmt.Sprintf("127.0.0.1:%d", brokerPort) || addrB == addrA {
		t.Fatalf("brokers: a %s, b %s; want a on %d and b elsewhere", addrA, addrB, brokerPort)
	}
	// B's service got B's broker
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := os.ReadFile(filepath.Join(b, "brokers.txt"))
		if strings.TrimSpace(string(got)) == addrB {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("service of b got KAFKA_BROKERS=%q, want %s", got, addrB)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// an edit of devstack.yaml reloads the routes; the ports up chose stay, without a warning that
	// the file's ports "take effect when devstack is restarted"
	f, err := os.OpenFile(filepath.Join(b, "devstack.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("# edited\n")
	f.Close()
	upB.waitFor(t, "routes reloaded", 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	if strings.Contains(upB.output(), "take effect when devstack is restarted") {
		t.Fatalf("a free-ports stack warns about its own ports after an edit:\n%s", upB.output())
	}

	// each checkout's broker commands reach its own stack
	for dir, topic := range map[string]string{a: "only-in-a", b: "only-in-b"} {
		if out, code := run(t, dir, "topic", "create", topic); code != 0 {
			t.Fatalf("topic create in %s: exit %d: %s", dir, code, out)
		}
	}
	for dir, want := range map[string][2]string{a: {"only-in-a", "only-in-b"}, b: {"only-in-b", "only-in-a"}} {
		out, code := run(t, dir, "topics", "--rate-window=0")
		if code != 0 || !strings.Contains(out, want[0]) || strings.Contains(out, want[1]) {
			t.Fatalf("topics in %s: exit %d, want %s and not %s:\n%s", dir, code, want[0], want[1], out)
		}
	}

	// ls: both stacks, their directories and ports
	es := ls(t, a)
	if len(es) != 2 || es[0].Dir != a || es[1].Dir != b {
		t.Fatalf("ls: %+v, want %s and %s", es, a, b)
	}
	if es[0].Ports["control.port"] != controlPort || es[0].Ports["broker.port"] != brokerPort {
		t.Fatalf("ls: ports of a %v", es[0].Ports)
	}
	if p := es[1].Ports["broker.port"]; fmt.Sprintf("127.0.0.1:%d", p) != addrB {
		t.Fatalf("ls: broker port of b %d, its broker is on %s", p, addrB)
	}
	if out, _ := run(t, a, "ls"); !strings.Contains(out, a) || !strings.Contains(out, b) || !strings.Contains(out, fmt.Sprintf("broker %d", brokerPort)) {
		t.Fatalf("ls:\n%s", out)
	}

	// B stops: its entry goes; A dies without cleaning up: its entry is dropped as stale
	if err := upB.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := <-upB.done; err != nil {
		t.Fatalf("up of b after Ctrl-C: %v", err)
	}
	if es := ls(t, a); len(es) != 1 || es[0].Dir != a {
		t.Fatalf("ls after b stopped: %+v", es)
	}
	out, code = run(t, b, "topics")
	if code == 0 || !strings.Contains(out, "no devstack is running for "+b) {
		t.Fatalf("topics in b after it stopped (a still runs): exit %d:\n%s", code, out)
	}
	if err := upA.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-upA.done
	if es := ls(t, a); len(es) != 0 {
		t.Fatalf("ls after a was killed: %+v, want the stale entry dropped", es)
	}
	files, _ := filepath.Glob(filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "devstack", "stacks", "*"))
	if len(files) != 0 {
		t.Fatalf("registry files left: %v", files)
	}
}

// onTerminal runs devstack under script(1), so its stdin and stdout are a terminal, and types answer
// once prompt shows (typed earlier, a terminal query of the colour library could read it).
func onTerminal(t *testing.T, dir, prompt, answer string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("needs script(1) for a terminal")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	line := bin
	for _, a := range args {
		line += " '" + a + "'"
	}
	cmd := exec.CommandContext(ctx, "script", "-qec", line, "/dev/null")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var out testkit.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(out.String(), prompt) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	_, _ = io.WriteString(in, answer)
	_ = cmd.Wait()
	in.Close()
	return out.String()
}

// The commands a test run starts (`devstack status`, `topic create` …, as the sample's e2e suite runs
// `devstack token` and `status`) reach the run's own stack, not the `devstack up` of the same checkout.
func TestCommandsInsideTestReachTheRun(t *testing.T) {
	a, _, _, brokerPort := twoCheckouts(t)
	up := startUp(t, a)
	up.waitFor(t, "all ready", 60*time.Second)
	script := fmt.Sprintf(`%[1]s status --json > status-in-test.json && %[1]s topic create made-in-test`, bin)
	out, code := run(t, a, "test", "--", "sh", "-c", script)
	if code != 0 {
		t.Fatalf("devstack test: exit %d:\n%s", code, out)
	}
	b, err := os.ReadFile(filepath.Join(a, "status-in-test.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	for _, c := range st.Components {
		if c.Name == "broker" && (c.Addr == "" || c.Addr == fmt.Sprintf("127.0.0.1:%d", brokerPort)) {
			t.Fatalf("status inside the test run shows the broker at %q; up's is on %d", c.Addr, brokerPort)
		}
	}
	if out := mustRun(t, a, "topics", "--rate-window=0"); strings.Contains(out, "made-in-test") {
		t.Fatalf("a topic created inside the test run is in up's broker:\n%s", out)
	}
}
