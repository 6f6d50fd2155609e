package config

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// allocated is how many bytes f allocated (TotalAlloc, not wall time: what got devstack OOM-killed).
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// deepBlockMap is n block mappings, each the value of the key above it.
func deepBlockMap(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(strings.Repeat(" ", i))
		b.WriteString("k:\n")
	}
	return b.String()
}

// deepKeyList is n list items, each a mapping whose key holds a list at the key's own indent.
func deepKeyList(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(strings.Repeat(" ", 2*i))
		b.WriteString("- k:\n")
	}
	return b.String()
}

// Nesting is refused with a file:line:col error before the YAML parser (whose memory grows with the
// square of the depth) sees the file: 20,000 nested [ took 667 MB.
func TestDeepNestingIsRefusedCheaply(t *testing.T) {
	tests := []struct {
		name, src string
		pos       string // line:col of the error
	}{
		{"flow lists", strings.Repeat("[", 20000), "1:65"},
		{"flow lists under a key", "services:\n  a:\n    command: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n", "3:75"},
		{"flow mappings", "x: " + strings.Repeat("{a: ", 20000), "1:"},
		{"block lists", strings.Repeat("- ", 20000) + "x\n", "1:129"},
		{"block mappings", deepBlockMap(1000), "65:65"},
		{"lists at their key's indent", "k:\n" + deepKeyList(500), "33:65"},
		{"explicit keys", strings.Repeat("? ", 20000) + "x\n", "1:129"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			n := allocated(func() { _, err = LoadBytes("deep.yaml", []byte(tt.src), t.TempDir(), nil) })
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("nested more than %d levels", MaxNesting)) {
				t.Fatalf("want a nesting error, got %v", abbreviate(fmt.Sprint(err)))
			}
			if !strings.HasPrefix(err.Error(), "deep.yaml:"+tt.pos) || strings.Count(err.Error(), "\n") != 0 {
				t.Errorf("want one error at deep.yaml:%s, got %s", tt.pos, err)
			}
			// The YAML lexer takes a few hundred bytes per token, linear in the size; the parser's
			// square of the depth never runs.
			if limit := uint64(8<<20 + 400*len(tt.src)); n > limit {
				t.Errorf("loading %d bytes allocated %d MB, want at most %d MB", len(tt.src), n>>20, limit>>20)
			}
		})
	}
}

// A file exactly as deep as the limit still loads: the limit is far above what a real file needs.
func TestNestingAtTheLimitLoads(t *testing.T) {
	src := "x-deep: " + strings.Repeat("[", MaxNesting-1) + strings.Repeat("]", MaxNesting-1) + "\n" +
		"x-block:\n" + strings.ReplaceAll(deepBlockMap(MaxNesting-1), "k:", "  k:") +
		"x-mixed:\n" + "  a:\n  - b:\n    - c: {d: [e]}\n"
	if _, err := LoadBytes("devstack.yaml", []byte(src), t.TempDir(), nil); err != nil {
		t.Fatal(err)
	}
}

// A mapping of more keys than any devstack.yaml has is refused before the parser, whose memory grows
// with the square of the number of keys (20,000 took 1.6 GB).
func TestTooManyKeys(t *testing.T) {
	var b strings.Builder
	b.WriteString("env:\n")
	for i := 0; i <= MaxEntries; i++ {
		fmt.Fprintf(&b, "  V%d: x\n", i)
	}
	var explicit strings.Builder
	for i := 0; i <= MaxEntries; i++ {
		fmt.Fprintf(&explicit, "? k%d\n: v\n", i)
	}
	for _, tt := range []struct{ src, want string }{
		{b.String(), fmt.Sprintf("big.yaml:%d:3: file: more than %d keys in one mapping", MaxEntries+2, MaxEntries)},
		{explicit.String(), fmt.Sprintf("big.yaml:%d:1: file: more than %d keys in one mapping", 2*MaxEntries+1, MaxEntries)},
	} {
		var err error
		n := allocated(func() { _, err = LoadBytes("big.yaml", []byte(tt.src), t.TempDir(), nil) })
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Fatalf("want %q, got %v", tt.want, abbreviate(fmt.Sprint(err)))
		}
		if n > 32<<20 {
			t.Errorf("allocated %d MB", n>>20)
		}
	}
}

// A file of many small values is refused before the parser, whose time grows faster than the number
// of keys (80,000 keys took 95 s).
func TestTooManyTokens(t *testing.T) {
	var b strings.Builder
	for i := 0; i < MaxTokens/3+1; i++ {
		fmt.Fprintf(&b, "x-%d: v\n", i)
	}
	_, err := LoadBytes("big.yaml", []byte(b.String()), t.TempDir(), nil)
	if err == nil || !strings.HasPrefix(err.Error(), fmt.Sprintf("big.yaml:%d:", MaxTokens/3+1)) ||
		!strings.Contains(err.Error(), fmt.Sprintf("file: more than %d YAML tokens", MaxTokens)) {
		t.Fatalf("want an error at the first token past the limit, got %v", err)
	}
}

// Every file the loader reads is refused unless it is a regular file (a FIFO would block, a device
// never ends) and read with a hard limit (Stat's size of /dev/zero is 0, and a file can grow after
// Stat).
func TestSpecialFilesAreRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "ok.yaml"), []byte("services: {}\n"), 0o644)
	for _, tt := range []struct {
		name string
		load func() error
		want string
	}{
		{"devstack.yaml is /dev/zero", func() error { _, err := Load("/dev/zero"); return err }, "/dev/zero: not a regular file (a device)"},
		{"devstack.yaml is a FIFO", func() error { _, err := Load(fifo); return err }, fifo + ": not a regular file (a named pipe)"},
		{"env_file is /dev/zero", loadSrc(dir, "env_file: /dev/zero\n"), "devstack.yaml:1:11: env_file: cannot read /dev/zero: not a regular file (a device)"},
		{"env_file is a FIFO", loadSrc(dir, "env_file: fifo\n"), "devstack.yaml:1:11: env_file: cannot read fifo: not a regular file (a named pipe)"},
		{"pem_file is /dev/zero", loadSrc(dir, "gateway:\n  auth:\n    keys:\n      - {id: k, pem_file: /dev/zero, algorithms: [RS256]}\n"),
			"devstack.yaml:4:27: gateway.auth.keys[0].pem_file: cannot read /dev/zero: not a regular file (a device)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			errc := make(chan error, 1)
			var n uint64
			go func() {
				var err error
				n = allocated(func() { err = tt.load() })
				errc <- err
			}()
			select {
			case err := <-errc:
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("want %q, got %v", tt.want, err)
				}
				if n > 16<<20 {
					t.Errorf("allocated %d MB", n>>20)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("loading hung for 10s")
			}
		})
	}
}

func loadSrc(dir, src string) func() error {
	return func() error { _, err := LoadBytes("devstack.yaml", []byte(src), dir, nil); return err }
}

// A file over the limit is refused by what was read, not by what Stat said.
func TestReadLimited(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("12345"), 0o644)
	for _, tt := range []struct {
		limit int64
		want  string
	}{{5, ""}, {4, "larger than 4 bytes"}} {
		b, err := readLimited(p, tt.limit)
		if tt.want == "" && (err != nil || string(b) != "12345") {
			t.Errorf("limit %d: %q, %v", tt.limit, b, err)
		}
		if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("limit %d: want %q, got %v", tt.limit, tt.want, err)
		}
	}
	if _, err := readLimited(dir, 10); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
}

// ${VAR} expansion stops once all expansions of a load together pass MaxExpanded, with an error at
// the value where it happened: a 120 KB file expanding a 100 KB variable 20,000 times took 5.7 GB.
func TestExpansionIsCapped(t *testing.T) {
	big := strings.Repeat("x", 100_000)
	uses := strings.Repeat("${BIG}", 20_000)
	many := func(n int) string {
		var b strings.Builder
		b.WriteString("env:\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "  V%d: ${BIG}\n", i)
		}
		return b.String()
	}
	aliases := "x-a: &a ${BIG}\ngateway:\n  tls:\n    hosts: [" + strings.Repeat("*a, ", 20_000) + "*a]\n"
	doubling := "A=" + strings.Repeat("x", 1000) + "\n" + strings.Repeat("A=${A}${A}\n", 40) // 1000 * 2^40 bytes
	for _, tt := range []struct {
		name, src, dotenv string
		want              string
	}{
		{"one value", "env:\n  X: " + uses + "\n", "", "devstack.yaml:2:6: env.X: variables expand to more than 4194304 bytes in total"},
		{"many values", many(2000), "", "devstack.yaml:43:8: env.V41: variables expand to more than"},
		{"aliases", aliases, "", "devstack.yaml:1:9: gateway.tls.hosts[41]: variables expand to more than"},
		{"env file doubling", "services: {}\n", doubling, ".env:13:3: A: variables expand to more than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.dotenv != "" {
				os.WriteFile(filepath.Join(dir, ".env"), []byte(tt.dotenv), 0o644)
			}
			var err error
			n := allocated(func() {
				_, err = LoadBytes("devstack.yaml", []byte(tt.src), dir, map[string]string{"BIG": big})
			})
			if n > uint64(3*MaxExpanded+16<<20+400*len(tt.src)) { // the expansions, their builders and the parse
				t.Errorf("allocated %d MB", n>>20)
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("want %q, got %v", tt.want, abbreviate(fmt.Sprint(err)))
			}
			if strings.Count(err.Error(), "expand to more than") != 1 {
				t.Errorf("want the error once, got %d lines", strings.Count(err.Error(), "\n")+1)
			}
		})
	}
}
