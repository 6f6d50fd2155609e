package testkit

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestFreePortIsListenable(t *testing.T) {
	p := FreePort(t)
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		t.Fatalf("port %d from FreePort: %v", p, err)
	}
	l.Close()
}

func TestSyncBufferConcurrentWrites(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				b.Write([]byte("x"))
			}
		})
	}
	wg.Wait()
	if n := len(b.String()); n != 800 {
		t.Fatalf("len = %d, want 800", n)
	}
}

// TestFreePortNeverRepeats: ports asked for one after the other are distinct (a stack's broker and
// registry once got the same one, and the config refused it).
func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 2000 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("FreePort returned %d twice", p)
		}
		seen[p] = true
	}
}

// fakeRunner is ready once Run has started, and records that Run ended.
type fakeRunner struct{ started, ended chan struct{} }

func (f *fakeRunner) Run(ctx context.Context) error {
	close(f.started)
	<-ctx.Done()
	time.Sleep(50 * time.Millisecond) // a stack takes a while to stop
	close(f.ended)
	return nil
}

func (f *fakeRunner) WaitReady(ctx context.Context) error {
	select {
	case <-f.started:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestRunUntilCleanup: the runner is ready when the helper returns, runs for the whole test, and has
// returned from Run once the test's cleanups are done.
func TestRunUntilCleanup(t *testing.T) {
	f := &fakeRunner{started: make(chan struct{}), ended: make(chan struct{})}
	t.Run("test", func(t *testing.T) {
		RunUntilCleanup(t, f, time.Second)
		select {
		case <-f.ended:
			t.Fatal("Run ended before the test did")
		default:
		}
	})
	select {
	case <-f.ended:
	default:
		t.Fatal("Run still running after the test's cleanups")
	}
}
