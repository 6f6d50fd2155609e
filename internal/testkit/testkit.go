// Package testkit holds the helpers devstack's tests share across packages: a free loopback port, the
// devstack binary under test, skipping (or failing under DEVSTACK_REQUIRE_ALL=1) when a real part is
// missing, a buffer a child process and a test can share, running a stack until
// the test ends, and a test CA with a server certificate. It is
// imported by tests only.
package testkit

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// FreePort is a TCP port on 127.0.0.1 that nothing listened on a moment ago and that no earlier
// FreePort call in this test process returned: the kernel may hand the same ephemeral port to two
// listeners opened one after the other, and a test that asks for a broker port and a registry port must
// get two.
func FreePort(t testing.TB) int {
	t.Helper()
	freePorts.Lock()
	defer freePorts.Unlock()
	for range 1000 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !freePorts.given[port] {
			freePorts.given[port] = true
			return port
		}
	}
	t.Fatalf("find a free port: 1000 tries returned only ports handed out before")
	return 0
}

var freePorts = struct {
	sync.Mutex
	given map[int]bool
}{given: map[int]bool{}}

// RepoRoot is the root of the devstack checkout these sources are in.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// DevstackBinary is $DEVSTACK_BIN when set (what `make test` builds), else ./cmd/devstack built into the
// test's temp dir.
func DevstackBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("DEVSTACK_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "devstack")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/devstack")
	cmd.Dir = RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build devstack: %v\n%s", err, out)
	}
	return bin
}

// SkipOrFail skips the test for a missing part of the machine, or fails it when DEVSTACK_REQUIRE_ALL=1
// (CI, where every part must be there).
func SkipOrFail(t testing.TB, format string, a ...any) {
	t.Helper()
	if os.Getenv("DEVSTACK_REQUIRE_ALL") == "1" {
		t.Fatalf("DEVSTACK_REQUIRE_ALL=1: "+format, a...)
	}
	t.Skipf(format, a...)
}

// SyncBuffer is a bytes.Buffer safe to write from one goroutine (a child's output copier) and read
// from another.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ContainerImages are the images the real-engine tests run: DEVSTACK_KAFKA_IMAGE and
// DEVSTACK_POSTGRES_IMAGE (make test-containers sets them to the local images of images/build.sh), else
// the defaults given (devstack.yaml's: config.DefaultBrokerImage and config.DefaultPostgresImage; testkit
// does not import config, so that config's own dependencies can use testkit in their tests).
func ContainerImages(defaultKafka, defaultPostgres string) (kafka, postgres string) {
	kafka, postgres = os.Getenv("DEVSTACK_KAFKA_IMAGE"), os.Getenv("DEVSTACK_POSTGRES_IMAGE")
	if kafka == "" {
		kafka = defaultKafka
	}
	if postgres == "" {
		postgres = defaultPostgres
	}
	return kafka, postgres
}

// NeedEngine skips a test when no Docker engine answers (engineErr, from containers.Available), or fails
// it when DEVSTACK_REQUIRE_CONTAINERS=1 (make test-containers).
func NeedEngine(t testing.TB, engineErr error) {
	t.Helper()
	if engineErr == nil {
		return
	}
	if os.Getenv("DEVSTACK_REQUIRE_CONTAINERS") == "1" {
		t.Fatalf("DEVSTACK_REQUIRE_CONTAINERS=1: %v", engineErr)
	}
	t.Skipf("skipping: %v", engineErr)
}

// Runner is what RunUntilCleanup runs: something that serves until its context ends and can say when it
// is ready (internal/stack's Stack is one; testkit does not import it).
type Runner interface {
	Run(ctx context.Context) error
	WaitReady(ctx context.Context) error
}

// RunUntilCleanup runs r until the test ends (then cancels it and waits for Run to return) and waits
// at most readyWithin for it to be ready, failing the test if it is not.
func RunUntilCleanup(t testing.TB, r Runner, readyWithin time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(ctx, readyWithin)
	defer wcancel()
	if err := r.WaitReady(wctx); err != nil {
		t.Fatalf("not ready within %s: %v", readyWithin, err)
	}
}
