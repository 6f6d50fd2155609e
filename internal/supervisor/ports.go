package supervisor

import (
	"fmt"
	"github.com/devstack-dev/devstack/internal/procinfo"
	"net"
	"strconv"
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
	if pid, comm, ok := procinfo.PortOwner(port); ok {
		return fmt.Sprintf("pid %d, %s", pid, comm)
	}
	return ""
}
