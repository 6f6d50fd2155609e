package proxy

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pem_file (and the gateway's TLS files) must be regular files of sane size: a FIFO must not
// hang the start, /dev/zero must not eat memory.
func TestKeyFilesMustBeRegularAndSmall(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "key.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, []byte(strings.Repeat("A", maxPEMFile+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, path, want string }{
		{"fifo", fifo, "not a regular file"},
		{"dev zero", "/dev/zero", "not a regular file"},
		{"directory", dir, "not a regular file"},
		{"too large", big, "larger than"},
	}
	for _, tc := range tests {
		t.Run("pem_file "+tc.name, func(t *testing.T) {
			cfg := Config{StateDir: t.TempDir(), HTTPSPort: -1, Auth: Auth{Keys: []Key{{ID: "k", Algorithms: []string{"RS256"}, PEMFile: tc.path}}}}
			err := withinSeconds(t, 5, func() error { _, err := New(withTestValues(cfg), Options{}); return err })
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "gateway.auth.keys[0].pem_file") || !strings.Contains(err.Error(), tc.path) {
				t.Fatalf("New: %v, want an error naming gateway.auth.keys[0].pem_file, %s and %q", err, tc.path, tc.want)
			}
		})
		t.Run("CA file "+tc.name, func(t *testing.T) {
			state := t.TempDir()
			if err := os.MkdirAll(gatewayDir(state), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(tc.path, CAPath(state)); err != nil {
				t.Fatal(err)
			}
			err := withinSeconds(t, 5, func() error { _, err := EnsureCA(state); return err })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("EnsureCA: %v, want %q", err, tc.want)
			}
		})
	}
}

// withinSeconds runs f and fails the test when it does not return within n seconds.
func withinSeconds(t *testing.T, n int, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Duration(n) * time.Second):
		t.Fatalf("still running after %ds", n)
		return nil
	}
}
