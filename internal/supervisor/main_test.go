package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// The test binary plays three parts: the test itself, the shim (MaybeRunShim), and helpers selected
// by DEVSTACK_TEST_HELPER: "http" is a small HTTP service, "devstack" runs a supervisor (so a test can
// SIGKILL "devstack" and look for orphans).
func TestMain(m *testing.M) {
	MaybeRunShim()
	switch os.Getenv("DEVSTACK_TEST_HELPER") {
	case "http":
		os.Exit(helperHTTP())
	case "devstack":
		os.Exit(helperDevstack())
	}
	os.Exit(m.Run())
}

// helperHTTP serves on 127.0.0.1:$PORT: /health answers 200, / answers the content of VERSION (read
// at start) and the port. SIGTERM shuts it down gracefully.
func helperHTTP() int {
	version, _ := os.ReadFile("VERSION")
	v := strings.TrimSpace(string(version))
	port := os.Getenv("PORT")
	if d := os.Getenv("HELPER_START_DELAY"); d != "" {
		dd, _ := time.ParseDuration(d)
		time.Sleep(dd)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if s := os.Getenv("HELPER_HEALTH_STATUS"); s != "" {
			w.WriteHeader(500)
			fmt.Fprint(w, s)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", v, port)
	})
	host := os.Getenv("HELPER_HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		return 1
	}
	fmt.Printf("listening on %s version %s\n", port, v)
	srv := &http.Server{Handler: mux}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return 1
	}
	return 0
}

// helperDevstack runs a supervisor for the specs in DEVSTACK_TEST_SPECS (JSON), prints the bus
// snapshot as one JSON line once ready, and runs until killed.
func helperDevstack() int {
	var specs []Spec
	if err := json.Unmarshal([]byte(os.Getenv("DEVSTACK_TEST_SPECS")), &specs); err != nil {
		fmt.Fprintln(os.Stderr, "specs:", err)
		return 2
	}
	bus := event.NewBus("helper")
	s, err := New(specs, Options{StateDir: os.Getenv("DEVSTACK_TEST_STATE"), Bus: bus})
	if err != nil {
		fmt.Fprintln(os.Stderr, "new:", err)
		return 2
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer cancel()
	go func() {
		if err := s.WaitReady(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "ready:", err)
			os.Exit(3)
		}
		b, _ := json.Marshal(bus.Snapshot())
		fmt.Println(string(b))
	}()
	_ = s.Run(ctx)
	return 0
}

// --- helpers ---

type harness struct {
	t      *testing.T
	sup    *Supervisor
	bus    *event.Bus
	logs   *event.Logs
	state  string
	cancel context.CancelFunc
	done   chan error
}

func newHarness(t *testing.T, specs []Spec, opts ...func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, bus: event.NewBus("test"), logs: event.NewLogs(5000), state: filepath.Join(t.TempDir(), ".devstack")}
	o := Options{StateDir: h.state, Bus: h.bus, Logs: h.logs}
	for _, f := range opts {
		f(&o)
	}
	s, err := New(specs, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.sup = s
	return h
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- h.sup.Run(ctx) }()
	h.t.Cleanup(h.stop)
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run: %v", err)
		}
	case <-time.After(60 * time.Second):
		h.t.Errorf("Run did not return after cancel")
	}
	h.cancel = nil
}

func (h *harness) waitReady(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return h.sup.WaitReady(ctx)
}

func (h *harness) service(name string) event.Service {
	sv, _ := h.bus.Snapshot().Service(name)
	return sv
}

// waitFor polls the bus until cond holds for the named service.
func (h *harness) waitFor(name string, d time.Duration, what string, cond func(event.Service) bool) event.Service {
	h.t.Helper()
	deadline := time.Now().Add(d)
	for {
		sv := h.service(name)
		if cond(sv) {
			return sv
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s: %s; state: %+v", name, what, sv)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func selfExe(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// httpSpec is a service running the test binary's HTTP helper.
func httpSpec(t *testing.T, name, dir string) Spec {
	return Spec{
		Restart: "on-failure", Replicas: 1,
		Name:    name,
		Dir:     dir,
		Command: fmt.Sprintf("exec %q", selfExe(t)),
		Env:     append(os.Environ(), "DEVSTACK_TEST_HELPER=http"),
		Probe:   Probe{HTTP: "/health", Interval: 20 * time.Millisecond, Timeout: 30 * time.Second},
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readyInstances(sv event.Service) []event.Instance {
	var out []event.Instance
	for _, in := range sv.Instances {
		if in.Ready {
			out = append(out, in)
		}
	}
	return out
}

// markedProcs lists live (non-zombie) processes whose environment contains mark.
func markedProcs(mark string) []procInfo {
	var out []procInfo
	for _, p := range listProcs() {
		if p.state != 'Z' && p.pid != os.Getpid() && hasEnv(p.pid, mark) {
			out = append(out, p)
		}
	}
	return out
}

// waitNoMarked fails unless every process carrying mark is gone before the deadline.
func waitNoMarked(t *testing.T, mark string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := markedProcs(mark)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			var desc []string
			for _, p := range left {
				cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.pid))
				desc = append(desc, fmt.Sprintf("pid %d pgid %d %q", p.pid, p.pgid, strings.ReplaceAll(string(cmd), "\x00", " ")))
			}
			t.Fatalf("orphans survived: %s", strings.Join(desc, "; "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newMark(t *testing.T) string { return "DEVSTACK_TEST_MARK=" + newToken() }

func get(port int) (string, error) {
	c := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b := make([]byte, 256)
	n, _ := resp.Body.Read(b)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(b[:n]), nil
}
