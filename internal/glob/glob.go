// Package glob holds the rule for the watch and ignore patterns of devstack.yaml, written once for the
// config validator (internal/config) and the supervisor's file matching (internal/supervisor), which
// must not import each other. It imports nothing internal.
//
// A pattern uses / as separator. Within one path element, *, ? and [...] work as in path.Match (they
// never cross a /); ** is allowed only as a whole element and matches any number of elements (zero
// included). A pattern without / matches any element of a path at any depth ("node_modules",
// "*.go"); a pattern with / is anchored at the directory the paths are relative to ("src/**/*.ts").
// A leading "./" or "/" and a trailing "/" are ignored. A pattern also matches every path below a
// directory it matches.
package glob

import (
	"fmt"
	"path"
	"strings"
)

// Check returns an error saying why pattern is malformed, or nil.
func Check(pattern string) error {
	if strings.TrimSpace(pattern) == "" {
		return fmt.Errorf("must not be empty")
	}
	for _, seg := range strings.Split(pattern, "/") {
		if seg == "**" {
			continue
		}
		if strings.Contains(seg, "**") {
			return fmt.Errorf("invalid glob %q: ** must be a whole path segment, as in src/**/*.go", pattern)
		}
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Errorf("invalid glob %q: unclosed [ or a trailing \\", pattern)
		}
	}
	return nil
}

// Match reports whether the slash-separated relative path rel, or one of its parent directories,
// matches pattern. A pattern that Check refuses matches nothing.
func Match(pattern, rel string) bool {
	if Check(pattern) != nil {
		return false
	}
	pattern = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(pattern, "./"), "/"), "/")
	if pattern == "" || rel == "" || rel == "." {
		return false
	}
	segs := strings.Split(rel, "/")
	if !strings.Contains(pattern, "/") {
		if pattern == "**" {
			return true
		}
		for _, s := range segs {
			if ok, _ := path.Match(pattern, s); ok {
				return true
			}
		}
		return false
	}
	return matchSegs(strings.Split(pattern, "/"), segs)
}

func matchSegs(pat, segs []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			pat = pat[1:]
			if len(pat) == 0 {
				return true
			}
			for i := 0; i <= len(segs); i++ {
				if matchSegs(pat, segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], segs[0]); !ok {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return true // the pattern matched this path or one of its parents
}
