package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the loader: it must never panic, must return either a config
// or errors (never both), and every error line must be "FILE:LINE:COL: path: message".
// Run: go test ./internal/config -run '^$' -fuzz FuzzLoad -fuzztime 60s -fuzzminimizetime 3s
// (without a short minimize time, minimizing a large interesting input stalls the run for minutes).
// The seed corpus is testdata/{valid,invalid}/*.yaml plus testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"testdata/valid/*.yaml", "testdata/invalid/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
			}
		}
	}
	for _, s := range []string{
		"", "---", "---\n---\n", "~", "[]", "{}", "a", "services:", "services: ~", "services: []",
		"services:\n  a: ~\n", "services:\n  a:\n    command: x\n    depends_on: [a]\n",
		"x: &a [*a]\n", "a: &a {b: *a}\n", "<<: *x\n", "<<: [1]\n", "? [a]\n: b\n",
		"services:\n  a:\n    command: ${X:-${Y:-${Z}}}\n", "env:\n  A: ${\n", "name: !!binary aGVsbG8=\n",
		"services:\n  a:\n    command: x\n    replicas: 1e400\n", "gateway:\n  rate_limit: {requests: .nan}\n",
		"control:\n  port: 0x1F\n", "broker:\n  retention: {time: 1e300, bytes: 1e300}\n",
		"a: |\n  b\n c\n", "\t", "a: 'b\n", "services:\n  \"\":\n    command: x\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	env := map[string]string{"HOME": "/home/fuzz", "X": "1", "Y": "${X}"}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := LoadBytes("devstack.yaml", data, dir, env)
		if (c == nil) == (err == nil) {
			t.Fatalf("LoadBytes returned config %v and error %v; want exactly one", c != nil, err)
		}
		if err != nil {
			msg := err.Error()
			if strings.Contains(msg, "internal error while loading") {
				t.Fatalf("loader panicked: %s", msg)
			}
			for _, line := range strings.Split(msg, "\n") {
				if !errLine.MatchString(line) || !strings.HasPrefix(line, "devstack.yaml:") {
					t.Fatalf("badly formatted error line %q", line)
				}
			}
			return
		}
		for _, w := range c.Warnings {
			if !errLine.MatchString(w) {
				t.Fatalf("badly formatted warning %q", w)
			}
		}
		order, err := c.Order()
		if err != nil || len(order) != len(c.Services) || len(c.ServiceSeq) != len(c.Services) {
			t.Fatalf("a loaded config has order %v (%v) and seq %v for %d services", order, err, c.ServiceSeq, len(c.Services))
		}
		for name, s := range c.Services {
			if s == nil || s.Name != name || s.Replicas < 1 || !filepath.IsAbs(s.Dir) || s.Command == "" {
				t.Fatalf("service %q not normalized: %+v", name, s)
			}
		}
	})
}
