package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// Warm starts skip the build only while its inputs are unchanged; every step below is a new
// supervisor (a new `devstack up`) on the same state dir.
func TestBuildSkippedOnWarmStart(t *testing.T) {
	type env struct {
		root, dir string // dir is the service's; root holds what lives outside it
		sp        *Spec
	}
	type step struct {
		name      string
		before    func(t *testing.T, e env)
		after     func(t *testing.T, h *harness) // with the supervisor still running
		builds    int                            // how many times the build runs in this step
		wantLines []string                       // system lines (prefixes), in this order
		noLines   []string                       // system line prefixes that must not appear
	}
	built := "build finished in "
	skippedLine := "build skipped: sources unchanged since last build ("
	steps := []step{
		{name: "first start builds", builds: 1, wantLines: []string{built}, noLines: []string{"building: "}},
		{name: "warm start skips", builds: 0, wantLines: []string{skippedLine}, noLines: []string{built}},
		{name: "touched but unchanged source skips", before: func(t *testing.T, e env) {
			later := time.Now().Add(time.Minute)
			if err := os.Chtimes(filepath.Join(e.dir, "src", "main.txt"), later, later); err != nil {
				t.Fatal(err)
			}
		}, builds: 0, wantLines: []string{skippedLine}},
		{name: "ignored file changes skip", before: func(t *testing.T, e env) {
			writeFile(t, filepath.Join(e.dir, "node_modules", "dep", "index.js"), "x")
			writeFile(t, filepath.Join(e.dir, "app.log"), "x")
		}, builds: 0, wantLines: []string{skippedLine}},
		{name: "edited source builds", before: func(t *testing.T, e env) {
			writeFile(t, filepath.Join(e.dir, "src", "main.txt"), "v2")
		}, builds: 1, wantLines: []string{"building: src/main.txt changed", built}},
		{name: "new source builds", before: func(t *testing.T, e env) {
			writeFile(t, filepath.Join(e.dir, "src", "extra.txt"), "x")
		}, builds: 1, wantLines: []string{"building: src/extra.txt (new) changed", built}},
		{name: "deleted source builds", before: func(t *testing.T, e env) {
			if err := os.Remove(filepath.Join(e.dir, "src", "extra.txt")); err != nil {
				t.Fatal(err)
			}
		}, builds: 1, wantLines: []string{"building: src/extra.txt (deleted) changed", built}},
		{name: "changed env builds", before: func(t *testing.T, e env) {
			e.sp.Env = append(e.sp.Env, "FEATURE_FLAG=on")
		}, builds: 1, wantLines: []string{"building: environment changed: FEATURE_FLAG", built}},
		{name: "changed build command builds", before: func(t *testing.T, e env) {
			e.sp.Build += " # v2"
		}, builds: 1, wantLines: []string{"building: build command, directory or setup inputs changed", built}},
		{name: "deleted output in the directory builds", before: func(t *testing.T, e env) {
			if err := os.Remove(filepath.Join(e.dir, "out", "app")); err != nil {
				t.Fatal(err)
			}
		}, builds: 1, wantLines: []string{"building: build outputs changed since the last build: out/app (deleted)", built}},
		{name: "Rebuild always builds", after: func(t *testing.T, h *harness) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := h.sup.Rebuild(ctx, "svc"); err != nil {
				t.Fatalf("Rebuild: %v", err)
			}
		}, builds: 1, wantLines: []string{skippedLine, built}},
		{name: "missing output outside the directory rebuilds and retries", before: func(t *testing.T, e env) {
			if err := os.Remove(filepath.Join(e.root, "ext", "ok")); err != nil {
				t.Fatal(err)
			}
		}, after: func(t *testing.T, h *harness) {
			// without a probe the instance counted as ready before it crashed: wait for the retry
			waitUntil(t, 60*time.Second, "rebuilt", func() bool { return hasSystemLine(h, "svc", prefixed(built)) })
			if err := h.waitReady(60 * time.Second); err != nil {
				t.Fatalf("WaitReady after the retry: %v", err)
			}
		}, builds: 1, wantLines: []string{skippedLine, "start failed after a skipped build; rebuilding once in case the build outputs are missing or stale", built}},
		{name: "warm start skips again", builds: 0, wantLines: []string{skippedLine}},
		{name: "AlwaysBuild builds", before: func(t *testing.T, e env) { e.sp.AlwaysBuild = true },
			builds: 1, wantLines: []string{built}, noLines: []string{"build skipped", "building: "}},
		{name: "AlwaysBuild builds every time", builds: 1, wantLines: []string{built}, noLines: []string{"build skipped"}},
	}
	variants := []struct {
		name string
		spec func(t *testing.T, dir string) Spec
	}{
		{"watch and http probe", func(t *testing.T, dir string) Spec {
			sp := httpSpec(t, "svc", dir)
			sp.Command = fmt.Sprintf("cat ../ext/ok >/dev/null && test -f out/app && exec %q", selfExe(t))
			sp.Watch = &Watch{Paths: []string{"src"}, Include: []string{"*.txt"}, Debounce: 20 * time.Millisecond}
			return sp
		}},
		{"no watch and no probe", func(t *testing.T, dir string) Spec {
			return Spec{Name: "svc", Dir: dir, Restart: "on-failure", Replicas: 1, Backoff: 10 * time.Millisecond, Env: os.Environ(),
				Command: "cat ../ext/ok >/dev/null || exit 3; test -f out/app || exit 4; exec sleep 1000"}
		}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "svc")
			state := filepath.Join(root, ".devstack")
			writeFile(t, filepath.Join(dir, "src", "main.txt"), "v1")
			sp := v.spec(t, dir)
			// the outputs: out/app inside the directory (not ignored: recorded as an output) and
			// ext/ok outside it (not covered by the output check)
			sp.Build = `echo b >> ../builds.count; mkdir -p out ../ext; cp src/main.txt out/app; echo ok > ../ext/ok`
			e := env{root: root, dir: dir, sp: &sp}
			builds := func() int {
				b, _ := os.ReadFile(filepath.Join(root, "builds.count"))
				return strings.Count(string(b), "\n")
			}
			for _, st := range steps {
				if t.Failed() {
					return // later steps depend on earlier ones
				}
				t.Run(st.name, func(t *testing.T) {
					if st.before != nil {
						st.before(t, e)
					}
					n := builds()
					h := newHarness(t, []Spec{sp}, func(o *Options) { o.StateDir = state })
					h.start()
					if err := h.waitReady(60 * time.Second); err != nil {
						t.Fatalf("WaitReady: %v", err)
					}
					if st.after != nil {
						st.after(t, h)
					}
					h.stop()
					sv := h.service("svc")
					if sv.Error != "" {
						t.Errorf("service error %q", sv.Error)
					}
					var lines []string
					for _, l := range h.logs.Tail(0, event.SourceFilter("svc")) {
						if l.Stream == "system" {
							lines = append(lines, l.Text)
						}
					}
					if got := builds() - n; got != st.builds {
						t.Errorf("build ran %d times, want %d; system lines:\n%s", got, st.builds, strings.Join(lines, "\n"))
					}
					i := 0
					for _, l := range lines {
						if i < len(st.wantLines) && strings.HasPrefix(l, st.wantLines[i]) {
							i++
						}
						for _, no := range st.noLines {
							if strings.HasPrefix(l, no) {
								t.Errorf("unexpected line %q", l)
							}
						}
					}
					if i < len(st.wantLines) {
						t.Errorf("missing line %q (lines in order: %q); system lines:\n%s", st.wantLines[i], st.wantLines, strings.Join(lines, "\n"))
					}
				})
			}
		})
	}
}

// The fingerprint covers exactly the files the watch filter selects (or Dir with the default
// ignores and .gitignore), reads only files whose stat changed, and sees a same-size rewrite whose
// mtime was put back.
func TestBuildInputsScan(t *testing.T) {
	files := map[string]string{
		"src/a.ts":                 "export const a = 1",
		"src/b.ts":                 "export const b = 2",
		"src/notes.md":             "notes",
		"README.md":                "readme",
		".gitignore":               "generated/\n",
		"generated/g.ts":           "gen",
		"node_modules/x/index.js":  "dep",
		"src/node_modules/y.ts":    "dep",
		"dist/main.js":             "out",
		"package-lock.json":        "{}",
		".git/HEAD":                "ref",
		"src/.#a.ts":               "editor lock",
		"src/deep/er/c.ts":         "export const c = 3",
		"coverage/lcov-report.txt": "cov",
	}
	tests := []struct {
		name  string
		watch *Watch
		want  []string
	}{
		{"watch paths and include", &Watch{Paths: []string{"src"}, Include: []string{"**/*.ts"}},
			[]string{"src/a.ts", "src/b.ts", "src/deep/er/c.ts"}}, // setup inputs count through the setup hash
		{"watch with ignore", &Watch{Ignore: []string{"*.md", "deep"}},
			[]string{".gitignore", "package-lock.json", "src/a.ts", "src/b.ts"}},
		{"no watch", nil,
			[]string{".gitignore", "README.md", "package-lock.json", "src/a.ts", "src/b.ts", "src/deep/er/c.ts", "src/notes.md"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			old := time.Now().Add(-time.Hour)
			for name, content := range files {
				p := filepath.Join(dir, name)
				writeFile(t, p, content)
				if err := os.Chtimes(p, old, old); err != nil {
					t.Fatal(err)
				}
			}
			s, err := New([]Spec{{Name: "svc", Dir: dir, Restart: "on-failure", Replicas: 1, Command: "true", Watch: tc.watch, SetupInputs: []string{"package-lock.json"}}},
				Options{StateDir: filepath.Join(dir, ".devstack")})
			if err != nil {
				t.Fatal(err)
			}
			sv := s.services["svc"]
			// ctime is now and cannot be set back: scan "an hour later" so the stats count as settled
			later := time.Now().Add(time.Hour)
			in := sv.scanBuildInputs("", nil, later)
			var got []string
			for name := range in.rec.Files {
				got = append(got, name)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("inputs = %q, want %q", got, tc.want)
			}
			if in.hashed != len(tc.want) {
				t.Errorf("cold scan read %d files, want %d", in.hashed, len(tc.want))
			}
			prev := in.rec
			warm := sv.scanBuildInputs("", &prev, later)
			if warm.hashed != 0 {
				t.Errorf("warm scan read %d files, want 0", warm.hashed)
			}
			if why := sv.staleReason(warm, &prev); why != "" {
				t.Errorf("unchanged inputs are stale: %s", why)
			}
			// same size, mtime put back (cp -p, rsync -t): the ctime gives it away
			a := filepath.Join(dir, "src", "a.ts")
			writeFile(t, a, "export const a = 9")
			if err := os.Chtimes(a, old, old); err != nil {
				t.Fatal(err)
			}
			changed := sv.scanBuildInputs("", &prev, later)
			if changed.hashed != 1 {
				t.Errorf("after one rewrite, read %d files, want 1", changed.hashed)
			}
			if why := sv.staleReason(changed, &prev); why != "src/a.ts changed" {
				t.Errorf("stale reason = %q, want %q", why, "src/a.ts changed")
			}
			// a file written within racyWindow of the scan is re-read next time even if its stat matches
			fresh := sv.scanBuildInputs("", &prev, time.Now())
			if r := fresh.rec.Files["src/a.ts"]; r.MTime != 0 {
				t.Errorf("a just-written file is trusted by its stat: %+v", r)
			}
		})
	}
}

// BenchmarkBuildInputs measures the warm-start check on the sample NestJS service (run
// `make deps` or `npm ci` in sample-services/users first so node_modules is there to be ignored).
func BenchmarkBuildInputs(b *testing.B) {
	dir, err := filepath.Abs("../../sample-services/users")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		b.Skipf("no %s/node_modules: install the sample's dependencies first", dir)
	}
	for _, bc := range []struct {
		name  string
		watch *Watch
	}{
		{"sample watch", &Watch{Paths: []string{"src"}, Include: []string{"**/*.ts"}}},
		{"whole dir", nil},
	} {
		s, err := New([]Spec{{Name: "users", Dir: dir, Restart: "on-failure", Replicas: 1, Command: "true", Build: "npx nest build", Watch: bc.watch,
			Setup: "npm ci", SetupInputs: []string{"package-lock.json"}}}, Options{StateDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		sv := s.services["users"]
		b.Run(bc.name+"/cold", func(b *testing.B) {
			for b.Loop() {
				sv.scanBuildInputs("", nil, time.Now())
			}
		})
		b.Run(bc.name+"/warm", func(b *testing.B) {
			sum := setupHash(dir, "npm ci", []string{"package-lock.json"})
			prev := sv.scanBuildInputs(sum, nil, time.Now().Add(time.Hour)).rec
			var in *buildInputs
			for b.Loop() {
				sum := setupHash(dir, "npm ci", []string{"package-lock.json"})
				in = sv.scanBuildInputs(sum, &prev, time.Now().Add(time.Hour))
			}
			b.ReportMetric(float64(len(in.rec.Files)), "files")
			b.ReportMetric(float64(in.hashed), "read")
		})
	}
}

// hasSystemLine reports whether devstack logged a line of its own (stream "system") for service that
// match accepts.
func hasSystemLine(h *harness, service string, match func(text string) bool) bool {
	for _, l := range h.logs.Tail(0, event.SourceFilter(service)) {
		if l.Stream == "system" && match(l.Text) {
			return true
		}
	}
	return false
}

// prefixed matches a line that starts with prefix (for hasSystemLine).
func prefixed(prefix string) func(string) bool {
	return func(text string) bool { return strings.HasPrefix(text, prefix) }
}

// Outputs of earlier builds that an incremental build leaves alone stay recorded (and out of the
// inputs), and one edited by hand afterwards counts as changed.
func TestBuildOutputsCarriedForward(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "src", "main.txt"), "v1")
	s, err := New([]Spec{{Name: "svc", Dir: dir, Restart: "on-failure", Replicas: 1, Command: "true", Build: "make"}}, Options{StateDir: filepath.Join(dir, ".devstack")})
	if err != nil {
		t.Fatal(err)
	}
	sv := s.services["svc"]
	outputs := func(m map[string]fileStat) []string {
		var out []string
		for name := range m {
			out = append(out, name)
		}
		slices.Sort(out)
		return out
	}
	// a full build writes out/a and out/b
	in0 := sv.scanBuildInputs("", nil, time.Now())
	old := time.Now().Add(-time.Hour)
	for _, f := range []string{"out/a", "out/b"} {
		writeFile(t, filepath.Join(dir, f), "built 1")
		if err := os.Chtimes(filepath.Join(dir, f), old, old); err != nil {
			t.Fatal(err)
		}
	}
	in0.rec.Outputs = sv.scanOutputs(in0, old.Add(-time.Minute))
	if got := outputs(in0.rec.Outputs); !slices.Equal(got, []string{"out/a", "out/b"}) {
		t.Fatalf("outputs of the full build = %q", got)
	}
	r0 := in0.rec
	// the next scan leaves untouched outputs out of the inputs
	in1 := sv.scanBuildInputs("", &r0, time.Now())
	if _, ok := in1.rec.Files["out/a"]; ok {
		t.Error("an untouched output counts as an input")
	}
	if why := sv.staleReason(in1, &r0); why != "" {
		t.Fatalf("stale after a build: %s", why)
	}
	// an incremental build rewrites out/a only: out/b stays recorded
	began := time.Now()
	writeFile(t, filepath.Join(dir, "out", "a"), "built 2")
	in1.rec.Outputs = sv.scanOutputs(in1, began)
	if got := outputs(in1.rec.Outputs); !slices.Equal(got, []string{"out/a", "out/b"}) {
		t.Fatalf("outputs after an incremental build = %q, want out/a and out/b", got)
	}
	r1 := in1.rec
	// out/b edited by hand: the next start builds, and out/b is an input from now on
	writeFile(t, filepath.Join(dir, "out", "b"), "edited")
	in2 := sv.scanBuildInputs("", &r1, time.Now())
	if _, ok := in2.rec.Files["out/b"]; !ok {
		t.Error("an edited former output is not an input")
	}
	if why := sv.staleReason(in2, &r1); !strings.Contains(why, "out/b") {
		t.Errorf("stale reason = %q, want it to name out/b", why)
	}
}
