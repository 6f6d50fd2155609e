package config

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
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
