package kafkaclients

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/devstack-dev/devstack/internal/testkit"
)

// Which broker process the suite drives: "devstack" (`devstack up --no-tui` on a devstack.yaml that
// declares only the broker), "brokerd" (internal/brokerd: internal/broker alone), or "auto" (the
// default: devstack when its `up --no-tui` exists, else brokerd).
const envBroker = "DEVSTACK_KAFKACLIENTS_BROKER"

// brokerProc is the broker under test: a child process in its own process group that can be stopped
// by SIGTERM or killed by SIGKILL and started again on the same port and data.
type brokerProc struct {
	t    *testing.T
	mode string // "devstack" or "brokerd"
	bin  string
	dir  string // devstack: the directory of devstack.yaml; brokerd: parent of the data dir
	port int
	addr string
	runs int

	// registry is the schema registry's host:port when the stack runs one (startStack with a registry),
	// control the control API's; both "" otherwise.
	registry string
	control  string

	cmd    *exec.Cmd
	exited chan struct{}
	err    error // Wait's result, valid once exited is closed
	log    string
}

// buildBroker compiles the broker binary the mode needs and returns it with the resolved mode.
func buildBroker(t *testing.T) (mode, bin string) {
	t.Helper()
	mode = os.Getenv(envBroker)
	if mode == "" {
		mode = "auto"
	}
	dir := t.TempDir()
	switch mode {
	case "devstack", "auto":
		bin = filepath.Join(dir, "devstack")
		err := goBuild(bin, "github.com/devstack-dev/devstack/cmd/devstack")
		if err == nil {
			out, herr := exec.Command(bin, "up", "--help").CombinedOutput()
			if herr == nil && strings.Contains(string(out), "--no-tui") {
				return "devstack", bin
			}
			err = fmt.Errorf("`devstack up --no-tui` is not available: %v\n%s", herr, out)
		}
		if mode == "devstack" {
			t.Fatalf("%s=devstack: %v", envBroker, err)
		}
		t.Logf("driving internal/brokerd instead of devstack: %v", err)
		fallthrough
	case "brokerd":
		bin = filepath.Join(dir, "brokerd")
		if err := goBuild(bin, "github.com/devstack-dev/devstack/tests/kafkaclients/internal/brokerd"); err != nil {
			t.Fatal(err)
		}
		return "brokerd", bin
	default:
		t.Fatalf("%s=%q: want devstack, brokerd or auto", envBroker, mode)
		return "", ""
	}
}

// configKnowsRegistry says whether this devstack's config has the registry section (its JSON Schema,
// `devstack schema`, names it).
func configKnowsRegistry(t *testing.T, bin string) bool {
	t.Helper()
	out, err := exec.Command(bin, "schema").Output()
	if err != nil {
		t.Fatalf("%s schema: %v", bin, err)
	}
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("%s schema printed no JSON Schema: %v", bin, err)
	}
	_, ok := s.Properties["registry"]
	return ok
}

func goBuild(out, pkg string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("building %s needs the go command on PATH: %w", pkg, err)
	}
	if b, err := exec.Command(goBin, "build", "-o", out, pkg).CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// startBroker starts the broker on a free port with a fresh data dir and waits until it answers.
func startBroker(t *testing.T) *brokerProc {
	t.Helper()
	return startStack(t, false)
}

// startRegistryStack starts `devstack up --no-tui` with the broker and the schema registry, each on a
// free port, and waits until both answer.
func startRegistryStack(t *testing.T) *brokerProc {
	t.Helper()
	return startStack(t, true)
}

func startStack(t *testing.T, registry bool) *brokerProc {
	t.Helper()
	mode, bin := buildBroker(t)
	if registry && mode != "devstack" {
		t.Fatalf("the schema registry needs `devstack up --no-tui` (%s=%s)", envBroker, mode)
	}
	if registry && !configKnowsRegistry(t, bin) {
		t.Fatalf("this devstack's config has no registry: section (`devstack schema` does not list it), so it cannot run the schema registry")
	}
	b := &brokerProc{t: t, mode: mode, bin: bin, dir: t.TempDir(), port: testkit.FreePort(t)}
	b.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port))
	if mode == "devstack" {
		// Only the broker (and the registry when asked): no services, gateway or database, and free
		// ports so concurrent runs on this machine do not collide.
		controlPort := testkit.FreePort(t)
		b.control = net.JoinHostPort("127.0.0.1", strconv.Itoa(controlPort))
		yaml := fmt.Sprintf("broker:\n  enabled: true\n  port: %d\ncontrol:\n  port: %d\npostgres:\n  enabled: false\ngateway:\n  enabled: false\ntelemetry:\n  enabled: false\n", b.port, controlPort)
		if registry {
			rport := testkit.FreePort(t)
			b.registry = net.JoinHostPort("127.0.0.1", strconv.Itoa(rport))
			yaml += fmt.Sprintf("registry:\n  enabled: true\n  port: %d\n", rport)
		} else if configKnowsRegistry(t, bin) {
			// The registry is on by default with the broker, on port 8081: off, so runs do not collide.
			yaml += "registry:\n  enabled: false\n"
		}
		if err := os.WriteFile(filepath.Join(b.dir, "devstack.yaml"), []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if b.running() {
			b.signal(syscall.SIGKILL)
			<-b.exited
		}
	})
	b.start()
	t.Logf("broker under test: %s (%s), data in %s", b.addr, b.mode, b.dir)
	return b
}

func (b *brokerProc) running() bool {
	if b.exited == nil {
		return false
	}
	select {
	case <-b.exited:
		return false
	default:
		return true
	}
}

func (b *brokerProc) start() {
	t := b.t
	t.Helper()
	b.runs++
	b.log = filepath.Join(b.dir, fmt.Sprintf("broker-run%d.log", b.runs))
	logf, err := os.Create(b.log)
	if err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	switch b.mode {
	case "devstack":
		cmd = exec.Command(b.bin, "up", "--no-tui", "-c", filepath.Join(b.dir, "devstack.yaml"))
	default:
		cmd = exec.Command(b.bin, "-port", strconv.Itoa(b.port), "-data-dir", filepath.Join(b.dir, "kafka"))
	}
	cmd.Dir = b.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start broker %s: %v", b.bin, err)
	}
	b.cmd = cmd
	b.exited = make(chan struct{})
	go func() {
		b.err = cmd.Wait()
		logf.Close()
		close(b.exited)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := b.waitReady(ctx); err != nil {
		t.Fatalf("broker (run %d) did not become ready at %s: %v\n%s", b.runs, b.addr, err, b.logTail())
	}
}

// waitReady polls with Metadata requests until the broker answers with itself as a broker.
func (b *brokerProc) waitReady(ctx context.Context) error {
	var last error
	for {
		select {
		case <-b.exited:
			return fmt.Errorf("broker exited: %v", b.err)
		default:
		}
		last = pingBroker(ctx, b.addr)
		if last == nil && b.registry != "" {
			last = pingRegistry(ctx, b.registry)
		}
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
		case <-b.exited:
			return fmt.Errorf("broker exited: %v", b.err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func pingBroker(ctx context.Context, addr string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RetryTimeout(time.Second), kgo.DialTimeout(time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	md, err := kadm.NewClient(cl).BrokerMetadata(pctx)
	if err != nil {
		return err
	}
	if len(md.Brokers) == 0 {
		return errors.New("metadata lists no broker")
	}
	return nil
}

// pingRegistry asks the registry for its subjects; any answer with status 200 is ready.
func pingRegistry(ctx context.Context, addr string) error {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, "http://"+addr+"/subjects", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("registry: GET /subjects: %s", resp.Status)
	}
	return nil
}

func (b *brokerProc) signal(sig syscall.Signal) {
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-b.cmd.Process.Pid, sig)
}

// restart stops the broker with sig (SIGTERM must end in a clean exit 0; SIGKILL ends it at once), then
// starts it again on the same port and data.
func (b *brokerProc) restart(sig syscall.Signal) {
	t := b.t
	t.Helper()
	b.signal(sig)
	select {
	case <-b.exited:
	case <-time.After(60 * time.Second):
		b.signal(syscall.SIGKILL)
		<-b.exited
		t.Fatalf("broker did not exit within 60s of %v; killed it\n%s", sig, b.logTail())
	}
	if sig == syscall.SIGTERM && b.err != nil {
		t.Errorf("broker's shutdown on SIGTERM was not clean: %v (want exit status 0)\n%s", b.err, b.logTail())
	}
	b.start()
}

// exitReport says how the broker ended if it is no longer running (for failure messages), else "".
func (b *brokerProc) exitReport() string {
	if b.running() {
		return ""
	}
	return fmt.Sprintf("\nTHE BROKER PROCESS EXITED (%v)\n%s", b.err, b.logTail())
}

func (b *brokerProc) logTail() string {
	f, err := os.Open(b.log)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 80 {
			lines = lines[1:]
		}
	}
	return "--- broker log " + b.log + " (tail) ---\n" + strings.Join(lines, "\n")
}
