package supervisor

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// portAllocator hands out free loopback ports and never gives the same one twice while it is held.
type portAllocator struct {
	mu   sync.Mutex
	held map[int]bool
}

func newPortAllocator() *portAllocator { return &portAllocator{held: map[int]bool{}} }

// get asks the OS for a free port on 127.0.0.1.
func (a *portAllocator) get() (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("allocate a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !a.held[port] {
			a.held[port] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("allocate a free port: no free port found")
}

func (a *portAllocator) release(port int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.held, port)
}

// portFree reports whether port can be bound on 127.0.0.1 (a listener on any address conflicts).
func portFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// portOwner names the process listening on port ("pid 123, node"), or "" when it cannot be found
// (for example when it belongs to another user).
func portOwner(port int) string {
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
			p, err := strconv.ParseInt(fs[1][i+1:], 16, 32)
			if err == nil && int(p) == port {
				inodes["socket:["+fs[9]+"]"] = true
			}
		}
		fh.Close()
	}
	if len(inodes) == 0 {
		return ""
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd")
	for _, fdDir := range procs {
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err == nil && inodes[target] {
				pidDir := filepath.Dir(fdDir)
				comm, _ := os.ReadFile(filepath.Join(pidDir, "comm"))
				return fmt.Sprintf("pid %s, %s", filepath.Base(pidDir), strings.TrimSpace(string(comm)))
			}
		}
	}
	return ""
}
