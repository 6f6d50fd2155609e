//go:build !linux

package cli

import "syscall"

// testCmdSysProcAttr runs a test command in its own process group (no parent-death signal exists here:
// the group is killed when the test ends or devstack stops, not when devstack is killed with -9).
func testCmdSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
