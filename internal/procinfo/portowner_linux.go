package procinfo

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PortOwner finds the process listening on TCP port (any address, IPv4 or IPv6) through /proc. ok is
// false when none is found or it cannot be seen (another user's process, say); it is best effort.
func PortOwner(port int) (pid int, comm string, ok bool) {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 || fs[3] != "0A" { // 0A: LISTEN
				continue
			}
			i := strings.LastIndexByte(fs[1], ':')
			if i < 0 {
				continue
			}
			if p, err := strconv.ParseInt(fs[1][i+1:], 16, 32); err == nil && int(p) == port {
				inodes["socket:["+fs[9]+"]"] = true
			}
		}
		fh.Close()
	}
	if len(inodes) == 0 {
		return 0, "", false
	}
	fdDirs, _ := filepath.Glob("/proc/[0-9]*/fd")
	for _, fdDir := range fdDirs {
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil || !inodes[target] {
				continue
			}
			pidDir := filepath.Dir(fdDir)
			pid, _ = strconv.Atoi(filepath.Base(pidDir))
			b, _ := os.ReadFile(filepath.Join(pidDir, "comm"))
			return pid, strings.TrimSpace(string(b)), true
		}
	}
	return 0, "", false
}
