package stackcopy

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/devstack-dev/devstack/internal/config"
)

// project lays out a stack like the sample: node (installed), python (installed), go, and a second
// python service on the same directory, plus a node service whose dependencies are not installed.
func project(t *testing.T, yml string) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"devstack.yaml":                   yml,
		"svc/web/src/main.ts":             "export {}\n",
		"svc/web/package-lock.json":       "{}\n",
		"svc/web/node_modules/x/index.js": "module.exports = 1\n",
		"svc/web/dist/main.js":            "built\n",
		"svc/py/manage.py":                "print(1)\n",
		"svc/py/requirements.txt":         "django\n",
		"svc/py/.venv/bin/python":         "#!/bin/sh\n",
		"svc/py/app/__pycache__/x.pyc":    "pyc\n",
		"svc/py/db.sqlite3":               "sqlite\n",
		"svc/go/main.go":                  "package main\n",
		"svc/go/bin/go":                   "built\n",
		"svc/cold/package.json":           "{}\n",
		"svc/.devstack/devstack.log":      "state\n",
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// treeSum fingerprints a tree (names, modes, contents, link targets) to prove it was not touched.
func treeSum(t *testing.T, root string) string {
	t.Helper()
	h := sha256.New()
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, _ := d.Info()
		fmt.Fprintf(h, "%s %v %d\n", p, fi.Mode(), fi.Size())
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			h.Write(b)
		}
		return nil
	})
	return fmt.Sprintf("%x", h.Sum(nil))
}

const sampleYAML = `name: copy-test
services:
  web:
    dir: svc/web
    setup: npm ci --no-audit # installs
    setup_inputs: [package-lock.json]
    command: exec node dist/main.js
  go:
    dir: svc/go
    setup: go mod download
    command: exec ./bin/go
  py:
    dir: svc/py
    setup: python3 -m venv .venv && .venv/bin/pip install -r requirements.txt
    command: exec .venv/bin/python manage.py
  py-worker:
    dir: svc/py
    command: exec .venv/bin/python manage.py worker
  cold:
    dir: svc/cold
    setup: npm ci
    command: exec node main.js
`

func TestCopyLinksDependenciesAndSkipsTheirSetup(t *testing.T) {
	root := project(t, sampleYAML)
	before := treeSum(t, root)
	dst := t.TempDir()
	res, err := Copy(root, dst, "svc")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Skipped, []string{"web", "py"}; !slices.Equal(got, want) {
		t.Errorf("setup turned off for %v, want %v", got, want)
	}
	if got, want := res.Linked, []string{"svc/web/node_modules", "svc/py/.venv"}; !slices.Equal(got, want) {
		t.Errorf("linked %v, want %v", got, want)
	}
	for _, tt := range []struct {
		path string
		want string // "file", "link", "none"
	}{
		{"svc/web/src/main.ts", "file"},
		{"svc/web/package-lock.json", "file"},
		{"svc/web/node_modules", "link"},
		{"svc/web/dist", "none"},
		{"svc/py/manage.py", "file"},
		{"svc/py/.venv", "link"},
		{"svc/py/app/__pycache__", "none"},
		{"svc/py/db.sqlite3", "none"},
		{"svc/go/main.go", "file"},
		{"svc/go/bin", "none"},
		{"svc/cold/package.json", "file"},
		{"svc/cold/node_modules", "none"},
		{"svc/.devstack", "none"},
		{"e2e", "dir"},
	} {
		fi, err := os.Lstat(filepath.Join(dst, tt.path))
		got := "none"
		switch {
		case err != nil:
		case fi.Mode()&fs.ModeSymlink != 0:
			got = "link"
		case fi.IsDir():
			got = "dir"
		default:
			got = "file"
		}
		if got != tt.want {
			t.Errorf("%s in the copy is %s, want %s", tt.path, got, tt.want)
		}
	}
	if target, _ := os.Readlink(filepath.Join(dst, "svc/web/node_modules")); target != filepath.Join(root, "svc/web/node_modules") {
		t.Errorf("node_modules links to %q", target)
	}

	// the copy's devstack.yaml is still valid, and only the linked services lost their setup
	cfg, err := config.Load(filepath.Join(dst, "devstack.yaml"))
	if err != nil {
		t.Fatalf("the copy's devstack.yaml does not load: %v", err)
	}
	for name, want := range map[string]string{"web": "true", "py": "true", "go": "go mod download", "cold": "npm ci", "py-worker": ""} {
		if got := cfg.Services[name].Setup; got != want {
			t.Errorf("services.%s.setup = %q, want %q", name, got, want)
		}
	}
	if got := cfg.Services["web"].SetupInputs; !slices.Equal(got, []string{"package-lock.json"}) {
		t.Errorf("web's setup_inputs = %v; only the setup command changes", got)
	}
	if after := treeSum(t, root); after != before {
		t.Error("copying changed the original tree")
	}
}

func TestCopyRefusesWhatItCannotEdit(t *testing.T) {
	tests := []struct{ name, yml, want string }{
		{"a setup over several lines", strings.Replace(sampleYAML, "setup: npm ci --no-audit # installs", "setup: >-\n      npm ci\n      --no-audit", 1), "services.web.setup spans several lines"},
		{"not YAML", "services: [", "devstack.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := project(t, tt.yml)
			_, err := Copy(root, t.TempDir(), "svc")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Copy = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
