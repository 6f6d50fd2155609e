package supervisor

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFileFilter(t *testing.T) {
	f := &fileFilter{dir: "/srv/app", include: []string{"*.go", "go.mod"},
		ignore: append(slices.Clone(DefaultIgnore), "internal/gen"), setupInputs: []string{"go.sum"},
		ignoreAbs: []string{"/srv/app/.state"}}
	tests := []struct {
		path string
		want bool
	}{
		{"/srv/app/main.go", true},
		{"/srv/app/pkg/x/y.go", true},
		{"/srv/app/go.mod", true},
		{"/srv/app/go.sum", true}, // setup input: always wanted
		{"/srv/app/README.md", false},
		{"/srv/app/vendor/node_modules/a.go", false},
		{"/srv/app/internal/gen/a.go", false},
		{"/srv/app/.git/HEAD", false},
		{"/srv/app/.state/logs/x.go", false},
		{"/srv/app/main.go~", false},
		{"/srv/app/.main.go.swp", false},
		{"/srv/app/4913", false},
	}
	for _, tc := range tests {
		if got := f.wants(tc.path); got != tc.want {
			t.Errorf("wants(%s) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

// fakeClock runs AfterFunc callbacks when Advance passes their time.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c    *fakeClock
	at   time.Time
	f    func()
	dead bool
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.dead
	t.dead = true
	return was
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) interface{ Stop() bool } {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	for _, t := range c.timers {
		if !t.dead && !t.at.After(c.now) {
			t.dead = true
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

func TestCoalescer(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	var got []change
	co := newCoalescer(clk, 200*time.Millisecond, 10*time.Second, func(c change) { got = append(got, c) })

	// a burst with gaps shorter than the quiet period is one change, fired after the quiet period
	co.add("a")
	clk.Advance(150 * time.Millisecond)
	co.add("b")
	co.add("a")
	clk.Advance(150 * time.Millisecond)
	if len(got) != 0 {
		t.Fatalf("fired during the burst: %+v", got)
	}
	clk.Advance(50 * time.Millisecond)
	if len(got) != 1 || strings.Join(got[0].Paths, ",") != "a,b" || !got[0].First.Equal(time.Unix(1000, 0)) {
		t.Fatalf("got %+v, want one change a,b", got)
	}

	// a never-ending burst is cut off by the cap
	got = nil
	for range 60 {
		co.add("c")
		clk.Advance(190 * time.Millisecond)
	}
	if len(got) != 1 {
		t.Fatalf("after 11.4s of continuous changes: %d changes, want 1 (capped at 10s)", len(got))
	}
	clk.Advance(200 * time.Millisecond)
	if len(got) != 2 {
		t.Fatalf("the rest of the burst: %d changes, want 2", len(got))
	}
	co.add("d")
	co.stop()
	clk.Advance(time.Second)
	if len(got) != 2 {
		t.Fatal("fired after stop")
	}
}

// The real watcher: recursive, picks up new directories (and files created in them before the watch
// was added), honours ignores.
func TestWatcher(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "src", "main.go"), "package main")
	writeFile(t, filepath.Join(dir, "node_modules", "x", "index.js"), "")
	changes := make(chan change, 16)
	f := &fileFilter{dir: dir, ignore: DefaultIgnore}
	co := newCoalescer(realClock{}, 30*time.Millisecond, time.Second, func(c change) { changes <- c })
	w, err := newWatcher([]string{dir}, f, co, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.run(ctx) }()
	defer func() { cancel(); <-done }()

	expect := func(want ...string) {
		t.Helper()
		select {
		case c := <-changes:
			var rel []string
			for _, p := range c.Paths {
				r, _ := filepath.Rel(dir, p)
				rel = append(rel, r)
			}
			slices.Sort(rel)
			slices.Sort(want)
			if !slices.Equal(rel, want) {
				t.Fatalf("change %v, want %v", rel, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no change, want %v", want)
		}
	}
	writeFile(t, filepath.Join(dir, "node_modules", "x", "index.js"), "ignored")
	writeFile(t, filepath.Join(dir, "src", ".main.go.swp"), "ignored")
	writeFile(t, filepath.Join(dir, "src", "main.go"), "package main // changed")
	expect("src/main.go")

	// a new nested directory is watched, and files already in it count
	if err := os.MkdirAll(filepath.Join(dir, "pkg", "deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "pkg", "deep", "a.go"), "package deep")
	c := <-changes
	if !slices.ContainsFunc(c.Paths, func(p string) bool { return strings.HasSuffix(p, "pkg/deep/a.go") }) {
		// the file may have been written before the directory's watch: it is reported by the walk
		t.Fatalf("change %v lacks pkg/deep/a.go", c.Paths)
	}
	drainChanges(changes)
	writeFile(t, filepath.Join(dir, "pkg", "deep", "a.go"), "package deep // changed")
	expect("pkg/deep/a.go")
}

func drainChanges(ch chan change) {
	for {
		select {
		case <-ch:
		case <-time.After(200 * time.Millisecond):
			return
		}
	}
}

func TestReadLines(t *testing.T) {
	long := strings.Repeat("x", maxLine*2+10)
	in := "one\r\ntwo\n\n" + long + "\nlast"
	var got []string
	readLines(strings.NewReader(in), func(s string) { got = append(got, s) })
	want := []string{"one", "two", "", long[:maxLine], long[maxLine : 2*maxLine], long[2*maxLine:], "last"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %d lines %q…, want %d", len(got), got[:min(3, len(got))], len(want))
	}
}

func TestLogFileRotates(t *testing.T) {
	dir := t.TempDir()
	const maxLogBytes = 10 << 20
	l := openLogFile(dir, "svc", maxLogBytes, 1)
	line := strings.Repeat("y", 1000)
	for range maxLogBytes/1000 + 10 {
		l.write(time.Now(), 0, "stdout", line)
	}
	l.write(time.Now(), 0, "stdout", "newest")
	l.close()
	cur, err := os.ReadFile(filepath.Join(dir, "svc.log"))
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(filepath.Join(dir, "svc.log.1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(old) > maxLogBytes || len(cur) > maxLogBytes || !strings.HasSuffix(string(cur), "| newest\n") {
		t.Fatalf("sizes %d/%d", len(old), len(cur))
	}
}

// Processes recorded in StateDir/pids by a devstack that died are killed by the next New.
func TestLeftoversKilled(t *testing.T) {
	state := t.TempDir()
	tok := newToken()
	cmd := exec.Command("sleep", "1000")
	cmd.Env = append(os.Environ(), envInstanceID+"="+tok)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	dead := exec.Command("true")
	_ = dead.Run()
	rec, _ := json.Marshal(pidRecord{Devstack: dead.Process.Pid, DevstackStart: 1, Shim: cmd.Process.Pid,
		PGID: cmd.Process.Pid, Token: tok})
	writeFile(t, filepath.Join(state, "pids", tok), string(rec))
	// a record of a live devstack (this process) is left alone
	liveTok := newToken()
	live, _ := json.Marshal(pidRecord{Devstack: os.Getpid(), DevstackStart: startTime(os.Getpid()), Token: liveTok})
	writeFile(t, filepath.Join(state, "pids", liveTok), string(live))

	if _, err := New([]Spec{{Name: "a", Dir: t.TempDir(), Restart: "on-failure", Replicas: 1, Command: "true"}}, Options{StateDir: state}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("leftover process was not killed")
	}
	if _, err := os.Stat(filepath.Join(state, "pids", tok)); !os.IsNotExist(err) {
		t.Error("record of the leftover not removed")
	}
	if _, err := os.Stat(filepath.Join(state, "pids", liveTok)); err != nil {
		t.Error("record of a live devstack removed")
	}
}

func TestGitIgnore(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, ".gitignore"), "# build output\nbin/\n/services/api/tmp\n*.gen.go\n!keep.gen.go\n/other\n**/cache\n")
	dir := filepath.Join(root, "services", "api")
	writeFile(t, filepath.Join(dir, ".gitignore"), "/out\n")
	got := gitIgnores(dir)
	want := []string{"/out", "bin", "/tmp", "*.gen.go", "**/cache"}
	if !slices.Equal(got, want) {
		t.Fatalf("gitIgnores = %q, want %q", got, want)
	}
	f := &fileFilter{dir: dir, ignore: DefaultIgnore, gitIgnore: got}
	for path, want := range map[string]bool{
		"main.go": true, "bin/app": false, "tmp/x": false, "out/y": false, "pkg/a.gen.go": false,
		"other/z.go": true, "pkg/cache/c": false,
	} {
		if f.wants(filepath.Join(dir, path)) != want {
			t.Errorf("wants(%s) = %v, want %v", path, !want, want)
		}
	}
	f.include = []string{"*.go"}
	if !f.wants(filepath.Join(dir, "pkg", "a.gen.go")) {
		t.Error("an explicit include must win over .gitignore")
	}
}
