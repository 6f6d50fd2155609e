package telemetry

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/devstack-dev/devstack/internal/event"
)

// Spans on disk: Dir holds numbered segment files (00000001.ndjson, ...), one JSON span per line,
// appended in arrival order. A segment holds at most segSpans spans; past keepSegments files the oldest
// is deleted, so the disk keeps about the newest MaxSpans spans (and at most a quarter more). Nothing
// is fsynced: a crash loses the last second, and a line torn by kill -9 is skipped when loading.
const (
	segExt       = ".ndjson"
	keepSegments = 5
	maxLine      = 16 << 20 // a longer line is corrupt
)

type segments struct {
	dir      string
	perSeg   int // spans per segment
	log      *slog.Logger
	files    []int // segment numbers on disk, oldest first (the last is cur)
	cur      *os.File
	w        *bufio.Writer
	curSpans int
	unflushd int
	buf      []byte // one encoded span
	err      error  // the first write error (logged once; persistence stops)
}

// openSegments reads every segment in dir, oldest first, and opens a new one to append to. It returns
// the spans read, in batches, for the store to apply.
func openSegments(dir string, maxSpans int, log *slog.Logger) (*segments, [][]event.Span, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("telemetry: create %s: %w", dir, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry: read %s: %w", dir, err)
	}
	sg := &segments{dir: dir, perSeg: max(maxSpans/(keepSegments-1), 1), log: log}
	for _, e := range ents {
		n, ok := strings.CutSuffix(e.Name(), segExt)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if i, err := strconv.Atoi(n); err == nil && i > 0 {
			sg.files = append(sg.files, i)
		}
	}
	slices.Sort(sg.files)
	var loaded [][]event.Span
	for _, n := range sg.files {
		b, err := sg.load(n)
		if err != nil {
			return nil, nil, err
		}
		loaded = append(loaded, b...)
	}
	// the next segment is opened at the first span (restarts with nothing to write do not push the
	// saved segments out)
	return sg, loaded, nil
}

func (sg *segments) path(n int) string {
	return filepath.Join(sg.dir, fmt.Sprintf("%08d%s", n, segExt))
}

// load reads one segment. A line that does not decode ends it: what follows a torn write is not
// trusted. Only an unreadable file is an error; a missing one is nothing.
func (sg *segments) load(n int) ([][]event.Span, error) {
	f, err := os.Open(sg.path(n))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: read saved traces: %w (delete %s to start without them)", err, sg.dir)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var out [][]event.Span
	var batch []event.Span
	line := 0
	for sc.Scan() {
		line++
		var sp event.Span
		if err := json.Unmarshal(sc.Bytes(), &sp); err != nil || len(sp.TraceID) != 32 || len(sp.SpanID) != 16 {
			sg.log.Warn("saved traces: skipping a corrupt tail (devstack was killed while writing?)", "file", sg.path(n), "line", line)
			break
		}
		batch = append(batch, sp)
		if len(batch) == 1024 {
			out, batch = append(out, batch), nil
		}
	}
	if err := sc.Err(); err != nil {
		sg.log.Warn("saved traces: skipping a corrupt tail", "file", sg.path(n), "line", line+1, "err", err)
	}
	if len(batch) > 0 {
		out = append(out, batch)
	}
	return out, nil
}

func (sg *segments) open(n int) error {
	f, err := os.OpenFile(sg.path(n), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	sg.cur, sg.curSpans = f, 0
	if sg.w == nil {
		sg.w = bufio.NewWriterSize(f, 256<<10)
	} else {
		sg.w.Reset(f)
	}
	if len(sg.files) == 0 || sg.files[len(sg.files)-1] != n {
		sg.files = append(sg.files, n)
	}
	for len(sg.files) > keepSegments {
		if err := os.Remove(sg.path(sg.files[0])); err != nil && !errors.Is(err, fs.ErrNotExist) {
			sg.log.Warn("saved traces: remove an old segment", "err", err)
		}
		sg.files = sg.files[1:]
	}
	return nil
}

// append encodes spans to the current segment's buffer, rolling to a new segment when it is full.
func (sg *segments) append(spans []event.Span) {
	if sg.err != nil {
		return
	}
	for i := range spans {
		if sg.cur == nil {
			next := 1
			if len(sg.files) > 0 {
				next = sg.files[len(sg.files)-1] + 1
			}
			if err := sg.open(next); err != nil {
				sg.fail(err)
				return
			}
		}
		if sg.curSpans >= sg.perSeg {
			sg.flush()
			if sg.err != nil {
				return
			}
			if err := sg.cur.Close(); err != nil {
				sg.fail(err)
				return
			}
			if err := sg.open(sg.files[len(sg.files)-1] + 1); err != nil {
				sg.fail(err)
				return
			}
		}
		sg.buf = appendSpanJSON(sg.buf[:0], &spans[i])
		if _, err := sg.w.Write(sg.buf); err != nil {
			sg.fail(err)
			return
		}
		sg.curSpans++
		sg.unflushd++
	}
}

func (sg *segments) dirty() int { return sg.unflushd }

func (sg *segments) flush() {
	if sg.err != nil || sg.unflushd == 0 {
		return
	}
	if err := sg.w.Flush(); err != nil {
		sg.fail(err)
	}
	sg.unflushd = 0
}

func (sg *segments) fail(err error) {
	sg.err = err
	sg.log.Warn("saved traces: writing stopped; traces stay in memory only", "dir", sg.dir, "err", err)
}

func (sg *segments) close() error {
	sg.flush()
	if sg.cur == nil {
		return sg.err
	}
	err := sg.cur.Close()
	sg.cur = nil
	if sg.err != nil {
		return nil // already reported
	}
	return err
}
