package supervisor

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// ctimeNano is the inode change time of a stat result.
func ctimeNano(st *syscall.Stat_t) int64 { return st.Ctim.Nano() }

// shimSysProcAttr puts the shim in its own process group and has the kernel signal it when devstack
// dies (the life pipe covers the same on systems without a parent-death signal).
func shimSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// becomeSubreaper makes the shim inherit its service's orphaned children.
func becomeSubreaper() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }

// strays lists what the shim must still kill once its command is done: its children, which include
// every orphaned descendant of the command (the shim is their subreaper).
func strays(self int) []int { return childrenOf(self) }

// platformWatchCost: inotify watches hold no file descriptors (their limit is
// fs.inotify.max_user_watches).
func platformWatchCost(string) int { return 0 }
