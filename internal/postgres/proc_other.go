//go:build !linux

package postgres

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Without /proc: a pid that answers signal 0 counts as a live server (erring towards stopping it).
func procStat(pid int) (state byte, ppid int, comm string, ok bool) {
	if syscall.Kill(pid, 0) != nil {
		return 0, 0, "", false
	}
	return 'S', 0, "postgres", true
}

func procAlive(pid int) bool      { return syscall.Kill(pid, 0) == nil }
func isLivePostgres(pid int) bool { return procAlive(pid) }
func procCwd(int) string          { return "" }
func portHolder(int) string       { return "" }

// syncFS flushes the files under dir one by one.
func syncFS(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	})
}
