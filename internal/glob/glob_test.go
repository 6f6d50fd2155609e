package glob

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		pattern string
		err     string // "" means valid
	}{
		{"*.go", ""},
		{"**/x", ""},
		{"x/**", ""},
		{"src/**/*.ts", ""},
		{"**", ""},
		{"node_modules", ""},
		{"[abc].txt", ""},
		{"./dist", ""},
		{"/build/", ""},
		{"a**b", "** must be a whole path segment"},
		{"src/a**/x", "** must be a whole path segment"},
		{"**.go", "** must be a whole path segment"},
		{"x/***", "** must be a whole path segment"},
		{"[a-", "unclosed [ or a trailing \\"},
		{`x\`, "unclosed [ or a trailing \\"},
		{"", "must not be empty"},
		{"  ", "must not be empty"},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			err := Check(tc.pattern)
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("Check(%q) = %v, want nil", tc.pattern, err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("Check(%q) = %v, want %q", tc.pattern, err, tc.err)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"node_modules", "node_modules/x/index.js", true},
		{"node_modules", "web/node_modules/x.js", true},
		{"node_modules", "src/node_modules_x.js", false},
		{"*.pyc", "app/__init__.pyc", true},
		{"*.pyc", "app/init.py", false},
		{"*.go", "cmd/main.go", true},
		{"*.go", "main.go", true},
		{"*.go", "main.go.orig", false},
		{"src/**/*.ts", "src/a.ts", true},
		{"src/**/*.ts", "src/a/b/c.ts", true},
		{"src/**/*.ts", "lib/a.ts", false},
		{"src/*.ts", "src/a/b.ts", false},
		{"**/gen", "a/b/gen/x.go", true},
		{"**/x", "x", true},
		{"**/x", "a/b/x", true},
		{"**/x", "a/xy", false},
		{"x/**", "x", true},
		{"x/**", "x/a/b", true},
		{"x/**", "y/x/a", false},
		{"/build/", "build/out.js", true},
		{"./dist", "dist/x", true},
		{"dist", "src/distance.go", false},
		{"*~", "main.go~", true},
		{"4913", "4913", true},
		{".#*", "src/.#main.go", true},
		{"**", "anything/at/all", true},
		{"a/**/b", "a/b", true},
		{"a/**/b", "a/x/y/b", true},
		{"[ab].txt", "b.txt", true},
		{"[ab].txt", "c.txt", false},
		// refused by Check, so it matches nothing (the config rejects it with a file:line error)
		{"a**b", "axb", false},
		{"a**b", "a/b", false},
		{"a**b", "a/x/b", false},
		{"[a-", "[a-", false},
		{"", "x", false},
	}
	for _, tc := range tests {
		t.Run(tc.pattern+" "+tc.path, func(t *testing.T) {
			if got := Match(tc.pattern, tc.path); got != tc.want {
				t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.path, got, tc.want)
			}
		})
	}
}
