//go:build !linux

package postgres

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/devstack-dev/devstack/internal/procinfo"
)

// procAlive: pid exists and is not a zombie.
func procAlive(pid int) bool {
	st, _, _, ok := procStat(pid)
	return ok && st != 'Z'
}

// isLivePostgres: pid is a running PostgreSQL process (its command name stays "postgres" whatever its title).
func isLivePostgres(pid int) bool {
	st, _, comm, ok := procStat(pid)
	return ok && st != 'Z' && (comm == "postgres" || comm == "postmaster")
}

// portHolder names the process listening on port, best effort ("" if unknown).
func portHolder(port int) string {
	if pid, comm, ok := procinfo.PortOwner(port); ok {
		return fmt.Sprintf("pid %d (%s)", pid, comm)
	}
	return ""
}

// syncFS flushes the files under dir one by one (there is no syncfs(2) here).
func syncFS(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	})
}

// sunPathMax is the size of a unix socket address's path (sockaddr_un.sun_path; 104 on macOS and the BSDs).
const sunPathMax = 104
