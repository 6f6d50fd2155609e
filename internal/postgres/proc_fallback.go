//go:build !linux && !darwin

package postgres

import "syscall"

// Without /proc or a known process table: a pid that answers signal 0 counts as a live server (erring
// towards stopping it).
func procStat(pid int) (state byte, ppid int, comm string, ok bool) {
	if syscall.Kill(pid, 0) != nil {
		return 0, 0, "", false
	}
	return 'S', 0, "postgres", true
}

func procCwd(int) string { return "" }
