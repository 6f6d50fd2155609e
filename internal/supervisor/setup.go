package supervisor

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// setupHash hashes the setup command and the content of its inputs (files, directories walked, or
// globs), so a changed lock file — or a changed command — re-runs setup.
func setupHash(dir, command string, inputs []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "cmd %q\n", command)
	var files []string
	for _, in := range inputs {
		p := in
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		matches, err := filepath.Glob(p)
		if err != nil || len(matches) == 0 {
			fmt.Fprintf(h, "missing %q\n", in)
			continue
		}
		for _, m := range matches {
			_ = filepath.WalkDir(m, func(path string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					files = append(files, path)
				}
				return nil
			})
		}
	}
	sort.Strings(files)
	for _, f := range files {
		fmt.Fprintf(h, "file %q ", f)
		if fh, err := os.Open(f); err == nil {
			_, _ = io.Copy(h, fh)
			fh.Close()
		}
		fmt.Fprintln(h)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func readHash(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func writeHash(path, sum string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(sum+"\n"), 0o600)
}

// isSetupInput reports whether abs is one of the setup inputs of a service in dir.
func isSetupInput(dir string, inputs []string, abs string) bool {
	for _, in := range inputs {
		p := in
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if ok, _ := filepath.Match(p, abs); ok {
			return true
		}
		if rel, err := filepath.Rel(p, abs); err == nil && !strings.HasPrefix(rel, "..") {
			return true
		}
	}
	return false
}
