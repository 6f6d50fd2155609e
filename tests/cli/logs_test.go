package cli_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var rotationNoteRe = regexp.MustCompile(`devstack: log rotation deleted (\d+) lines \(\d+ bytes\) of output written from \S+ to \S+; (\d+) lines \(\d+ bytes\) deleted since devstack started`)

// A service floods its output far past logs.max_size × (max_files+1): the console says what log
// rotation deleted, and what is on disk plus what devstack said it deleted is everything the
// service printed, newest lines kept, without a gap.
func TestLogFloodOnDiskMatchesWhatDevstackSays(t *testing.T) {
	const total = 100000
	dir, _ := stackDir(t, `
control: {port: ${CONTROL_PORT}}
broker: {enabled: false}
postgres: {enabled: false}
logs: {max_size: 64KiB, max_files: 1}
services:
  flood:
    command: seq 1 `+strconv.Itoa(total)+`; echo flood-done; exec sleep 1000
    ready: {log: flood-done}
`)
	out, code := run(t, dir, "test", "--no-isolation", "--logs", "--", "true") // its logs stay in .devstack, read below
	if code != 0 {
		t.Fatalf("devstack test: exit %d:\n%s", code, tail(out, 40))
	}
	said := 0 // the highest "deleted since devstack started" the console showed
	for _, m := range rotationNoteRe.FindAllStringSubmatch(out, -1) {
		said = max(said, atoi(t, m[2]))
	}
	if said == 0 {
		t.Fatalf("the console never said that log rotation deleted output:\n%s", tail(out, 40))
	}

	logs := filepath.Join(dir, ".devstack", "logs")
	var kept []int
	onDisk := 0 // the last note's count on disk
	for _, name := range []string{"flood.log.1", "flood.log"} {
		f, err := os.Open(filepath.Join(logs, name))
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		if st.Size() > 64<<10 {
			t.Errorf("%s is %d bytes, over logs.max_size", name, st.Size())
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			_, text, _ := strings.Cut(sc.Text(), " | ")
			if m := rotationNoteRe.FindStringSubmatch(text); m != nil {
				onDisk = atoi(t, m[2])
			} else if n, err := strconv.Atoi(text); err == nil && strings.Contains(sc.Text(), " stdout ") {
				kept = append(kept, n)
			}
		}
		f.Close()
	}
	if _, err := os.Stat(filepath.Join(logs, "flood.log.2")); err == nil {
		t.Errorf("flood.log.2 exists with max_files: 1")
	}
	if len(kept) == 0 || kept[len(kept)-1] != total {
		t.Fatalf("the newest lines are not on disk (%d lines kept)", len(kept))
	}
	for i, n := range kept {
		if n != kept[0]+i {
			t.Fatalf("gap on disk: line %d follows %d", n, kept[i-1])
		}
	}
	gone := kept[0] - 1
	if onDisk != gone {
		t.Errorf("lines 1..%d are gone from disk, the note there says %d were deleted", gone, onDisk)
	}
	if said != gone && !strings.Contains(out, "log lines skipped") {
		t.Errorf("lines 1..%d are gone from disk, the console said %d were deleted", gone, said)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
