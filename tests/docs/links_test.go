// Package docs_test checks the repository's Markdown as a reader follows it: every relative link
// leads to a file or directory inside the repository.
package docs_test

import (
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// repoRoot is the module root, two levels above this file.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate this test file")
	}
	root, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// markdownFiles lists the project's own Markdown: installed dependencies and state are not ours.
func markdownFiles(t *testing.T, root string) []string {
	t.Helper()
	skip := map[string]bool{"node_modules": true, ".venv": true, ".git": true, ".devstack": true, "bin": true, "dist": true}
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && (skip[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".md") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// destinations are the targets of a document's links, images and link reference definitions.
func destinations(src []byte) []string {
	doc := goldmark.New().Parser().Parse(text.NewReader(src))
	var out []string
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch l := n.(type) {
		case *ast.Link:
			out = append(out, string(l.Destination))
		case *ast.Image:
			out = append(out, string(l.Destination))
		}
		return ast.WalkContinue, nil
	})
	return out
}

// resolve says where a relative link leads (a path), or "" for links that leave the filesystem
// (a URL with a scheme, mailto:, a fragment of the same document).
func resolve(doc, dest string) (string, error) {
	u, err := url.Parse(dest)
	if err != nil {
		return "", err
	}
	if u.Scheme != "" || u.Host != "" || u.Path == "" {
		return "", nil
	}
	if strings.HasPrefix(u.Path, "/") {
		return u.Path, nil // absolute: never inside the repository as a reader's checkout has it
	}
	return filepath.Join(filepath.Dir(doc), filepath.FromSlash(u.Path)), nil
}

func TestRelativeLinksStayInTheRepository(t *testing.T) {
	root := repoRoot(t)
	files := markdownFiles(t, root)
	if len(files) < 3 {
		t.Fatalf("found only %d Markdown files under %s", len(files), root)
	}
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		t.Run(rel, func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, dest := range destinations(src) {
				target, err := resolve(f, dest)
				if err != nil {
					t.Errorf("%s: link %q is not a URL: %v", rel, dest, err)
					continue
				}
				if target == "" {
					continue
				}
				inside, err := filepath.Rel(root, target)
				if err != nil || inside == ".." || strings.HasPrefix(inside, ".."+string(filepath.Separator)) || filepath.IsAbs(inside) {
					t.Errorf("%s: link %q leads outside the repository (%s); link a file in the repository or a URL", rel, dest, target)
					continue
				}
				if _, err := os.Stat(target); err != nil {
					t.Errorf("%s: link %q: no such file or directory %s", rel, dest, inside)
				}
			}
		})
	}
}

func TestResolve(t *testing.T) {
	tests := []struct{ doc, dest, want string }{
		{"/r/README.md", "docs/config.md", "/r/docs/config.md"},
		{"/r/docs/config.md", "../schemas/x.json#frag", "/r/schemas/x.json"},
		{"/r/README.md", "#section", ""},
		{"/r/README.md", "https://example.com/a", ""},
		{"/r/README.md", "mailto:a@example.com", ""},
		{"/r/README.md", "../shared/design/ARCHITECTURE.md", "/shared/design/ARCHITECTURE.md"},
		{"/r/README.md", "/etc/passwd", "/etc/passwd"},
	}
	for _, tt := range tests {
		got, err := resolve(tt.doc, tt.dest)
		if err != nil || got != tt.want {
			t.Errorf("resolve(%q, %q) = %q, %v; want %q", tt.doc, tt.dest, got, err, tt.want)
		}
	}
}
