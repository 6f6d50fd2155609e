package supervisor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// A warm service's reload goes on a standby that has loaded the dependencies (the reload's timeline
// says so and the new code answers, its dependency already loaded); the standby is replaced after use,
// not used when the dependency manifest changed, and does not outlive devstack.
func TestWarmStandby(t *testing.T) {
	cases := []struct {
		name     string
		runtime  string
		app      string // the app's file, rewritten by a save
		manifest string // the dependency manifest a save changes
		command  string
		fixture  func(t *testing.T, dir, deps string)
		envVar   string // restored after go
	}{
		{name: "node", runtime: "node", app: "app.js", manifest: "package.json", command: "exec node app.js", envVar: "node_options=",
			fixture: func(t *testing.T, dir, _ string) {
				copyFile(t, "testdata/warm/node/app.js", filepath.Join(dir, "app.js"))
				copyFile(t, "testdata/warm/node/package.json", filepath.Join(dir, "package.json"))
				copyFile(t, "testdata/warm/node/heavy.js", filepath.Join(dir, "node_modules", "heavy", "index.js"))
			}},
		{name: "python", runtime: "python3", app: "app.py", manifest: "requirements.txt", command: "exec python3 app.py",
			fixture: func(t *testing.T, dir, deps string) {
				copyFile(t, "testdata/warm/python/app.py", filepath.Join(dir, "app.py"))
				copyFile(t, "testdata/warm/python/heavy.py", filepath.Join(deps, "heavy.py"))
				copyFile(t, "testdata/warm/python/appsettings.py", filepath.Join(dir, "appsettings.py"))
				writeFile(t, filepath.Join(dir, "requirements.txt"), "heavy==1.0\n")
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := exec.LookPath(tc.runtime); err != nil {
				t.Skipf("%s not installed", tc.runtime)
			}
			dir := t.TempDir()
			deps := filepath.Join(t.TempDir(), "site-packages")
			tc.fixture(t, dir, deps)
			mark := newMark(t)
			env := append(os.Environ(), mark, "DEVSTACK_WARM_RECORD_AFTER=0.3")
			// the app's dir on PYTHONPATH too (as in many containers): its modules are importable from the start
			env = append(withoutEnv(env, "PYTHONPATH", "NODE_OPTIONS"), "PYTHONPATH="+deps+string(os.PathListSeparator)+dir)
			envVar := tc.envVar
			if envVar == "" {
				envVar = "pythonpath=" + deps + string(os.PathListSeparator) + dir
			}
			sp := Spec{Name: "api", Dir: dir, Command: tc.command, Env: env, Replicas: 1, Restart: "no",
				Probe: Probe{HTTP: "/health", Interval: 20 * time.Millisecond, Timeout: 30 * time.Second},
				Watch: &Watch{Debounce: 20 * time.Millisecond, Warm: true}, StopGrace: 2 * time.Second}
			h := newHarness(t, []Spec{sp})
			h.start()
			if err := h.waitReady(30 * time.Second); err != nil {
				t.Fatal(err)
			}
			sv := h.sup.services["api"]
			standbyPID := func() int {
				sv.mu.Lock()
				defer sv.mu.Unlock()
				if sv.standby == nil {
					return 0
				}
				if _, err := os.Stat(sv.standby.fifo + ".hello"); err != nil {
					return 0
				}
				return sv.standby.proc.PID
			}
			waitUntil(t, 30*time.Second, "a standby waits", func() bool { return standbyPID() != 0 })
			first := standbyPID()

			// save rewrites the app's version (after also, when given, in the same burst) and waits for the
			// new instance answering it.
			save := func(version string, also func()) event.Service {
				t.Helper()
				if also != nil {
					also()
				}
				b, err := os.ReadFile(filepath.Join(dir, tc.app))
				if err != nil {
					t.Fatal(err)
				}
				src := versionRE.ReplaceAllString(string(b), "VERSION = ${1}"+version+"${1}")
				writeFile(t, filepath.Join(dir, tc.app), src)
				return h.waitFor("api", 30*time.Second, "reloaded to "+version, func(s event.Service) bool {
					if s.LastReload == nil || !s.LastReload.OK || len(readyInstances(s)) != 1 || len(s.Instances) != 1 {
						return false
					}
					body, err := get(s.Instances[0].Port)
					return err == nil && strings.HasPrefix(body, version+" ")
				})
			}

			// 1. the reload goes on the standby: the new code answers with its dependency preloaded
			s := save("v2", func() {
				if tc.runtime == "python3" { // the app's own module changes too: the standby must not have it loaded
					writeFile(t, filepath.Join(dir, "appsettings.py"), "VALUE = \"s2\"\n")
				}
			})
			if note := phaseNote(s.LastReload, "start"); note != "warm standby (pid "+strconv.Itoa(first)+")" {
				t.Errorf("start phase note = %q, want the standby (pid %d)", note, first)
			}
			if s.Instances[0].PID != first {
				t.Errorf("new instance pid %d, want the standby's %d", s.Instances[0].PID, first)
			}
			if tc.runtime == "python3" {
				envVar += " setting=s2"
			}
			if body, err := get(s.Instances[0].Port); err != nil || body != "v2 preloaded=true "+envVar {
				t.Errorf("new instance answers %q, %v; want %q", body, err, "v2 preloaded=true "+envVar)
			}

			// 2. a new standby replaces the used one
			waitUntil(t, 30*time.Second, "a new standby waits", func() bool { p := standbyPID(); return p != 0 && p != first })
			second := standbyPID()

			// 3. the dependency manifest changed: the standby is not used (cold start, said why)
			s = save("v3", func() {
				m, err := os.ReadFile(filepath.Join(dir, tc.manifest))
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, tc.manifest), strings.Replace(string(m), "1.0", "1.1", 1))
			})
			if note := phaseNote(s.LastReload, "start"); !strings.Contains(note, "cold: the dependencies changed") {
				t.Errorf("start phase note = %q, want a cold start because the dependencies changed", note)
			}
			if body, err := get(s.Instances[0].Port); err != nil || !strings.HasPrefix(body, "v3 preloaded=false") {
				t.Errorf("new instance answers %q, %v; want v3 started cold", body, err)
			}
			waitUntil(t, 10*time.Second, "the unused standby stopped", func() bool { return !alive(second) })

			// 4. no standby outlives devstack
			waitUntil(t, 30*time.Second, "a standby for the new dependencies", func() bool { p := standbyPID(); return p != 0 && p != second })
			h.stop()
			waitNoMarked(t, mark, 10*time.Second)
		})
	}
}

var versionRE = regexp.MustCompile(`VERSION = (['"])v\d+['"]`)

func phaseNote(r *event.Reload, name string) string {
	for _, p := range r.Timeline {
		if p.Name == name {
			return p.Note
		}
	}
	return ""
}

func withoutEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, n := range names {
			if k == n {
				keep = false
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(b))
}

// A warm service whose command never loads the preload (here a Go binary) has its standby stopped and
// warm turned off, with a warning; its reloads start cold and say so.
func TestWarmStandbyWithoutPreload(t *testing.T) {
	defer func(d time.Duration) { warmHelloWait = d }(warmHelloWait)
	warmHelloWait = 500 * time.Millisecond
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "VERSION"), "v1\n")
	mark := newMark(t)
	sp := httpSpec(t, "api", dir)
	sp.Env = append(sp.Env, mark)
	sp.Watch = &Watch{Debounce: 20 * time.Millisecond, Warm: true}
	h := newHarness(t, []Spec{sp})
	h.start()
	if err := h.waitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	sv := h.sup.services["api"]
	waitUntil(t, 30*time.Second, "warm turned off", func() bool {
		sv.mu.Lock()
		defer sv.mu.Unlock()
		return sv.warmOff && sv.standby == nil
	})
	if !hasSystemLine(h, "api", func(text string) bool { return strings.Contains(text, "did not load devstack's preload") }) {
		t.Error("no log line saying the standby did not load the preload")
	}
	// only the running instance is left (its shim and the helper)
	deadline := time.Now().Add(5 * time.Second)
	for len(markedProcs(mark)) != 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if ps := markedProcs(mark); len(ps) != 2 {
		var desc []string
		for _, p := range ps {
			cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.pid))
			desc = append(desc, fmt.Sprintf("pid %d %q", p.pid, strings.ReplaceAll(string(cmd), "\x00", " ")))
		}
		t.Errorf("processes carrying the mark: %s; want the instance and its shim", strings.Join(desc, "; "))
	}
	writeFile(t, filepath.Join(dir, "VERSION"), "v2\n")
	s := h.waitFor("api", 30*time.Second, "reloaded", func(s event.Service) bool {
		return s.LastReload != nil && s.LastReload.OK && len(readyInstances(s)) == 1
	})
	if note := phaseNote(s.LastReload, "start"); note != "cold: warm is off (no preload)" {
		t.Errorf("start phase note = %q, want a cold start because warm is off", note)
	}
	if body, err := get(s.Instances[0].Port); err != nil || !strings.HasPrefix(body, "v2 ") {
		t.Errorf("new instance answers %q, %v", body, err)
	}
}
