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
// The seed corpus is testdata/{valid,invalid}/*.yaml plus testdata/fuzz/FuzzLoad, and inputs at the
// limits (nesting, keys, ${VAR} expansion): no input may make the loader allocate more than a
// linear amount of memory.
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
		// the limits: nesting, keys, expansion (BIG is 64 KiB)
		strings.Repeat("[", 20000), "x: " + strings.Repeat("{a: ", 5000), strings.Repeat("- ", 5000) + "x\n",
		strings.Repeat("? ", 5000) + "x\n", "k:\n" + deepKeyList(200), deepBlockMap(200),
		"env:\n  A: " + strings.Repeat("${BIG}", 200) + "\n",
		"x-a: &a ${BIG}\ngateway:\n  tls:\n    hosts: [" + strings.Repeat("*a, ", 200) + "*a]\n",
		"env:\n  A: ${BIG:-${BIG}${BIG}}${BIG:+${BIG}${BIG}}\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	env := map[string]string{"HOME": "/home/fuzz", "X": "1", "Y": "${X}", "BIG": strings.Repeat("b", 64<<10)}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c *Config
		var err error
		// The limits hold: memory grows linearly with the input (the lexer's few hundred bytes a
		// token, the parser's at most 64 levels), expansions stop at MaxExpanded.
		n := allocated(func() { c, err = LoadBytes("devstack.yaml", data, dir, env) })
		if limit := uint64(3*MaxExpanded + 16<<20 + 2000*len(data)); n > limit {
			t.Fatalf("loading %d bytes allocated %d MB (limit %d MB)", len(data), n>>20, limit>>20)
		}
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

// FuzzLimits builds nested and expanding inputs the byte mutator would take long to find: prefix,
// then open repeated n times, then tail; BIG is size bytes. Whatever they are, the loader stays
// within linear memory (20,000 uses of a 100 KB variable would be 2 GB).
// Run: go test ./internal/config -run '^$' -fuzz FuzzLimits -fuzztime 30s
func FuzzLimits(f *testing.F) {
	f.Add("", "[", uint16(20000), "", uint32(0))
	f.Add("x: ", "{a: ", uint16(5000), "", uint32(0))
	f.Add("", "- ", uint16(5000), "x\n", uint32(0))
	f.Add("env:\n  A: ", "${BIG}", uint16(20000), "\n", uint32(100_000))
	f.Add("env:\n  A: ", "${BIG:-${BIG}}", uint16(5000), "\n", uint32(1000))
	f.Add("x-a: &a ${BIG}\ngateway:\n  tls:\n    hosts: [", "*a, ", uint16(20000), "*a]\n", uint32(100_000))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, prefix, open string, n uint16, tail string, size uint32) {
		if len(open) == 0 || len(open) > 64 || len(prefix)+len(tail) > 4096 {
			return
		}
		size %= 1 << 20
		data := prefix + strings.Repeat(open, int(n)) + tail
		env := map[string]string{"BIG": strings.Repeat("b", int(size))}
		var err error
		alloc := allocated(func() { _, err = LoadBytes("devstack.yaml", []byte(data), dir, env) })
		if limit := uint64(3*MaxExpanded + 16<<20 + 2000*len(data)); alloc > limit {
			t.Fatalf("loading %d bytes allocated %d MB (limit %d MB)", len(data), alloc>>20, limit>>20)
		}
		if err != nil && strings.Contains(err.Error(), "internal error while loading") {
			t.Fatalf("loader panicked: %v", err)
		}
	})
}
