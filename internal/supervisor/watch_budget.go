package supervisor

import (
	"os"
	"sync"
	"syscall"
)

// fsnotify's kqueue backend (macOS) opens a file descriptor for every watched directory and for every
// entry in it; inotify (Linux) needs none. So that a large tree cannot exhaust devstack's descriptors
// (its sockets, logs and the broker's files need them too), all watchers together may hold at most
// half of the open-file limit (Go raises the soft limit to the hard one, capped on macOS by
// kern.maxfilesperproc); directories beyond that are not watched, with one warning.
var watchFDs struct {
	sync.Mutex
	cost        func(dir string) int // descriptors a watch on dir holds
	used, limit int                  // limit 0: not yet read
}

func init() { watchFDs.cost = platformWatchCost }

// kqueueWatchCost is what watching dir costs with kqueue: the directory and each entry in it.
func kqueueWatchCost(dir string) int {
	es, err := os.ReadDir(dir)
	if err != nil {
		return 1
	}
	return 1 + len(es)
}

// watchCost is the descriptors a watch on dir would hold.
func watchCost(dir string) int {
	watchFDs.Lock()
	defer watchFDs.Unlock()
	return watchFDs.cost(dir)
}

// reserveWatchFDs takes n descriptors from the budget; false when they would exceed it.
func reserveWatchFDs(n int) bool {
	watchFDs.Lock()
	defer watchFDs.Unlock()
	if watchFDs.limit == 0 {
		watchFDs.limit = 512
		var lim syscall.Rlimit
		if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur/2 > 512 && lim.Cur < 1<<31 {
			watchFDs.limit = int(lim.Cur / 2)
		}
	}
	if watchFDs.used+n > watchFDs.limit {
		return false
	}
	watchFDs.used += n
	return true
}

func releaseWatchFDs(n int) {
	watchFDs.Lock()
	defer watchFDs.Unlock()
	watchFDs.used -= n
}

func watchFDsInUse() int {
	watchFDs.Lock()
	defer watchFDs.Unlock()
	return watchFDs.used
}

// watchFDLimit is the budget, for messages.
func watchFDLimit() int {
	watchFDs.Lock()
	defer watchFDs.Unlock()
	return watchFDs.limit
}

// setWatchBudget replaces the cost function and the limit (tests); it returns the undo.
func setWatchBudget(cost func(string) int, limit int) func() {
	watchFDs.Lock()
	defer watchFDs.Unlock()
	oldCost, oldLimit := watchFDs.cost, watchFDs.limit
	watchFDs.cost, watchFDs.limit = cost, limit
	return func() {
		watchFDs.Lock()
		defer watchFDs.Unlock()
		watchFDs.cost, watchFDs.limit = oldCost, oldLimit
	}
}
