package cli_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// crashLoopStack has a service without a ready probe that exits 0.2 s after each start, behind a
// gateway route, next to a healthy service without a probe.
const crashLoopStack = `
control: {port: ${CONTROL_PORT}}
broker: {enabled: false}
postgres: {enabled: false}
gateway:
  http_port: ${GATEWAY_PORT}
  https_port: -1
  wait_ready: 30s
  routes:
    - {path: /crashy, service: crashy}
services:
  steady:
    command: exec sleep 1000
  crashy:
    command: echo crashy-start; sleep 0.2; exit 1
    restart: {max_restarts: 2, backoff: 100ms}
`

// A crash-looping service without a probe is not ready at each start: devstack test does not run its
// tests against it and says which service gave up.
func TestDevstackTestRefusesACrashLoopingService(t *testing.T) {
	dir, _ := stackDir(t, crashLoopStack+`
tests:
  - {name: touch, command: "touch tests-ran"}
`)
	out, code := run(t, dir, "test")
	if code == 0 {
		t.Errorf("devstack test with a crash-looping service exited 0:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "tests-ran")); err == nil {
		t.Errorf("the test command ran against a crash-looping service:\n%s", out)
	}
	if !strings.Contains(out, "crashy") || !strings.Contains(out, "gave up") {
		t.Errorf("output does not say that crashy gave up:\n%s", out)
	}
	if strings.Contains(out, "stack ready") {
		t.Errorf("output says the stack was ready:\n%s", out)
	}
}

// Under up, a crash loop never prints "all ready"; once the service gave up, a request to its route
// gets 503 at once rather than after gateway.wait_ready; a healthy service without a probe is ready.
func TestUpCrashLoopNotReadyAndGatewayFailsFast(t *testing.T) {
	dir, ports := stackDir(t, crashLoopStack)
	u := startUp(t, dir)
	u.waitFor(t, "gave up after 2 restarts", 60*time.Second)
	if strings.Contains(u.output(), "all ready") {
		t.Errorf("up printed all ready while a service crash-looped:\n%s", u.output())
	}
	u.waitFor(t, "not ready", 10*time.Second)
	for _, s := range status(t, dir).Services {
		want := map[string]string{"steady": "ready", "crashy": "failed"}[s.Name]
		if s.Status != want {
			t.Errorf("service %s is %s, want %s", s.Name, s.Status, want)
		}
	}

	c := &http.Client{Timeout: 40 * time.Second}
	start := time.Now()
	res, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/crashy", ports["GATEWAY_PORT"]))
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("request to a service that gave up: %d, want 503", res.StatusCode)
	}
	if took > 3*time.Second {
		t.Errorf("503 took %s with wait_ready 30s; want it at once after the service gave up", took)
	}
	_ = u.interrupt(t)
}
