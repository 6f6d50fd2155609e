package procinfo

import (
	"os/exec"
	"strconv"
	"strings"
)

// lsofField reads lsof's -F output ("p1234", "cnode", "n/path", one field a line) and returns, for the
// first process, its pid and the first value of field letter want.
func lsofField(out []byte, want byte) (pid int, val string, ok bool) {
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" {
			continue
		}
		switch line[0] {
		case 'p':
			if pid != 0 { // a second process: the first had no such field
				return pid, "", false
			}
			pid, _ = strconv.Atoi(line[1:])
		case want:
			if pid > 0 {
				return pid, line[1:], true
			}
		}
	}
	return pid, "", false
}

// portOwnerLsof asks lsof which process listens on TCP port. lsof exits 1 when nothing matches.
func portOwnerLsof(port int) (pid int, comm string, ok bool) {
	out, _ := exec.Command("lsof", "-nP", "-iTCP:"+strconv.Itoa(port), "-sTCP:LISTEN", "-Fpc").Output()
	pid, comm, ok = lsofField(out, 'c')
	return pid, comm, ok && pid > 0
}

// cwdLsof asks lsof for pid's working directory ("" when unknown).
func cwdLsof(pid int) string {
	out, _ := exec.Command("lsof", "-a", "-p", strconv.Itoa(pid), "-d", "cwd", "-Fn").Output()
	p, dir, ok := lsofField(out, 'n')
	if !ok || p != pid {
		return ""
	}
	return dir
}
