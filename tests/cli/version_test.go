package cli_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

const modulePath = "github.com/devstack-dev/devstack"

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

type versionJSON struct {
	Version, Commit, Go, Platform string
	Modified                      bool
	Components                    []struct{ Name, Module, Version string }
	PostgreSQL                    struct{ Version, Source, Dir, Error string }
}

func versionOf(t *testing.T, exe string) (versionJSON, string) {
	t.Helper()
	dir := t.TempDir() // no devstack.yaml: the defaults
	text, err := exec.Command(exe, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("devstack version: %v\n%s", err, text)
	}
	cmd := exec.Command(exe, "version", "--json")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("devstack version --json: %v\n%s", err, out)
	}
	var v versionJSON
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("version --json: %v\n%s", err, out)
	}
	return v, string(text)
}

// required reads a module's version from go.mod's require lines.
func required(t *testing.T, module string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(module) + `\s+(\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("go.mod does not require %s", module)
	}
	return string(m[1])
}

func checkComponents(t *testing.T, v versionJSON, text string) {
	t.Helper()
	if v.Go != runtime.Version() || !strings.Contains(text, runtime.Version()) {
		t.Errorf("go version %q, want %q:\n%s", v.Go, runtime.Version(), text)
	}
	want := map[string]string{
		"franz-go": required(t, "github.com/twmb/franz-go"),
		"kfake":    required(t, "github.com/twmb/franz-go/pkg/kfake"),
	}
	for _, c := range v.Components {
		if w, ok := want[c.Name]; ok {
			if c.Version != w {
				t.Errorf("%s %s, want %s (go.mod)", c.Name, c.Version, w)
			}
			if !strings.Contains(text, c.Name) || !strings.Contains(text, w) {
				t.Errorf("text output lacks %s %s:\n%s", c.Name, w, text)
			}
			delete(want, c.Name)
		}
	}
	if len(want) > 0 {
		t.Errorf("components lack %v: %+v", want, v.Components)
	}
	if v.PostgreSQL.Version == "" || v.PostgreSQL.Source == "" || !strings.Contains(text, "postgresql") {
		t.Errorf("no PostgreSQL version: %+v\n%s", v.PostgreSQL, text)
	}
}

func goBuild(t *testing.T, out string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", append(append([]string{"build", "-o", out}, args...), "./cmd/devstack")...)
	cmd.Dir = repoRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
}

// A plain go build without VCS information says "dev"; the Makefile's (and GoReleaser's) ldflags set
// the version and commit.
func TestVersionBuilds(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	goBuild(t, plain, "-buildvcs=false")
	v, text := versionOf(t, plain)
	if v.Version != "dev" || v.Commit != "" || !strings.HasPrefix(text, "devstack dev\n") {
		t.Errorf("plain build: version %q commit %q, want dev and none:\n%s", v.Version, v.Commit, text)
	}
	checkComponents(t, v, text)

	stamped := filepath.Join(dir, "stamped")
	goBuild(t, stamped, "-buildvcs=false", "-ldflags",
		"-X "+modulePath+"/internal/cli.Version=v1.2.3 -X "+modulePath+"/internal/cli.Commit=0123456789abcdef")
	v, text = versionOf(t, stamped)
	if v.Version != "v1.2.3" || v.Commit != "0123456789abcdef" || !strings.HasPrefix(text, "devstack v1.2.3\n") ||
		!strings.Contains(text, "0123456789abcdef") {
		t.Errorf("ldflags build: version %q commit %q:\n%s", v.Version, v.Commit, text)
	}
	checkComponents(t, v, text)
}

// `go install github.com/devstack-dev/devstack/cmd/devstack@<version>` builds from the module as a
// proxy serves it (the committed files, no replace directives, nothing generated left out), and the
// installed devstack reports that version. The module is served at a unique version from a file proxy
// made of the files git tracks; the other modules come from the module cache.
func TestGoInstallAtVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds devstack from a module zip")
	}
	root := repoRoot(t)
	version := fmt.Sprintf("v0.99.0-installtest.%d", time.Now().UnixNano())
	ls, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	files := strings.Split(strings.TrimRight(string(ls), "\x00"), "\x00")
	var nested []string // directories of other modules, left out of a module zip
	for _, f := range files {
		if filepath.Base(f) == "go.mod" && f != "go.mod" {
			nested = append(nested, filepath.Dir(f)+"/")
		}
	}
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
next:
	for _, f := range files {
		for _, n := range nested {
			if strings.HasPrefix(f, n) {
				continue next
			}
		}
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted in the work tree
			}
			t.Fatal(err)
		}
		w, err := zw.Create(modulePath + "@" + version + "/" + f)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(gomod, []byte("\nreplace")) {
		t.Errorf("go.mod has replace directives: go install ignores them")
	}
	tmp := t.TempDir()
	at := filepath.Join(tmp, "proxy", modulePath, "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"list":            []byte(version + "\n"),
		version + ".info": fmt.Appendf(nil, `{"Version":%q,"Time":%q}`, version, time.Now().UTC().Format(time.RFC3339)),
		version + ".mod":  gomod,
		version + ".zip":  zbuf.Bytes(),
	} {
		if err := os.WriteFile(filepath.Join(at, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := func(k string) string {
		out, _ := exec.Command("go", "env", k).Output()
		return strings.TrimSpace(string(out))
	}
	modcache := env("GOMODCACHE")
	// the unique version is removed from the shared module cache afterwards
	t.Cleanup(func() {
		os.RemoveAll(filepath.Join(modcache, modulePath+"@"+version))
		ms, _ := filepath.Glob(filepath.Join(modcache, "cache", "download", modulePath, "@v", version+".*"))
		for _, m := range ms {
			os.Remove(m)
		}
	})
	gobin := filepath.Join(tmp, "bin")
	cmd := exec.Command("go", "install", modulePath+"/cmd/devstack@"+version)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(),
		"GOBIN="+gobin,
		"GOPROXY=file://"+filepath.Join(tmp, "proxy")+","+env("GOPROXY"),
		"GONOSUMDB="+modulePath,
		"GOFLAGS=-modcacherw",
	)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install %s@%s: %v\n%s", modulePath+"/cmd/devstack", version, err, out)
	}
	t.Logf("go install took %s", time.Since(start).Round(time.Second))
	v, text := versionOf(t, filepath.Join(gobin, "devstack"))
	if v.Version != version || !strings.HasPrefix(text, "devstack "+version+"\n") {
		t.Errorf("installed devstack says version %q, want %q:\n%s", v.Version, version, text)
	}
	checkComponents(t, v, text)
}
