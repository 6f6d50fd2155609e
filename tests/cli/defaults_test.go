package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The documented zeros of devstack.yaml reach the running stack as written: nothing below the config
// turns them back into a default.

// restartZeroStack has two services that crash 0.3 s after each start: one with max_restarts: 0 (never
// restart), one with backoff: 0 (restart at once). Its control API is on a free port (port: 0).
const restartZeroStack = `
control: {port: 0}
broker: {enabled: false}
postgres: {enabled: false}
services:
  once:
    command: echo start >> runs-once; sleep 0.3; exit 1
    settle: 0s
    restart: {max_restarts: 0}
  eager:
    command: echo start >> runs-eager; sleep 0.3; exit 1
    settle: 0s
    restart: {max_restarts: 1, backoff: 0s}
`

func TestRestartZerosMeanWhatTheDocsSay(t *testing.T) {
	dir, _ := stackDir(t, restartZeroStack)
	u := startUp(t, dir)
	u.waitFor(t, "gave up after 1 restarts", 30*time.Second)
	u.waitFor(t, "service once: exited with code 1", 30*time.Second)
	time.Sleep(time.Second) // a wrongly scheduled restart of once would come within 500ms
	st := status(t, dir)
	for _, s := range st.Services {
		want := map[string]int{"once": 0, "eager": 1}[s.Name]
		if s.Restarts != want || s.Status != "failed" {
			t.Errorf("service %s: %s after %d restarts, want failed after %d", s.Name, s.Status, s.Restarts, want)
		}
	}
	for name, want := range map[string]int{"once": 1, "eager": 2} {
		b, _ := os.ReadFile(filepath.Join(dir, "runs-"+name))
		if n := strings.Count(string(b), "start"); n != want {
			t.Errorf("service %s ran %d times, want %d", name, n, want)
		}
	}
	// status found the control API on a free port through the endpoint file
	var ep struct{ Addr string }
	b, _ := os.ReadFile(filepath.Join(dir, ".devstack", "control.json"))
	if err := json.Unmarshal(b, &ep); err != nil || !strings.HasPrefix(ep.Addr, "127.0.0.1:") || strings.HasSuffix(ep.Addr, ":7477") || strings.HasSuffix(ep.Addr, ":0") {
		t.Errorf("control.port: 0 should listen on a free port, control.json = %s (%v)", b, err)
	}
	log, _ := os.ReadFile(filepath.Join(dir, ".devstack", "logs", "eager.log"))
	if !bytes.Contains(log, []byte("restarting in 0s (1/1)")) {
		t.Errorf("eager.log does not say it restarts at once (backoff: 0):\n%s", log)
	}
}

// gatewayZeroUpstream is a service that answers GET /slow after 1 s, other GETs at once, and a POST
// with the number of body bytes it read.
const gatewayZeroUpstream = `import os, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class H(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith("/slow"):
            time.sleep(1)
        self.answer(b"answered " + self.path.encode())

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        got = 0
        while got < n:
            chunk = self.rfile.read(min(1 << 16, n - got))
            if not chunk:
                break
            got += len(chunk)
        self.answer(str(got).encode())

    def answer(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`

// The gateway's timeout is 300ms: /cut inherits it, /none sets timeout: 0 (none). max_body: 0 (none)
// on the gateway reaches every route that does not set its own.
const gatewayZeroStack = `
control: {port: ${CONTROL_PORT}}
broker: {enabled: false}
postgres: {enabled: false}
gateway:
  http_port: ${GATEWAY_PORT}
  https_port: -1
  timeout: 300ms
  max_body: 0
  routes:
    - {path: /cut, service: up}
    - {path: /none, service: up, timeout: 0}
    - {path: /small, service: up, max_body: 1KiB}
services:
  up:
    command: exec python3 up.py
    ready: {http: /ready}
`

func TestGatewayZerosMeanNone(t *testing.T) {
	dir, ports := stackDir(t, gatewayZeroStack)
	if err := os.WriteFile(filepath.Join(dir, "up.py"), []byte(gatewayZeroUpstream), 0o644); err != nil {
		t.Fatal(err)
	}
	u := startUp(t, dir)
	u.waitFor(t, "all ready", 60*time.Second)
	base := fmt.Sprintf("http://127.0.0.1:%d", ports["GATEWAY_PORT"])
	c := &http.Client{Timeout: 20 * time.Second}
	call := func(method, path string, body []byte) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
		res, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	if code, body := call("GET", "/cut/slow", nil); code != http.StatusGatewayTimeout {
		t.Errorf("GET /cut/slow (timeout 300ms, upstream takes 1s) = %d %q, want 504", code, body)
	}
	if code, body := call("GET", "/none/slow", nil); code != http.StatusOK || body != "answered /none/slow" {
		t.Errorf("GET /none/slow (timeout: 0, none) = %d %q, want 200 answered", code, body)
	}
	big := bytes.Repeat([]byte("x"), 11<<20) // over the 10MiB default
	if code, body := call("POST", "/none/upload", big); code != http.StatusOK || body != fmt.Sprint(len(big)) {
		t.Errorf("POST 11MiB with gateway.max_body: 0 (none) = %d %q, want 200 %d", code, body, len(big))
	}
	if code, _ := call("POST", "/small/upload", big[:2000]); code != http.StatusRequestEntityTooLarge {
		t.Errorf("POST 2000 bytes to a route with max_body: 1KiB = %d, want 413", code)
	}
}
