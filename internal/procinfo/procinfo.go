// Package procinfo reads facts about local processes that other packages need — who listens on a port,
// and, where there is no /proc (macOS), the process table, environments and working directories — with
// the platform-neutral parsing (ps, lsof, kern.procargs2) kept here so it is tested on every platform.
//
// On macOS it uses golang.org/x/sys/unix's sysctl for the process table and environments (no cgo, no
// child process) and runs ps (CPU time, RSS; every ~2 s) and lsof (port owners, working directories:
// only in error paths). gopsutil would cover the same, but is a large dependency for these few facts.
package procinfo

import "time"

// Proc is one process as the platform reports it. Fields a source does not give stay zero: ps gives
// no Comm or Start, the macOS process table gives no CPU or RSS.
type Proc struct {
	PID, PPID, PGID int
	State           byte          // 'R', 'S', 'Z', … (the first letter ps prints)
	Comm            string        // command name
	Start           uint64        // start time in an opaque, platform-specific unit; only compare for equality
	CPU             time.Duration // user + system CPU time so far
	RSS             uint64        // resident set size in bytes
}
