//go:build !darwin

package supervisor

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// readStat parses /proc/<pid>/stat.
func readStat(pid int) (procInfo, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	return parseStat(pid, b)
}

func parseStat(pid int, b []byte) (procInfo, bool) {
	// comm is in parentheses and may contain spaces and parentheses: split after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return procInfo{}, false
	}
	f := strings.Fields(string(b[i+2:]))
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 22 {
		return procInfo{}, false
	}
	num := func(n int) uint64 { v, _ := strconv.ParseUint(f[n-3], 10, 64); return v }
	p := procInfo{pid: pid, state: f[0][0]}
	p.ppid = int(num(4))
	p.pgid = int(num(5))
	p.utime = num(14)
	p.stime = num(15)
	p.start = num(22)
	if len(f) >= 22 {
		p.rss = num(24)
	}
	return p, true
}

// listProcs reads every process in /proc.
func listProcs() []procInfo {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	out := make([]procInfo, 0, len(names))
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		if p, ok := readStat(pid); ok {
			out = append(out, p)
		}
	}
	return out
}

// hasEnv reports whether process pid's environment contains the exact entry kv.
func hasEnv(pid int, kv string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	for _, e := range bytes.Split(b, []byte{0}) {
		if string(e) == kv {
			return true
		}
	}
	return false
}

// sampleProcs lists every process with its CPU time and RSS (here the same /proc listing).
func sampleProcs() []procInfo { return listProcs() }
