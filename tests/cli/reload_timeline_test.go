package cli_test

import (
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

const reloadStack = `
name: reloadtest
control: {port: ${CONTROL_PORT}}
broker: {enabled: false}
postgres: {enabled: false}
gateway:
  http_port: ${GATEWAY_PORT}
  https_port: -1
  routes:
    - {path: /web, service: web, strip_prefix: true}
services:
  web:
    build: mkdir -p out && cp VERSION out/index.html
    command: cd out && exec python3 -u -m http.server $PORT --bind 127.0.0.1
    ready: {http: /}
    watch: {include: [VERSION], debounce: 50ms}
`

// A saved file reloads the service through the gateway, and devstack status (text and --json) shows
// where that reload's time went, phase by phase.
func TestStatusShowsTheLastReloadsTimeline(t *testing.T) {
	dir, ports := stackDir(t, reloadStack)
	if err := os.WriteFile(filepath.Join(dir, "VERSION"), []byte("v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	u := startUp(t, dir)
	u.waitFor(t, "all ready", 60*time.Second)
	web := fmt.Sprintf("http://127.0.0.1:%d/web/", ports["GATEWAY_PORT"])
	if body := getBody(t, web); body != "v1\n" {
		t.Fatalf("GET /web/ = %q, want v1", body)
	}

	if err := os.WriteFile(filepath.Join(dir, "VERSION"), []byte("v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for getBody(t, web) != "v2\n" {
		if time.Now().After(deadline) {
			t.Fatal("the gateway does not serve v2 after the save")
		}
		time.Sleep(20 * time.Millisecond)
	}
	u.waitFor(t, "reload timeline: debounce ", 10*time.Second)

	var out string
	for end := time.Now().Add(10 * time.Second); ; {
		out, _ = run(t, dir, "status")
		if strings.Contains(out, " · drain ") || time.Now().After(end) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	line := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "web last reload (VERSION, ") {
			line = l
		}
	}
	for _, want := range []string{"debounce ", " · setup ", " · build ", " · start ", " · ready ", " probe", " · switch ", " · drain "} {
		if !strings.Contains(line, want) {
			t.Errorf("status does not show %q in the last reload's timeline: %q\n%s", want, line, out)
		}
	}

	js, code := run(t, dir, "status", "--json")
	if code != 0 {
		t.Fatalf("status --json: exit %d: %s", code, js)
	}
	var st struct {
		Services []struct {
			Name       string
			LastReload *struct {
				Trigger  string
				Timeline []struct {
					Name string
					Took time.Duration
					Note string
				}
			} `json:"last_reload"`
		}
	}
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range st.Services {
		if s.Name == "web" && s.LastReload != nil {
			for _, p := range s.LastReload.Timeline {
				names = append(names, p.Name)
			}
		}
	}
	if got := strings.Join(names, " "); got != "debounce setup build start ready switch drain" {
		t.Errorf("status --json timeline phases = %q", got)
	}
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return ""
	}
	return string(b)
}
