// Package stackcopy copies a devstack project (the sample stack) into a temporary directory for tests
// that run and edit a second stack beside the first: the hot-reload test of e2e/ and the TUI test of
// tests/tui share it.
//
// Sources are copied. Installed dependencies are not copied and not reinstalled: a service directory's
// node_modules and .venv are symlinks to the original's, and the copy's setup step for such a service
// is `true`, so the copy starts without the network and in seconds, and no step of the copy ever writes
// into the original tree (npm ci or `python -m venv` through the links would). Go services keep their
// setup (`go mod download` reads the shared module cache). A service whose original has no installed
// dependencies keeps its setup too, and installs into the copy.
package stackcopy

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// DependencyDirs are the installed-dependency directories linked instead of copied.
var DependencyDirs = []string{"node_modules", ".venv"}

// skipped are never copied: dependencies (linked instead), build output, caches and devstack's state.
var skipped = map[string]bool{"node_modules": true, ".venv": true, "dist": true, "bin": true, "__pycache__": true, ".devstack": true, "staticfiles": true}

// Result says what the copy reuses.
type Result struct {
	Linked  []string // dependency directories linked, relative to the copy
	Skipped []string // services whose setup was replaced by `true`
}

// Copy copies root's devstack.yaml and the given source directories (relative to root, e.g.
// "sample-services") into dst, links each service's installed dependencies and turns off the setup of
// the services that have them. Empty e2e/ is created: the copy's tests: entry points there.
func Copy(root, dst string, dirs ...string) (Result, error) {
	var res Result
	yml, err := os.ReadFile(filepath.Join(root, "devstack.yaml"))
	if err != nil {
		return res, err
	}
	for _, dir := range dirs {
		if err := copyTree(root, dst, dir); err != nil {
			return res, fmt.Errorf("copy %s: %w", dir, err)
		}
	}
	services, err := serviceSetups(yml)
	if err != nil {
		return res, fmt.Errorf("%s: %w", filepath.Join(root, "devstack.yaml"), err)
	}
	lines := strings.SplitAfter(string(yml), "\n")
	for _, s := range services {
		var linked []string
		for _, dep := range DependencyDirs {
			orig := filepath.Join(root, s.dir, dep)
			if fi, err := os.Stat(orig); err != nil || !fi.IsDir() {
				continue
			}
			if err := os.MkdirAll(filepath.Join(dst, s.dir), 0o755); err != nil {
				return res, err
			}
			link := filepath.Join(dst, s.dir, dep)
			if target, err := os.Readlink(link); err != nil || target != orig { // two services may share a dir
				if err := os.Symlink(orig, link); err != nil {
					return res, err
				}
				res.Linked = append(res.Linked, filepath.Join(s.dir, dep))
			}
			linked = append(linked, filepath.Join(s.dir, dep))
		}
		if len(linked) == 0 || s.setupLine == 0 {
			continue
		}
		if s.setupLine < 0 {
			return res, fmt.Errorf("services.%s.setup spans several lines; stackcopy can only replace a one-line setup", s.name)
		}
		l := lines[s.setupLine-1]
		nl := ""
		if strings.HasSuffix(l, "\n") {
			nl = "\n"
		}
		lines[s.setupLine-1] = l[:s.setupCol-1] + "true # the copy uses the original's " + strings.Join(linked, ", ") + nl
		res.Skipped = append(res.Skipped, s.name)
	}
	if err := os.WriteFile(filepath.Join(dst, "devstack.yaml"), []byte(strings.Join(lines, "")), 0o644); err != nil {
		return res, err
	}
	return res, os.MkdirAll(filepath.Join(dst, "e2e"), 0o755)
}

type service struct {
	name, dir           string
	setupLine, setupCol int // 1-based position of the setup value; line 0: none, -1: more than one line
}

// serviceSetups finds services.<name>.dir and .setup in a devstack.yaml, with the setup value's position.
func serviceSetups(src []byte) ([]service, error) {
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		return nil, err
	}
	if len(f.Docs) != 1 {
		return nil, errors.New("want one YAML document")
	}
	top, ok := f.Docs[0].Body.(*ast.MappingNode)
	if !ok {
		return nil, errors.New("the top level is not a mapping")
	}
	var out []service
	for _, kv := range top.Values {
		if kv.Key.String() != "services" {
			continue
		}
		svcs, ok := kv.Value.(*ast.MappingNode)
		if !ok {
			return nil, errors.New("services is not a mapping")
		}
		for _, sv := range svcs.Values {
			s := service{name: sv.Key.String(), dir: "."}
			m, ok := sv.Value.(*ast.MappingNode)
			if !ok {
				continue
			}
			for _, f := range m.Values {
				switch f.Key.String() {
				case "dir":
					s.dir = f.Value.String()
				case "setup":
					tk := f.Value.GetToken()
					s.setupLine, s.setupCol = tk.Position.Line, tk.Position.Column
					if _, plain := f.Value.(*ast.StringNode); !plain || strings.Contains(strings.TrimSpace(tk.Origin), "\n") {
						s.setupLine = -1
					}
				}
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// copyTree copies root/dir into dst/dir: regular files and directories, not links, dependencies,
// build output or SQLite files.
func copyTree(root, dst, dir string) error {
	base := filepath.Join(root, dir)
	if _, err := os.Stat(base); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && skipped[d.Name()] {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(root, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		if !d.Type().IsRegular() || strings.HasSuffix(p, ".sqlite3") {
			return nil
		}
		return copyFile(p, out)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
