package cli

import "syscall"

// testCmdSysProcAttr runs a test command in its own process group, killed by the kernel if devstack dies.
func testCmdSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
