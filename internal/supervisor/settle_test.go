package supervisor

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// Without a probe an instance is ready only once it has stayed up for Settle: a crash loop never
// counts as ready (WaitReady reports the give-up), a steady process does, and Settle 0 keeps the
// old "ready at start".
func TestSettleWithoutProbe(t *testing.T) {
	tests := []struct {
		name      string
		command   string
		settle    time.Duration
		wantErr   string // regexp; "" means WaitReady succeeds
		everReady bool   // whether the service may ever be seen ready
		minWait   time.Duration
	}{
		{"crash loop never ready", "sleep 0.2; exit 1", time.Second, `^service w: gave up after 2 restarts`, false, 0},
		{"steady process ready after settle", "exec sleep 1000", 700 * time.Millisecond, "", true, 700 * time.Millisecond},
		{"settle 0: ready at start", "sleep 0.2; exit 1", 0, "", true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, []Spec{{Name: "w", Dir: t.TempDir(), Restart: "on-failure", Replicas: 1, Command: tc.command, Settle: tc.settle,
				MaxRestarts: 2, Backoff: 50 * time.Millisecond}})
			var mu sync.Mutex
			seenReady := false
			stopWatch := make(chan struct{})
			var wg sync.WaitGroup
			// subscribed before the start, so no state published by it is missed
			_, ch, cancel := h.bus.Subscribe(4096)
			defer cancel()
			wg.Add(1)
			note := func(ev event.Event) {
				if ev.Kind == event.KindService && ev.Service != nil && ev.Service.Status == event.StatusReady {
					mu.Lock()
					seenReady = true
					mu.Unlock()
				}
			}
			go func() { // every published state, not just the last
				defer wg.Done()
				for {
					select {
					case ev := <-ch:
						note(ev)
					case <-stopWatch:
						// what was published before WaitReady returned is still buffered: read it too
						for {
							select {
							case ev := <-ch:
								note(ev)
							default:
								return
							}
						}
					}
				}
			}()
			start := time.Now()
			h.start()
			err := h.waitReady(60 * time.Second)
			took := time.Since(start)
			close(stopWatch)
			wg.Wait()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("WaitReady: %v", err)
			case tc.wantErr != "" && (err == nil || !regexp.MustCompile(tc.wantErr).MatchString(err.Error())):
				t.Fatalf("WaitReady = %v, want %q", err, tc.wantErr)
			}
			if took < tc.minWait {
				t.Errorf("ready after %s, before the settle period %s", took, tc.minWait)
			}
			mu.Lock()
			defer mu.Unlock()
			if seenReady && !tc.everReady {
				t.Errorf("the crash-looping service was published as ready")
			}
			if !seenReady && tc.everReady {
				t.Errorf("the service was never published as ready")
			}
		})
	}
}

// A one-shot job without a probe (a migration) exits 0 before its settle period: it completes, on a
// warm start (build skipped) too, without being taken for a failed start and rebuilt.
func TestSettleOneShotJobCompletes(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "job")
	state := filepath.Join(root, ".devstack")
	writeFile(t, filepath.Join(dir, "main.txt"), "v1")
	sp := Spec{Name: "job", Dir: dir, Replicas: 1, Restart: "no", Settle: time.Second, Env: os.Environ(),
		Build: "echo b >> ../builds.count", Command: "echo migrated"}
	for run := range 2 {
		h := newHarness(t, []Spec{sp}, func(o *Options) { o.StateDir = state })
		h.start()
		if err := h.waitReady(60 * time.Second); err != nil {
			t.Fatalf("run %d: WaitReady: %v", run, err)
		}
		sv := h.waitFor("job", 60*time.Second, "completed or failed", func(sv event.Service) bool {
			return sv.Status == event.StatusCompleted || sv.Status == event.StatusFailed
		})
		if sv.Status != event.StatusCompleted || sv.Error != "" {
			t.Fatalf("run %d: status %s, error %q; want completed", run, sv.Status, sv.Error)
		}
		h.stop()
	}
	if b, _ := os.ReadFile(filepath.Join(root, "builds.count")); strings.Count(string(b), "\n") != 1 {
		t.Errorf("built %d times, want once (the warm start skips the build)", strings.Count(string(b), "\n"))
	}
}
