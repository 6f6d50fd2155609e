package supervisor

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// On macOS fsnotify's kqueue backend holds a file descriptor for every watched directory and every
// entry in it. A tree needing more than the budget is watched only in part, with one warning saying
// what to do, instead of exhausting devstack's file descriptors; the budget is returned when the
// watcher stops. (Run on Linux with macOS's cost function.)
func TestWatchFDBudget(t *testing.T) {
	defer setWatchBudget(kqueueWatchCost, 40)()
	dir := t.TempDir()
	for i := range 10 {
		for j := range 5 {
			writeFile(t, filepath.Join(dir, fmt.Sprintf("d%d", i), fmt.Sprintf("f%d.go", j)), "")
		}
	}
	// root: 1 + 10 entries; each dN: 1 + 5 entries — 71 descriptors in all, over the budget of 40
	var logs syncBuf
	f := &fileFilter{dir: dir, ignore: DefaultIgnore}
	co := newCoalescer(realClock{}, 30*time.Millisecond, time.Second, func(change) {})
	w, err := newWatcher([]string{dir}, f, co, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if used := watchFDsInUse(); used == 0 || used > 40 {
		t.Errorf("watch descriptors in use = %d, want 1..40", used)
	}
	if n := strings.Count(logs.String(), "kern.maxfilesperproc"); n != 1 {
		t.Errorf("want one warning naming the limit to raise, got %d:\n%s", n, logs.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.run(ctx) }()
	cancel()
	<-done
	if used := watchFDsInUse(); used != 0 {
		t.Errorf("watch descriptors in use after the watcher stopped = %d, want 0", used)
	}
}
