package postgres

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
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

// portHolder names the process listening on 127.0.0.1/0.0.0.0/:: port, best effort ("" if unknown).
func portHolder(port int) string {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" { // LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseInt(hexPort, 16, 32); ok && err == nil && int(p) == port {
				inodes[fields[9]] = true
			}
		}
		fh.Close()
	}
	if len(inodes) == 0 {
		return ""
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, pd := range procs {
		fds, err := os.ReadDir(pd + "/fd")
		if err != nil {
			continue
		}
		for _, fd := range fds {
			l, err := os.Readlink(pd + "/fd/" + fd.Name())
			if err != nil || !strings.HasPrefix(l, "socket:[") {
				continue
			}
			if inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] {
				pid, _ := strconv.Atoi(filepath.Base(pd))
				_, _, comm, _ := procStat(pid)
				return fmt.Sprintf("pid %d (%s)", pid, comm)
			}
		}
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
