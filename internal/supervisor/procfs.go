package supervisor

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// procInfo is what devstack reads about a process from /proc/<pid>/stat.
type procInfo struct {
	pid, ppid, pgid int
	state           byte
	utime, stime    uint64 // clock ticks
	start           uint64 // start time in clock ticks after boot
	rss             uint64 // pages
}

const clockTicks = 100 // USER_HZ on Linux

var pageSize = uint64(os.Getpagesize())

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

// descendants returns root and every process below it in the tree, from one /proc listing.
func descendants(all []procInfo, root int) []procInfo {
	kids := map[int][]int{}
	byPID := map[int]procInfo{}
	for _, p := range all {
		kids[p.ppid] = append(kids[p.ppid], p.pid)
		byPID[p.pid] = p
	}
	var out []procInfo
	seen := map[int]bool{}
	stack := []int{root}
	for len(stack) > 0 {
		pid := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		if p, ok := byPID[pid]; ok {
			out = append(out, p)
		}
		stack = append(stack, kids[pid]...)
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

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	p, ok := readStat(pid)
	return ok && p.state != 'Z' && p.state != 'X'
}

// startTime returns a process's start time in ticks after boot (0 if it does not exist).
func startTime(pid int) uint64 {
	p, ok := readStat(pid)
	if !ok {
		return 0
	}
	return p.start
}
