package fsperm

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

func TestPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	for _, d := range []string{"logs", "postgres/data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"logs/a.log", "postgres/data/PG_VERSION", "devstack.log"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(dir, 0o755)
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat("/etc/passwd")

	warn, err := Private(dir, "postgres")
	if err != nil || warn != nil {
		t.Fatalf("Private: %v, %v", err, warn)
	}
	want := map[string]fs.FileMode{
		".": 0o700, "logs": 0o700, "logs/a.log": 0o600, "devstack.log": 0o600,
		"postgres": 0o755, "postgres/data": 0o755, "postgres/data/PG_VERSION": 0o644, // skipped
	}
	for p, m := range want {
		fi, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != m {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), m)
		}
	}
	if after, _ := os.Stat("/etc/passwd"); after.Mode() != before.Mode() {
		t.Errorf("a symlink's target was changed")
	}

	// what a library creates later with 0644 / 0755
	if runtime.GOOS != "linux" {
		return
	}
	if _, err := unix.Getxattr(dir, "system.posix_acl_default", make([]byte, 64)); errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.ENODATA) {
		if os.Getenv("DEVSTACK_REQUIRE_ALL") == "1" {
			t.Fatalf("DEVSTACK_REQUIRE_ALL=1: no default ACL support on %s: %v", dir, err)
		}
		t.Skipf("no default ACL support on %s: %v", dir, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "kafka", "partitions", "t-0"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kafka", "partitions", "t-0", "0.dat"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for p, m := range map[string]fs.FileMode{"kafka": 0o700, "kafka/partitions/t-0": 0o700, "kafka/partitions/t-0/0.dat": 0o600} {
		fi, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != m {
			t.Errorf("%s created later: mode %v, want %v", p, fi.Mode().Perm(), m)
		}
	}
}
