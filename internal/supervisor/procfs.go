package supervisor

import "os"

// procInfo is what devstack reads about a process from the process table (/proc/<pid>/stat on Linux).
type procInfo struct {
	pid, ppid, pgid int
	state           byte
	utime, stime    uint64 // clock ticks
	start           uint64 // start time (Linux: clock ticks after boot); only compared for equality
	rss             uint64 // pages
}

const clockTicks = 100 // units of utime and stime per second (USER_HZ on Linux)

var pageSize = uint64(os.Getpagesize()) // unit of rss

// descendants returns root and every process below it in the tree, from one listing.
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

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	p, ok := readStat(pid)
	return ok && p.state != 'Z' && p.state != 'X'
}

// startTime returns a process's start time, to tell it from a later process with its pid (0 if it
// does not exist).
func startTime(pid int) uint64 {
	p, ok := readStat(pid)
	if !ok {
		return 0
	}
	return p.start
}
