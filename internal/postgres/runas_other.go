//go:build !linux

package postgres

import (
	"errors"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// Outside Linux devstack runs PostgreSQL as the current user; running as root is not supported there.
type runUser struct {
	name     string
	uid, gid int
}

func chooseRunUser(_ string, _ string, _ *slog.Logger) (*runUser, error) {
	if os.Geteuid() == 0 {
		return nil, errors.New("PostgreSQL refuses to run as root; run devstack as a normal user")
	}
	name := strconv.Itoa(os.Getuid())
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return &runUser{name: name, uid: os.Getuid(), gid: os.Getgid()}, nil
}

// sysProcAttr: own process group; there is no parent-death signal outside Linux, so a server outliving a
// killed devstack is stopped at the next start instead.
func (ru *runUser) sysProcAttr(bool) *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func (ru *runUser) checkReach(string) error  { return nil }
func (ru *runUser) ensureReach(string) error { return nil }
func (ru *runUser) chownTree(string) error   { return nil }

func (ru *runUser) mkdirOwned(dir string, mode os.FileMode) error {
	if err := os.MkdirAll(dir, mode); err != nil {
		return err
	}
	return os.Chmod(dir, mode)
}

func (ru *runUser) ensurePrivateDir(dir string) error {
	if err := ru.mkdirOwned(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return errors.New(dir + " exists but is not a directory; remove it")
	}
	return nil
}

func (ru *runUser) capsReason() string { return "" }
