package postgres

import (
	"path/filepath"
	"testing"
)

func TestDefaultCacheDirOverride(t *testing.T) {
	t.Setenv("DEVSTACK_CACHE_DIR", "/var/tmp/dc")
	if got := DefaultCacheDir(); got != filepath.Join("/var/tmp/dc", "postgres") {
		t.Errorf("DefaultCacheDir with DEVSTACK_CACHE_DIR = %q", got)
	}
	t.Setenv("DEVSTACK_CACHE_DIR", "relative/dir") // ignored: it would move with the working directory
	if got := DefaultCacheDir(); got == filepath.Join("relative/dir", "postgres") {
		t.Errorf("a relative DEVSTACK_CACHE_DIR was used: %q", got)
	}
}
