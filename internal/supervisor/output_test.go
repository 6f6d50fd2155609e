package supervisor

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

var deletedRe = regexp.MustCompile(`devstack: log rotation deleted (\d+) lines \(\d+ bytes\) of output written from \S+ to \S+; (\d+) lines \(\d+ bytes\) deleted since devstack started`)

// logOnDisk reads <service>.log and its rotated files, oldest first: the numbers the service printed
// that are still there, and the last rotation note's count of lines deleted so far (0 without one).
func logOnDisk(t *testing.T, dir, service string) (kept []int, deletedSoFar int, files int) {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(dir, service+".log.*"))
	sort.Slice(paths, func(i, j int) bool { // .2 is older than .1
		a, _ := strconv.Atoi(filepath.Ext(paths[i])[1:])
		b, _ := strconv.Atoi(filepath.Ext(paths[j])[1:])
		return a > b
	})
	paths = append(paths, filepath.Join(dir, service+".log"))
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		files++
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			_, text, _ := strings.Cut(sc.Text(), " | ")
			if m := deletedRe.FindStringSubmatch(text); m != nil {
				deletedSoFar, _ = strconv.Atoi(m[2])
				continue
			}
			if strings.Contains(sc.Text(), " stdout ") {
				n, err := strconv.Atoi(text)
				if err != nil {
					t.Fatalf("%s: unexpected line %q", p, sc.Text())
				}
				kept = append(kept, n)
			}
		}
		f.Close()
	}
	return kept, deletedSoFar, files
}

// A service floods its output far past the log cap: what is on disk is the newest lines without a
// gap, at most max_files+1 files of about max_size, and the rotation notes count exactly the lines
// that are gone (the console gets the same note).
func TestLogFloodOnDiskMatchesClaims(t *testing.T) {
	tests := []struct {
		name     string
		maxBytes int64
		keep     int
		lines    int
	}{
		{"two rotated files", 64 << 10, 2, 60000},
		{"no rotated file", 64 << 10, 0, 20000},
		{"no cap", 0, 0, 20000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, []Spec{{Name: "flood", Dir: t.TempDir(), Replicas: 1, Restart: "no",
				Command: "seq 1 " + strconv.Itoa(tc.lines)}}, func(o *Options) {
				o.LogMaxBytes, o.LogMaxFiles = tc.maxBytes, tc.keep
			})
			h.start()
			h.waitFor("flood", 60*time.Second, "completed", func(sv event.Service) bool { return sv.Status == event.StatusCompleted })
			h.stop()
			dir := filepath.Join(h.state, "logs")
			kept, deleted, files := logOnDisk(t, dir, "flood")
			if len(kept) == 0 || kept[len(kept)-1] != tc.lines {
				t.Fatalf("the newest line is not on disk: %d kept", len(kept))
			}
			for i, n := range kept {
				if n != kept[0]+i {
					t.Fatalf("gap on disk: line %d follows %d", n, kept[i-1])
				}
			}
			if first := kept[0]; first-1 != deleted {
				t.Errorf("lines 1..%d are gone but the rotation note says %d lines were deleted", first-1, deleted)
			}
			if tc.maxBytes > 0 && deleted == 0 {
				t.Errorf("nothing was deleted: the test does not flood past the cap")
			}
			if files > tc.keep+1 {
				t.Errorf("%d files on disk, want at most %d", files, tc.keep+1)
			}
			if tc.maxBytes > 0 {
				entries, _ := os.ReadDir(dir)
				for _, e := range entries {
					if fi, _ := e.Info(); fi.Size() > tc.maxBytes {
						t.Errorf("%s is %d bytes, over the cap %d", e.Name(), fi.Size(), tc.maxBytes)
					}
				}
				notes := h.logs.Tail(1000, func(l event.LogLine) bool { return l.Stream == "system" && deletedRe.MatchString(l.Text) })
				if len(notes) == 0 {
					t.Errorf("the rotation was not reported in the log stream")
				}
			}
		})
	}
}
