//go:build !linux

package supervisor

import (
	"os"
	"syscall"
)

// ctimeNano is the inode change time of a stat result.
func ctimeNano(st *syscall.Stat_t) int64 { return st.Ctimespec.Nano() }

// shimSysProcAttr puts the shim in its own process group. There is no parent-death signal here: the
// shim sees devstack die when its life pipe closes (EOF as soon as the kernel closes devstack's end,
// however devstack died), and polls getppid() every second as a second check.
func shimSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// becomeSubreaper does nothing where there are no subreapers: orphaned descendants of the command go
// to launchd (pid 1) instead; strays finds them by the instance mark in their environment.
func becomeSubreaper() {}

// strays lists what the shim must still kill once its command is done: its own children, and every
// process that inherited this instance's mark (DEVSTACK_INSTANCE_ID=<token>) from the command, which
// catches descendants that left the command's process group (setsid, daemonising) and were
// reparented away from the shim. A process that scrubbed its environment escapes; that is the limit
// of a platform without subreapers.
func strays(self int) []int {
	pids := childrenOf(self)
	tok := os.Getenv(envInstanceID)
	if tok == "" {
		return pids
	}
	mark := envInstanceID + "=" + tok
	for _, p := range listProcs() {
		if p.pid != self && p.ppid != self && p.state != 'Z' && hasEnv(p.pid, mark) {
			pids = append(pids, p.pid)
		}
	}
	return pids
}

// platformWatchCost: fsnotify uses kqueue here, a descriptor per watched directory and per entry.
func platformWatchCost(dir string) int { return kqueueWatchCost(dir) }
