package supervisor

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

func TestRestartPolicies(t *testing.T) {
	tests := []struct {
		name       string
		policy     string
		exit       int
		max        int
		wantStatus event.Status
		wantRuns   int
		wantErr    string // regexp; "" means WaitReady succeeds
	}{
		{"no, failure", "no", 3, 5, event.StatusFailed, 1, `^service w: exited with code 3; last output: run; see .*w\.log$`},
		{"no, success", "no", 0, 5, event.StatusCompleted, 1, ""},
		{"on-failure, success completes", "on-failure", 0, 5, event.StatusCompleted, 1, ""},
		{"on-failure gives up", "on-failure", 1, 2, event.StatusFailed, 3, `^service w: gave up after 2 restarts in a row \(exited with code 1\); last output: run; see `},
		{"always restarts even on success", "always", 0, 3, event.StatusFailed, 4, `gave up after 3 restarts in a row \(exited with code 0\)`},
		{"on-failure, max_restarts 0 never restarts", "on-failure", 1, 0, event.StatusFailed, 1, `^service w: exited with code 1 \(not restarted: restart\.max_restarts is 0\); last output: run; see `},
		{"always, max_restarts 0 completes", "always", 0, 0, event.StatusCompleted, 1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			h := newHarness(t, []Spec{{Name: "w", Dir: dir, Replicas: 1, Restart: tc.policy, MaxRestarts: tc.max, Backoff: 10 * time.Millisecond,
				Command: fmt.Sprintf("echo run; echo x >> runs; exit %d", tc.exit)}})
			h.start()
			sv := h.waitFor("w", 30*time.Second, "final status", func(sv event.Service) bool {
				return sv.Status == event.StatusFailed || sv.Status == event.StatusCompleted
			})
			if sv.Status != tc.wantStatus {
				t.Errorf("status = %s, want %s", sv.Status, tc.wantStatus)
			}
			err := h.waitReady(30 * time.Second)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("WaitReady: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !regexp.MustCompile(tc.wantErr).MatchString(err.Error()) || sv.Error != err.Error()) {
				t.Fatalf("WaitReady error = %v (service error %q), want match %q", err, sv.Error, tc.wantErr)
			}
			b, _ := os.ReadFile(filepath.Join(dir, "runs"))
			if n := strings.Count(string(b), "x"); n != tc.wantRuns {
				t.Errorf("ran %d times, want %d", n, tc.wantRuns)
			}
			if sv.Restarts != tc.wantRuns-1 {
				t.Errorf("restarts = %d, want %d", sv.Restarts, tc.wantRuns-1)
			}
		})
	}
}

// A crash after the instance was ready is restarted with the same port; the service recovers.
func TestCrashRestartsAndRecovers(t *testing.T) {
	dir := t.TempDir()
	sp := httpSpec(t, "api", dir)
	// first run exits at once; later runs serve
	sp.Command = fmt.Sprintf(`if [ ! -f crashed ]; then touch crashed; echo boom >&2; exit 1; fi; exec %q`, selfExe(t))
	sp.Restart, sp.MaxRestarts, sp.Backoff = "on-failure", 5, 10*time.Millisecond
	h := newHarness(t, []Spec{sp})
	h.start()
	if err := h.waitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	sv := h.service("api")
	if sv.Restarts != 1 || sv.Status != event.StatusReady {
		t.Fatalf("restarts=%d status=%s, want 1 ready", sv.Restarts, sv.Status)
	}
	if _, err := get(sv.Instances[0].Port); err != nil {
		t.Fatal(err)
	}
}

func TestStartupErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()

	tests := []struct {
		name    string
		spec    Spec
		wantErr string // regexp
	}{
		{
			"port in use",
			Spec{Name: "users", Dir: dir, Restart: "on-failure", Replicas: 1, Command: "sleep 1000", Port: busyPort},
			fmt.Sprintf(`^service users: port %d is already in use by another process \(pid %d, [^)]+\); stop it or change services\.users\.port$`, busyPort, os.Getpid()),
		},
		{
			"missing command",
			Spec{Name: "x", Dir: dir, Restart: "on-failure", Replicas: 1, Command: "definitely-not-a-command-42 --serve"},
			fmt.Sprintf(`^service x: command "definitely-not-a-command-42" not found in %s; `, regexp.QuoteMeta(dir)),
		},
		{
			"missing command in build",
			Spec{Name: "b", Dir: dir, Restart: "on-failure", Replicas: 1, Build: "no-such-compiler-42 build", Command: "sleep 1000"},
			fmt.Sprintf(`^service b: build failed \(command "no-such-compiler-42" not found in %s\)`, regexp.QuoteMeta(dir)),
		},
		{
			"missing dir",
			Spec{Name: "d", Dir: filepath.Join(dir, "nope"), Restart: "on-failure", Replicas: 1, Command: "sleep 1000"},
			`^service d: directory .*nope does not exist; fix services\.d\.dir$`,
		},
		{
			"never ready",
			Spec{Name: "slow", Dir: dir, Restart: "on-failure", Replicas: 1, Command: "sleep 1000", Port: 0,
				Probe: Probe{HTTP: "/health", Interval: 20 * time.Millisecond, Timeout: time.Second}},
			`^service slow: not ready after 1s \(http /health on :\d+ last said: connection refused\); see .*slow\.log$`,
		},
		{
			"unhealthy answer",
			func() Spec {
				s := httpSpec(t, "sick", dir)
				s.Env = append(s.Env, "HELPER_HEALTH_STATUS=database down")
				s.Probe.Timeout = time.Second
				return s
			}(),
			`^service sick: not ready after 1s \(http /health on :\d+ last said: HTTP 500 "database down"\); see `,
		},
		{
			"listens on IPv6 loopback only",
			func() Spec {
				s := httpSpec(t, "v6", dir)
				s.Env = append(s.Env, "HELPER_HOST=::1")
				s.Probe.Timeout = 5 * time.Second // the helper must be up and listening by then
				return s
			}(),
			`^service v6: not ready after 5s \(http /health on :(\d+) last said: connection refused\); it listens on \[::1\]:\d+ only: listen on 127\.0\.0\.1 or 0\.0\.0\.0 instead; see `,
		},
		{
			"exits before ready",
			Spec{Name: "e", Dir: dir, Replicas: 1, Command: "echo bad config >&2; exit 2", Restart: "no", Probe: Probe{TCP: true, Interval: 20 * time.Millisecond, Timeout: 30 * time.Second}},
			`^service e: exited with code 2; last output: bad config; see `,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(tc.name, "IPv6") {
				l, err := net.Listen("tcp", "[::1]:0")
				if err != nil {
					t.Skipf("no IPv6 loopback here: %v", err)
				}
				l.Close()
			}
			h := newHarness(t, []Spec{tc.spec})
			h.start()
			h.waitFor(tc.spec.Name, 30*time.Second, "failed", func(sv event.Service) bool { return sv.Status == event.StatusFailed })
			err := h.waitReady(30 * time.Second)
			if err == nil || !regexp.MustCompile(tc.wantErr).MatchString(err.Error()) {
				t.Fatalf("WaitReady error =\n%v\nwant match\n%s", err, tc.wantErr)
			}
			sv := h.service(tc.spec.Name)
			if sv.Status != event.StatusFailed || sv.Error == "" {
				t.Errorf("status %s error %q, want failed with error", sv.Status, sv.Error)
			}
			for _, in := range sv.Instances {
				if in.PID != 0 && alive(in.PID) {
					t.Errorf("instance %d still runs as pid %d", in.Replica, in.PID)
				}
			}
		})
	}
}

func TestProbes(t *testing.T) {
	tests := []struct {
		name  string
		probe Probe
	}{
		{"http", Probe{HTTP: "/health"}},
		{"tcp", Probe{TCP: true}},
		{"log", Probe{Log: `listening on \d+`}},
		{"exec", Probe{Exec: `test -n "$PORT" && exit 0`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sp := httpSpec(t, "p", t.TempDir())
			sp.Env = append(sp.Env, "HELPER_START_DELAY=300ms") // not ready at once
			sp.Probe = tc.probe
			sp.Probe.Interval, sp.Probe.Timeout = 20*time.Millisecond, 30*time.Second
			h := newHarness(t, []Spec{sp})
			h.start()
			if err := h.waitReady(30 * time.Second); err != nil {
				t.Fatal(err)
			}
			sv := h.service("p")
			in := sv.Instances[0]
			// For http/tcp/log the server is answering once ready; exec only says the env is set.
			if tc.name != "exec" {
				if _, err := get(in.Port); err != nil {
					t.Fatalf("ready but not serving: %v", err)
				}
			}
			if !in.Ready || in.Status != event.StatusReady || in.PID == 0 || in.StartedAt.IsZero() {
				t.Errorf("instance = %+v", in)
			}
		})
	}
}

func TestDependsOn(t *testing.T) {
	dir := t.TempDir()
	specs := []Spec{
		{Name: "migrate", Dir: dir, Replicas: 1, Restart: "no", Command: "sleep 0.3; echo migrated > migrated.txt"},
		{Name: "db", Dir: dir, Restart: "on-failure", Replicas: 1, Command: "sleep 0.2; echo accepting connections; exec sleep 1000", Probe: Probe{Log: "accepting connections", Interval: 20 * time.Millisecond, Timeout: 30 * time.Second}},
		{Name: "api", Dir: dir, Replicas: 1, Restart: "no", Command: "cat migrated.txt && exec sleep 1000",
			DependsOn: map[string]string{"migrate": "completed", "db": "healthy"}},
		{Name: "worker", Dir: dir, Restart: "on-failure", Replicas: 1, Command: "exec sleep 1000", DependsOn: map[string]string{"api": "started"}},
		{Name: "broken", Dir: dir, Replicas: 1, Restart: "no", Probe: Probe{Log: "^up$", Interval: 20 * time.Millisecond, Timeout: 30 * time.Second},
			Command: "if [ -f fixed ]; then echo up; exec sleep 1000; fi; echo cannot start >&2; exit 1"},
		{Name: "victim", Dir: dir, Restart: "on-failure", Replicas: 1, Command: "exec sleep 1000", DependsOn: map[string]string{"broken": "healthy"}},
	}
	h := newHarness(t, specs)
	order := h.sup.Services()
	pos := func(n string) int { return slices.Index(order, n) }
	if !(pos("migrate") < pos("api") && pos("db") < pos("api") && pos("api") < pos("worker") && pos("broken") < pos("victim")) {
		t.Errorf("order = %v", order)
	}
	h.start()
	err := h.waitReady(30 * time.Second)
	if err == nil {
		t.Fatal("WaitReady succeeded with a broken dependency")
	}
	for _, want := range []string{"service broken: exited with code 1", "service victim: not started because its dependency broken failed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	for name, want := range map[string]event.Status{"migrate": event.StatusCompleted, "db": event.StatusReady,
		"api": event.StatusReady, "worker": event.StatusReady, "victim": event.StatusFailed} {
		if st := h.service(name).Status; st != want {
			t.Errorf("%s: status %s, want %s", name, st, want)
		}
	}
	// once the broken dependency is fixed, its dependent starts by itself
	writeFile(t, filepath.Join(dir, "fixed"), "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.sup.Restart(ctx, "broken"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("victim", 30*time.Second, "recovered", func(sv event.Service) bool {
		return sv.Status == event.StatusReady && sv.Error == ""
	})
	if err := h.waitReady(30 * time.Second); err != nil {
		t.Fatalf("after fixing the dependency: %v", err)
	}
	// api read the file migrate wrote: it started after migrate completed
	lines := h.logs.Tail(0, event.SourceFilter("api"))
	if len(lines) == 0 || lines[0].Text != "migrated" {
		t.Errorf("api output = %+v", lines)
	}
}

func TestNewValidates(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name  string
		specs []Spec
		want  string
	}{
		{"cycle", []Spec{
			{Name: "a", Dir: dir, Restart: "on-failure", Replicas: 1, Command: "x", DependsOn: map[string]string{"b": "healthy"}},
			{Name: "b", Dir: dir, Restart: "on-failure", Replicas: 1, Command: "x", DependsOn: map[string]string{"a": "started"}},
		}, "dependency cycle: a -> b -> a"},
		{"unknown dep", []Spec{{Name: "a", Dir: dir, Restart: "on-failure", Replicas: 1, Command: "x", DependsOn: map[string]string{"zz": "healthy"}}}, `depends_on names unknown service "zz"`},
		{"bad condition", []Spec{{Name: "a", Dir: dir, Restart: "on-failure", Replicas: 1, Command: "x", DependsOn: map[string]string{"a": "ready"}}}, `condition "ready" must be one of started|healthy|completed`},
		{"bad restart", []Spec{{Name: "a", Dir: dir, Replicas: 1, Command: "x", Restart: "sometimes"}}, `restart "sometimes" must be one of no|on-failure|always`},
		{"bad glob", []Spec{{Name: "a", Dir: dir, Restart: "on-failure", Replicas: 1, Command: "x", Watch: &Watch{Ignore: []string{"[a-"}}}}, `invalid glob "[a-"`},
		{"** inside a segment", []Spec{{Name: "a", Dir: dir, Restart: "on-failure", Replicas: 1, Command: "x", Watch: &Watch{Include: []string{"a**b"}}}}, `invalid glob "a**b": ** must be a whole path segment`},
		{"relative dir", []Spec{{Name: "a", Dir: "rel", Restart: "on-failure", Replicas: 1, Command: "x"}}, `dir "rel" is not absolute`},
		{"empty command", []Spec{{Name: "a", Dir: dir, Restart: "on-failure", Replicas: 1}}, "service a: command is empty"},
		{"no restart policy", []Spec{{Name: "a", Dir: dir, Replicas: 1, Command: "x"}}, `service a: restart "" must be one of no|on-failure|always`},
		{"no replicas", []Spec{{Name: "a", Dir: dir, Restart: "no", Command: "x"}}, "service a: replicas must be at least 1, got 0"},
		{"no condition", []Spec{{Name: "a", Dir: dir, Restart: "no", Replicas: 1, Command: "x", DependsOn: map[string]string{"b": ""}}, {Name: "b", Dir: dir, Restart: "no", Replicas: 1, Command: "x"}}, `depends_on.b: condition "" must be one of started|healthy|completed`},
		{"two probes", []Spec{{Name: "a", Dir: dir, Restart: "on-failure", Replicas: 1, Command: "x", Probe: Probe{TCP: true, HTTP: "/"}}}, "set only one of"},
		{"bad log regexp", []Spec{{Name: "a", Dir: dir, Restart: "on-failure", Replicas: 1, Command: "x", Probe: Probe{Log: "("}}}, "ready.log"},
		{"probe without interval", []Spec{{Name: "a", Dir: dir, Restart: "on-failure", Replicas: 1, Command: "x", Probe: Probe{TCP: true, Timeout: time.Second}}}, "ready: interval and timeout must be greater than 0"},
		{"probe without timeout", []Spec{{Name: "a", Dir: dir, Restart: "on-failure", Replicas: 1, Command: "x", Probe: Probe{TCP: true, Interval: time.Second}}}, "ready: interval and timeout must be greater than 0"},
		{"negative backoff", []Spec{{Name: "a", Dir: dir, Restart: "on-failure", Replicas: 1, Command: "x", Backoff: -time.Second}}, "backoff and stop_grace must not be negative"},
		{"negative debounce", []Spec{{Name: "a", Dir: dir, Restart: "on-failure", Replicas: 1, Command: "x", Watch: &Watch{Debounce: -1}}}, "debounce must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.specs, Options{StateDir: t.TempDir()})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLogCapture(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("a", maxLine+100)
	writeFile(t, filepath.Join(dir, "long.txt"), long+"\n")
	h := newHarness(t, []Spec{{Name: "chatty", Dir: dir, Restart: "no", Replicas: 2,
		Command: `echo "out $DEVSTACK_REPLICA"; echo "err $DEVSTACK_REPLICA" >&2; cat long.txt; printf 'no newline'`}})
	h.start()
	h.waitFor("chatty", 30*time.Second, "completed", func(sv event.Service) bool { return sv.Status == event.StatusCompleted })
	type key struct {
		replica      int
		stream, text string
	}
	got := map[key]int{}
	for _, l := range h.logs.Tail(0, event.SourceFilter("chatty")) {
		got[key{l.Replica, l.Stream, l.Text}]++
	}
	for r := range 2 {
		for _, k := range []key{
			{r, "stdout", fmt.Sprintf("out %d", r)},
			{r, "stderr", fmt.Sprintf("err %d", r)},
			{r, "stdout", long[:maxLine]},
			{r, "stdout", long[maxLine:]},
			{r, "stdout", "no newline"},
		} {
			if got[k] != 1 {
				t.Errorf("line %v seen %d times, want 1", key{k.replica, k.stream, k.text[:min(len(k.text), 20)]}, got[k])
			}
		}
	}
	h.stop()
	b, err := os.ReadFile(filepath.Join(h.state, "logs", "chatty.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"stdout r0 | out 0", "stderr r1 | err 1", "stdout r1 | no newline\n", "| " + long[:maxLine] + "\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("log file lacks %q", want[:min(len(want), 40)])
		}
	}
}

func TestRestartAPIFixedPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	sp := httpSpec(t, "fixed", t.TempDir())
	sp.Port = port
	h := newHarness(t, []Spec{sp})
	h.start()
	if err := h.waitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	before := h.service("fixed").Instances[0]
	if before.Port != port {
		t.Fatalf("port %d, want %d", before.Port, port)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.sup.Restart(ctx, "fixed"); err != nil {
		t.Fatal(err)
	}
	after := h.service("fixed")
	if len(after.Instances) != 1 || after.Instances[0].PID == before.PID || after.Instances[0].Port != port ||
		after.Instances[0].Generation <= before.Generation || !after.Instances[0].Ready {
		t.Fatalf("after restart: %+v (before %+v)", after.Instances, before)
	}
	if alive(before.PID) {
		t.Errorf("old pid %d still alive", before.PID)
	}
	// Stop and Start
	if err := h.sup.Stop(ctx, "fixed"); err != nil {
		t.Fatal(err)
	}
	if sv := h.service("fixed"); sv.Status != event.StatusStopped || len(sv.Instances) != 0 {
		t.Fatalf("after stop: %+v", sv)
	}
	if err := h.sup.Start(ctx, "fixed"); err != nil {
		t.Fatal(err)
	}
	if sv := h.service("fixed"); sv.Status != event.StatusReady {
		t.Fatalf("after start: %+v", sv)
	}
	if _, err := get(port); err != nil {
		t.Fatal(err)
	}
}

func TestCPUAndMemorySampled(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 2s sampler")
	}
	h := newHarness(t, []Spec{{Name: "busy", Dir: t.TempDir(), Restart: "on-failure", Replicas: 1, Command: "exec sleep 1000"}})
	h.start()
	if err := h.waitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	h.waitFor("busy", 10*time.Second, "RSS sampled", func(sv event.Service) bool {
		return len(sv.Instances) == 1 && sv.Instances[0].RSS > 0
	})
}

// Zeros are taken as given: New defaults nothing (internal/config owns the defaults).
func TestZerosAreKept(t *testing.T) {
	dir := t.TempDir()
	s, err := New([]Spec{{Name: "z", Dir: dir, Replicas: 1, Command: "exit 1", Restart: "on-failure", MaxRestarts: 0, Backoff: 0, StopGrace: 0,
		Watch: &Watch{Debounce: 0}}}, Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	sp := s.services["z"].spec
	if sp.MaxRestarts != 0 || sp.Backoff != 0 || sp.StopGrace != 0 || sp.Watch.Debounce != 0 {
		t.Errorf("New changed zeros: max_restarts %d, backoff %s, stop_grace %s, debounce %s", sp.MaxRestarts, sp.Backoff, sp.StopGrace, sp.Watch.Debounce)
	}
}

// Backoff 0 restarts at once.
func TestBackoffZeroRestartsAtOnce(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, []Spec{{Name: "w", Dir: dir, Replicas: 1, Restart: "on-failure", MaxRestarts: 1, Backoff: 0, Command: "echo run; exit 1"}})
	h.start()
	h.waitFor("w", 30*time.Second, "gave up", func(sv event.Service) bool { return sv.Status == event.StatusFailed })
	var said []string
	for _, l := range h.logs.Tail(0, event.SourceFilter("w")) {
		said = append(said, l.Text)
	}
	if !slices.Contains(said, "replica 0 exited with code 1; restarting in 0s (1/1)") {
		t.Errorf("the log does not say the restart comes at once:\n%s", strings.Join(said, "\n"))
	}
}
