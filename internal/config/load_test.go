package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testEnv is the process environment every table test loads with, so results do not depend on
// the machine.
var testEnv = map[string]string{
	"HOME":       "/home/dev",
	"SHARED":     "from-process",
	"STACK_NAME": "interp-stack",
	"GRACE":      "1500ms",
}

// errLine is the shape of every error and warning line.
var errLine = regexp.MustCompile(`^[^\n:]+:[1-9][0-9]*:[1-9][0-9]*: [^\n]+: [^\n]+$`)

func loadTestFile(t *testing.T, file string) (*Config, error) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return LoadBytes(filepath.Base(file), data, filepath.Dir(file), testEnv)
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/config -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update after checking the change):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// dump renders a loaded config with machine-specific paths replaced by $DIR.
func dump(t *testing.T, c *Config, dir string) []byte {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	view := struct {
		Config     *Config
		ServiceSeq []string
		DotEnv     map[string]string
		Warnings   []string
		Enabled    map[string]bool
		Order      []string
		StateDir   string
	}{Config: c, ServiceSeq: c.ServiceSeq, DotEnv: c.DotEnv, Warnings: c.Warnings}
	view.Enabled = map[string]bool{
		"broker": c.BrokerEnabled(), "postgres": c.PostgresEnabled(),
		"gateway": c.GatewayEnabled(), "dev_issuer": c.DevIssuerEnabled(), "registry": c.RegistryEnabled(),
	}
	if view.Order, err = c.Order(); err != nil {
		t.Fatalf("Order: %v", err)
	}
	view.StateDir = c.StateDirPath()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(view); err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(b.Bytes(), []byte(abs), []byte("$DIR"))
}

func TestValidConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	if len(files) < 5 {
		t.Fatalf("expected the valid test files, found %v", files)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			c, err := loadTestFile(t, f)
			if err != nil {
				t.Fatalf("valid config failed to load:\n%v", err)
			}
			for _, w := range c.Warnings {
				if !errLine.MatchString(w) {
					t.Errorf("badly formatted warning %q", w)
				}
			}
			golden(t, strings.TrimSuffix(f, ".yaml")+".golden.json", dump(t, c, "testdata/valid"))
		})
	}
}

func TestInvalidConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	if len(files) < 10 {
		t.Fatalf("expected the invalid test files, found %v", files)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			c, err := loadTestFile(t, f)
			if err == nil {
				t.Fatal("invalid config loaded without error")
			}
			if c != nil {
				t.Error("a partial config was returned together with errors")
			}
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error is %T, want Errors: %v", err, err)
			}
			text := err.Error()
			for _, line := range strings.Split(text, "\n") {
				if !errLine.MatchString(line) {
					t.Errorf("badly formatted error line %q", line)
				}
			}
			for i := 1; i < len(es); i++ {
				if es[i].File == es[i-1].File && es[i].Line < es[i-1].Line {
					t.Errorf("errors not sorted by line: %v before %v", es[i-1], es[i])
				}
			}
			golden(t, strings.TrimSuffix(f, ".yaml")+".err", []byte(text+"\n"))
		})
	}
}

func TestLoadUsesPathAsGiven(t *testing.T) {
	_, err := Load("testdata/invalid/cycle.yaml")
	if err == nil || !strings.HasPrefix(err.Error(), "testdata/invalid/cycle.yaml:") {
		t.Fatalf("want errors prefixed with the path as given, got:\n%v", err)
	}
	c, err := Load("testdata/valid/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("testdata/valid/minimal.yaml")
	if c.Path != abs || c.Dir != filepath.Dir(abs) || c.Name != "valid" {
		t.Errorf("Path %q Dir %q Name %q", c.Path, c.Dir, c.Name)
	}
	if c.Services["api"].Dir != c.Dir {
		t.Errorf("service dir %q, want %q", c.Services["api"].Dir, c.Dir)
	}
	for _, p := range []string{"testdata/nope.yaml", "testdata"} {
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("Load(%q) = %v, want an error naming the file", p, err)
		}
	}
}

func TestNoPartialResult(t *testing.T) {
	// A valid file plus one error anywhere gives no config at all.
	ok := []byte("services:\n  api:\n    command: ./api\n")
	if c, err := LoadBytes("devstack.yaml", ok, t.TempDir(), nil); err != nil || c == nil {
		t.Fatalf("valid: %v", err)
	}
	for _, bad := range []string{
		"services:\n  api:\n    command: ./api\n    replicas: -1\n",
		"services:\n  api:\n    command: ./api\ngateway:\n  routes: [{path: /, service: nope}]\n",
		"services:\n  api:\n    command: ./api\n  x: [\n",
	} {
		c, err := LoadBytes("devstack.yaml", []byte(bad), t.TempDir(), nil)
		if err == nil || c != nil {
			t.Errorf("LoadBytes(%q) = %v, %v; want nil config and an error", bad, c, err)
		}
	}
}

func TestEnvPrecedence(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".env"), []byte("A=dotenv\nB=dotenv\n"), 0o644)
	src := []byte("env:\n  A: ${A}\n  B: ${B}\n  C: ${C:-none}\nservices:\n  s:\n    command: x\n")
	c, err := LoadBytes("devstack.yaml", src, dir, map[string]string{"A": "process"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "process", "B": "dotenv", "C": "none"}
	for k, v := range want {
		if c.Env[k] != v {
			t.Errorf("env %s = %q, want %q", k, c.Env[k], v)
		}
	}
	if c.DotEnv["A"] != "dotenv" {
		t.Errorf("DotEnv keeps the file's values, got %q", c.DotEnv["A"])
	}
	// A missing default .env is fine; an explicit missing env_file is not.
	if _, err := LoadBytes("devstack.yaml", []byte("services: {}\n"), t.TempDir(), nil); err != nil {
		t.Errorf("missing default .env: %v", err)
	}
	_, err = LoadBytes("devstack.yaml", []byte("env_file: nope.env\n"), t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), "devstack.yaml:1:11: env_file: cannot read nope.env") {
		t.Errorf("explicit missing env_file: %v", err)
	}
}

func TestOrder(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"file order", "services:\n  c: {command: x}\n  a: {command: x}\n  b: {command: x}\n", "c a b"},
		{"deps first", "services:\n  web: {command: x, depends_on: [api]}\n  api: {command: x, depends_on: [db]}\n  db: {command: x}\n", "db api web"},
		{"tie break by file order", "services:\n  z: {command: x, depends_on: [b]}\n  a: {command: x}\n  b: {command: x}\n  y: {command: x, depends_on: [a]}\n", "a b z y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadBytes("devstack.yaml", []byte(tt.src), t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Order()
			if err != nil || strings.Join(got, " ") != tt.want {
				t.Errorf("Order() = %v, %v; want %s", got, err, tt.want)
			}
		})
	}
	// A hand-built config with a cycle: Order names it.
	c := &Config{Services: map[string]*Service{
		"a": {DependsOn: map[string]Dependency{"b": {}}},
		"b": {DependsOn: map[string]Dependency{"a": {}}},
	}}
	if _, err := c.Order(); err == nil || err.Error() != "dependency cycle: a -> b -> a" {
		t.Errorf("Order on a cycle: %v", err)
	}
}

func TestEnabledHelpers(t *testing.T) {
	f, tr := false, true
	tests := []struct {
		name                      string
		c                         Config
		broker, pg, gw, devIssuer bool
	}{
		{"zero", Config{}, true, false, false, false},
		{"db service", Config{Services: map[string]*Service{"a": {Database: "a"}}}, true, true, false, false},
		{"disabled db service", Config{Services: map[string]*Service{"a": {Database: "a", Disabled: true}}}, true, false, false, false},
		{"extra db", Config{Postgres: Postgres{Databases: []Database{{Name: "x"}}}}, true, true, false, false},
		{"explicit off", Config{Broker: Broker{Enabled: &f}, Postgres: Postgres{Enabled: &f, Databases: []Database{{Name: "x"}}}, Gateway: Gateway{Enabled: &f, Routes: []Route{{}}}}, false, false, false, false},
		{"routes", Config{Gateway: Gateway{Routes: []Route{{}}}}, true, false, true, true},
		{"explicit gw, issuer off", Config{Gateway: Gateway{Enabled: &tr, Auth: Auth{DevIssuer: DevIssuer{Enabled: &f}}}}, true, false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			got := []bool{c.BrokerEnabled(), c.PostgresEnabled(), c.GatewayEnabled(), c.DevIssuerEnabled()}
			want := []bool{tt.broker, tt.pg, tt.gw, tt.devIssuer}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("broker/postgres/gateway/dev_issuer = %v, want %v", got, want)
					break
				}
			}
		})
	}
}

func TestStateDirPath(t *testing.T) {
	for _, tt := range []struct{ dir, state, want string }{
		{"/p", "", "/p/.devstack"},
		{"/p", "state", "/p/state"},
		{"/p", "/var/x", "/var/x"},
	} {
		c := &Config{Dir: tt.dir, StateDir: tt.state}
		if got := c.StateDirPath(); got != tt.want {
			t.Errorf("StateDirPath(%q, %q) = %q, want %q", tt.dir, tt.state, got, tt.want)
		}
	}
}

// The complete example in docs/config.md must be the one the tests load.
func TestDocsExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("testdata/valid/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.SplitN(string(example), "\n", 2)[1] // drop the schema comment line
	if !strings.Contains(string(doc), "```yaml\n"+body+"```\n") {
		t.Error("docs/config.md does not contain testdata/valid/full.yaml (without its first line) as a ```yaml block; keep them identical")
	}
}

// A huge file must load in reasonable time: every check is O(n log n) or better in the number of
// services (a quadratic one would make this test crawl, not fail; keep it that way).
func TestHugeFile(t *testing.T) {
	var b strings.Builder
	b.WriteString("services:\n")
	const n = 5000
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  s%d:\n    command: x\n    port: %d\n    depends_on: [s%d, ghost%d]\n", i, 10000+i%40000, (i+1)%n, i)
	}
	_, err := LoadBytes("devstack.yaml", []byte(b.String()), t.TempDir(), nil)
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("want Errors, got %v", err)
	}
	// n unknown dependencies and one big cycle s0 -> s1 -> ... -> s0.
	if len(es) != n+1 || !strings.Contains(err.Error(), "dependency cycle: s0 -> s1 -> s2") {
		t.Errorf("got %d errors, want %d; first: %v", len(es), n+1, es[0])
	}
}

// A documented zero written in the file is kept: defaults fill only absent keys.
func TestExplicitZerosAreKept(t *testing.T) {
	dir := t.TempDir()
	yaml := `control: {port: 0}
gateway:
  timeout: 0
  max_body: 0
  wait_ready: 0
  upstream_conn_lifetime: 0
  auth: {leeway: 0}
  routes:
    - {path: /a, service: api}
    - {path: /b, service: api, timeout: 0, max_body: 0}
services:
  api:
    command: ./api
    restart: {max_restarts: 0, backoff: 0}
    stop_grace: 0
    settle: 0
    watch: {debounce: 0}
`
	file := filepath.Join(dir, "devstack.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	g, s := c.Gateway, c.Services["api"]
	for what, v := range map[string]int64{
		"control.port":                   int64(c.Control.Port),
		"gateway.timeout":                int64(g.Timeout),
		"gateway.max_body":               int64(g.MaxBody),
		"gateway.wait_ready":             int64(g.WaitReady),
		"gateway.upstream_conn_lifetime": int64(g.UpstreamConnLifetime),
		"gateway.auth.leeway":            int64(g.Auth.Leeway),
		"routes[0].timeout":              int64(g.Routes[0].Timeout),
		"routes[0].max_body":             int64(g.Routes[0].MaxBody),
		"routes[1].timeout":              int64(g.Routes[1].Timeout),
		"routes[1].max_body":             int64(g.Routes[1].MaxBody),
		"restart.max_restarts":           int64(s.Restart.MaxRestarts),
		"restart.backoff":                int64(s.Restart.Backoff),
		"stop_grace":                     int64(s.StopGrace),
		"settle":                         int64(s.Settle),
		"watch.debounce":                 int64(s.Watch.Debounce),
	} {
		if v != 0 {
			t.Errorf("%s = %d, want 0 as written", what, v)
		}
	}
}

// An editor's save is one burst of events within a few milliseconds (the supervisor's
// TestEditorSaveIsOneReload), so the default quiet time before a reload is short: every millisecond
// of it is in every reload.
func TestWatchDebounceDefault(t *testing.T) {
	for _, watch := range []string{"watch: true", "watch: {include: [\"**/*.go\"]}"} {
		c, err := LoadBytes("devstack.yaml", []byte("services:\n  api:\n    command: ./api\n    "+watch+"\n"), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Services["api"].Watch.Debounce; got != Duration(50*time.Millisecond) {
			t.Errorf("%s: debounce %s, want 50ms", watch, time.Duration(got))
		}
	}
}
