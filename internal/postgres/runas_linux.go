package postgres

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Running as root. PostgreSQL refuses to run as root, so devstack runs initdb and the server as an
// unprivileged account (SysProcAttr.Credential) and chowns PGDATA to it. embedded-postgres cannot do this
// (it runs everything as the calling user), which is one reason this package runs initdb and postgres
// itself. The account:
//   - the owner of an existing PGDATA when that is not root (e.g. `sudo devstack up` in a project where
//     alice ran devstack before keeps alice's files alice's);
//   - else Options.OSUser, else "devstack", created with useradd --system when missing, else "nobody".
//
// That account must reach PGDATA, but the project (and so .devstack) often sits under a directory it
// cannot search, such as /root (mode 0700). Instead of changing permissions on the user's directories, the
// server gets one ambient capability when — and only when — a path is out of reach: CAP_DAC_READ_SEARCH
// (search any directory, read any file), or CAP_DAC_OVERRIDE where the bounding set lacks it (Docker's
// default set). The capability becomes effective only after exec, so the binaries themselves must be
// reachable without it: local installs are (/usr/lib/postgresql), and root's default cache is
// /var/cache/devstack/postgres for that reason.

const (
	capDacOverride   = 1
	capDacReadSearch = 2
)

// runUser is the OS account that runs initdb and postgres.
type runUser struct {
	name     string
	uid, gid int
	switched bool      // we are root and run the server as uid/gid
	caps     []uintptr // ambient capabilities for the server (root only)
	capsWhy  string    // the directory that made them necessary
}

func currentRunUser() *runUser {
	name := strconv.Itoa(os.Getuid())
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return &runUser{name: name, uid: os.Getuid(), gid: os.Getgid()}
}

// chooseRunUser decides who runs the server (see above).
func chooseRunUser(osUser, pgdata string, log *slog.Logger) (*runUser, error) {
	if os.Geteuid() != 0 {
		ru := currentRunUser()
		if fi, err := os.Stat(pgdata); err == nil {
			if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != ru.uid {
				return nil, fmt.Errorf("the data directory %s belongs to uid %d (%s), not to you (%s): it was created when devstack ran as that user; run devstack as that user, or take it over with `sudo chown -R %s %s`",
					pgdata, st.Uid, userName(int(st.Uid)), ru.name, ru.name, pgdata)
			}
		}
		return ru, nil
	}
	if fi, err := os.Stat(pgdata); err == nil {
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 {
			return &runUser{name: userName(int(st.Uid)), uid: int(st.Uid), gid: int(st.Gid), switched: true}, nil
		}
	}
	name := osUser
	if name == "" {
		name = DefaultOSUser
	}
	u, err := user.Lookup(name)
	if err != nil && name == DefaultOSUser {
		log.Info("creating system user to run PostgreSQL (it refuses to run as root)", "user", name)
		out, cerr := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
			"--comment", "devstack embedded PostgreSQL", name).CombinedOutput()
		if _, lerr := user.Lookup(name); cerr != nil && lerr != nil { // (another devstack may have just made it)
			log.Warn("could not create system user; running PostgreSQL as nobody", "user", name, "err", cerr, "output", strings.TrimSpace(string(out)))
			name = "nobody"
		}
		u, err = user.Lookup(name)
	}
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL refuses to run as root and the OS user %q to run it as was not found: %w; create it or set another one", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if uid == 0 {
		return nil, fmt.Errorf("OS user %q is root; PostgreSQL refuses to run as root", name)
	}
	return &runUser{name: name, uid: uid, gid: gid, switched: true}, nil
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

// sysProcAttr runs a child as the account, in its own process group, optionally with SIGINT (fast
// shutdown) on our death.
func (ru *runUser) sysProcAttr(pdeath bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if pdeath {
		a.Pdeathsig = syscall.SIGINT
	}
	if ru.switched {
		a.Credential = &syscall.Credential{Uid: uint32(ru.uid), Gid: uint32(ru.gid), Groups: []uint32{}}
		a.AmbientCaps = ru.caps
	}
	return a
}

// canSearch reports whether the account can reach path (search every directory on the way and path
// itself when it is a directory), judged by mode bits. The first directory it cannot search is returned.
func (ru *runUser) canSearch(path string) (bool, string) {
	if !ru.switched {
		return true, ""
	}
	p := filepath.Clean(path)
	var chain []string
	for {
		chain = append(chain, p)
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	for i := len(chain) - 1; i >= 0; i-- {
		fi, err := os.Stat(chain[i])
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return true, "" // we create the rest; judged again then
			}
			return false, chain[i]
		}
		if !fi.IsDir() {
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		mode := fi.Mode().Perm()
		var ok bool
		switch {
		case int(st.Uid) == ru.uid:
			ok = mode&0o100 != 0
		case int(st.Gid) == ru.gid:
			ok = mode&0o010 != 0
		default:
			ok = mode&0o001 != 0
		}
		if !ok {
			return false, chain[i]
		}
	}
	return true, ""
}

// checkReach fails when the binaries are out of the account's reach (no capability helps with exec).
func (ru *runUser) checkReach(binDir string) error {
	if ok, blocked := ru.canSearch(binDir); !ok {
		return fmt.Errorf("PostgreSQL runs as OS user %s (it refuses root) but that user cannot reach %s (%s is not searchable for it); use binaries under a world-readable path (install PostgreSQL, or set postgres.bin_dir)",
			ru.name, binDir, blocked)
	}
	return nil
}

// ensureReach grants the server an ambient capability when path is out of the account's reach.
func (ru *runUser) ensureReach(path string) error {
	ok, blocked := ru.canSearch(path)
	if ok || len(ru.caps) > 0 {
		return nil
	}
	for _, c := range []uintptr{capDacReadSearch, capDacOverride} {
		if inBoundingSet(c) {
			ru.caps = []uintptr{c}
			ru.capsWhy = blocked
			return nil
		}
	}
	return fmt.Errorf("PostgreSQL runs as OS user %s (it refuses root) and cannot reach %s because %s is not searchable for it; "+
		"move the project (or state_dir) to a path other users can search, or allow it with `chmod o+x %s`", ru.name, path, blocked, blocked)
}

// inBoundingSet reads CapBnd from /proc/self/status.
func inBoundingSet(c uintptr) bool {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapBnd:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && n&(1<<c) != 0
		}
	}
	return false
}

// mkdirOwned creates dir (parents as the current user, 0755) and hands it to the account.
func (ru *runUser) mkdirOwned(dir string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(dir, mode); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := os.Chmod(dir, mode); err != nil {
		return err
	}
	if ru.switched {
		if err := os.Lchown(dir, ru.uid, ru.gid); err != nil {
			return err
		}
	}
	return ru.ensureReach(dir)
}

// ensurePrivateDir makes dir a real directory (not a symlink) owned by the account with mode 0700 —
// the socket directory; under /tmp another user may have planted it.
func (ru *runUser) ensurePrivateDir(dir string) error {
	if err := ru.mkdirOwned(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() || int(fi.Sys().(*syscall.Stat_t).Uid) != ru.uid {
		return fmt.Errorf("%s exists but is not a directory owned by %s; remove it", dir, ru.name)
	}
	return nil
}

// chownTree gives path and everything under it to the account (when running as root and it does not
// already own the top).
func (ru *runUser) chownTree(path string) error {
	if !ru.switched {
		return nil
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) == ru.uid && int(st.Gid) == ru.gid {
		return ru.ensureReach(path)
	}
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, ru.uid, ru.gid)
	})
	if err != nil {
		return fmt.Errorf("give %s to OS user %s: %w", path, ru.name, err)
	}
	return ru.ensureReach(path)
}

// capsReason says why the server gets an ambient capability ("" when it does not).
func (ru *runUser) capsReason() string {
	if len(ru.caps) == 0 {
		return ""
	}
	name := "CAP_DAC_READ_SEARCH"
	if ru.caps[0] == capDacOverride {
		name = "CAP_DAC_OVERRIDE"
	}
	return name + ": " + ru.capsWhy + " is not searchable for " + ru.name
}
