package postgres

import (
	"fmt"
	"github.com/devstack-dev/devstack/internal/procinfo"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// procStat reads state, parent pid and command name of pid from /proc.
func procStat(pid int) (state byte, ppid int, comm string, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, "", false
	}
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return 0, 0, "", false
	}
	comm = s[open+1 : closing]
	f := strings.Fields(s[closing+1:])
	if len(f) < 2 {
		return 0, 0, "", false
	}
	ppid, _ = strconv.Atoi(f[1])
	return f[0][0], ppid, comm, true
}

// procAlive: pid exists and is not a zombie.
func procAlive(pid int) bool {
	st, _, _, ok := procStat(pid)
	return ok && st != 'Z' && st != 'X'
}

// isLivePostgres: pid is a running PostgreSQL process (its comm stays "postgres" whatever its title).
func isLivePostgres(pid int) bool {
	st, _, comm, ok := procStat(pid)
	return ok && st != 'Z' && st != 'X' && (comm == "postgres" || comm == "postmaster")
}

// procCwd is pid's working directory ("" when unreadable). A postmaster's is its data directory.
func procCwd(pid int) string {
	p, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
	if err != nil {
		return ""
	}
	return p
}

// portHolder names the process listening on port, best effort ("" if unknown).
func portHolder(port int) string {
	if pid, comm, ok := procinfo.PortOwner(port); ok {
		return fmt.Sprintf("pid %d (%s)", pid, comm)
	}
	return ""
}

// syncFS flushes the filesystem holding dir (one syncfs call instead of an fsync per copied file: the
// ~1000 files of a fresh cluster would take ~0.5 s to fsync one by one).
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}

// sunPathMax is the size of a unix socket address's path (sockaddr_un.sun_path).
const sunPathMax = 108
