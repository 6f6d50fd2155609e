package postgres

import "github.com/devstack-dev/devstack/internal/procinfo"

// procStat reads state, parent pid and command name of pid from the process table (sysctl).
func procStat(pid int) (state byte, ppid int, comm string, ok bool) {
	p, ok := procinfo.Lookup(pid)
	return p.State, p.PPID, p.Comm, ok
}

// procCwd is pid's working directory ("" when unknown; from lsof). A postmaster's is its data directory.
func procCwd(pid int) string { return procinfo.Cwd(pid) }
