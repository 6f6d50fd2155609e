//go:build !linux

package supervisor

import "syscall"

// ctimeNano is the inode change time of a stat result.
func ctimeNano(st *syscall.Stat_t) int64 { return st.Ctimespec.Nano() }

// shimSysProcAttr puts the shim in its own process group. There is no parent-death signal here: the
// shim sees devstack die when its life pipe closes.
func shimSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// becomeSubreaper does nothing where there are no subreapers: a service's process group is still
// signalled as a whole.
func becomeSubreaper() {}
