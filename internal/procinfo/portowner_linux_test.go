package procinfo

import (
	"net"
	"os"
	"testing"
)

func TestPortOwnerFindsThisProcess(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pid, comm, ok := PortOwner(l.Addr().(*net.TCPAddr).Port)
	if !ok || pid != os.Getpid() || comm == "" {
		t.Fatalf("PortOwner = %d %q %v, want this process (%d)", pid, comm, ok, os.Getpid())
	}
	l.Close()
	if _, _, ok := PortOwner(l.Addr().(*net.TCPAddr).Port); ok {
		t.Errorf("PortOwner found an owner of a closed port")
	}
}
