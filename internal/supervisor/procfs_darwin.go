package supervisor

import (
	"context"
	"slices"
	"time"

	"github.com/devstack-dev/devstack/internal/procinfo"
)

// macOS has no /proc: the process tree comes from sysctl (procinfo.List, no child process, cheap enough
// for the shim to poll) and CPU time and RSS from ps (sampleProcs, every ~2s).

func fromProcinfo(p procinfo.Proc) procInfo {
	return procInfo{pid: p.PID, ppid: p.PPID, pgid: p.PGID, state: p.State, start: p.Start,
		utime: uint64(p.CPU / (time.Second / clockTicks)), rss: p.RSS / pageSize}
}

func readStat(pid int) (procInfo, bool) {
	p, ok := procinfo.Lookup(pid)
	return fromProcinfo(p), ok
}

// listProcs reads the process table (without CPU time or RSS).
func listProcs() []procInfo {
	var out []procInfo
	for _, p := range procinfo.List() {
		out = append(out, fromProcinfo(p))
	}
	return out
}

// sampleProcs lists every process with its CPU time and RSS, from ps.
func sampleProcs() []procInfo {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ps, err := procinfo.PS(ctx)
	if err != nil {
		return nil
	}
	out := make([]procInfo, 0, len(ps))
	for _, p := range ps {
		out = append(out, fromProcinfo(p))
	}
	return out
}

// hasEnv reports whether process pid's (initial) environment contains the exact entry kv.
func hasEnv(pid int, kv string) bool { return slices.Contains(procinfo.Environ(pid), kv) }
