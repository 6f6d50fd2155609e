package supervisor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	maxLine = 64 * 1024 // longer lines are split into pieces of this size
)

// readLines calls fn for every line read from r, without the line ending. A line longer than maxLine
// is delivered in pieces; a last line without newline is delivered at EOF.
func readLines(r io.Reader, fn func(string)) {
	br := bufio.NewReaderSize(r, maxLine)
	for {
		b, err := br.ReadSlice('\n')
		if len(b) > 0 {
			if err == nil {
				b = b[:len(b)-1]
				if n := len(b); n > 0 && b[n-1] == '\r' {
					b = b[:n-1]
				}
			}
			if err == nil || errors.Is(err, bufio.ErrBufferFull) || len(b) > 0 {
				fn(string(b))
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// logFile appends a service's output to StateDir/logs/<service>.log. At maxBytes (0: never) the file
// is rotated: <service>.log.1 is the newest of keep rotated files and what falls off the end is
// deleted. A note at the top of the new file (and in the log stream) says how many lines and bytes of
// output were deleted and when they were written, so what is on disk plus the notes is everything.
type logFile struct {
	mu       sync.Mutex
	path     string
	maxBytes int64
	keep     int
	f        *os.File
	size     int64
	err      error   // first open error, reported once
	deleted  logLoss // deleted by rotation since devstack started
}

// logLoss counts output lines (devstack's rotation notes excluded) and their bytes.
type logLoss struct{ lines, bytes int64 }

// rotationNote starts the line devstack writes when rotation deletes output.
const rotationNote = "devstack: log rotation deleted "

// noteMark is how a rotation note looks in a log file (no service output has stream "system").
const noteMark = " system r0 | " + rotationNote

const logTimeFormat = "2006-01-02T15:04:05.000Z07:00"

func openLogFile(dir, service string, maxBytes int64, keep int) *logFile {
	return &logFile{path: filepath.Join(dir, service+".log"), maxBytes: maxBytes, keep: keep}
}

func formatLogLine(t time.Time, replica int, stream, text string) string {
	return fmt.Sprintf("%s %-6s r%d | %s\n", t.Format(logTimeFormat), stream, replica, text)
}

// write appends one line. When that rotated the file and deleted output, it returns the note it
// wrote about it (for the log stream), else "".
func (l *logFile) write(t time.Time, replica int, stream, text string) (note string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := formatLogLine(t, replica, stream, text)
	if l.f == nil && !l.open() {
		return ""
	}
	if l.maxBytes > 0 && l.size > 0 && l.size+int64(len(line)) > l.maxBytes {
		if note = l.rotate(t); l.f == nil {
			return note
		}
	}
	n, _ := l.f.WriteString(line)
	l.size += int64(n)
	return note
}

func (l *logFile) open() bool {
	if l.err != nil {
		return false
	}
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		l.err = err
		return false
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		l.err = err
		return false
	}
	l.f, l.size = f, 0
	if st, err := f.Stat(); err == nil {
		l.size = st.Size()
	}
	return true
}

func (l *logFile) rotated(i int) string { return l.path + "." + strconv.Itoa(i) }

// rotate shifts <service>.log to .1, .1 to .2 and so on, deleting what falls off the end (the current
// file itself when keep is 0), opens a new file and writes the note about what was deleted at its top.
func (l *logFile) rotate(t time.Time) string {
	l.f.Close()
	l.f = nil
	gone := l.path
	if l.keep > 0 {
		gone = l.rotated(l.keep)
	}
	loss, from, until := measureLog(gone)
	_ = os.Remove(gone)
	for i := l.keep - 1; i >= 1; i-- {
		_ = os.Rename(l.rotated(i), l.rotated(i+1))
	}
	if l.keep > 0 {
		_ = os.Rename(l.path, l.rotated(1))
	}
	if !l.open() || loss.lines == 0 {
		return ""
	}
	l.deleted.lines += loss.lines
	l.deleted.bytes += loss.bytes
	note := fmt.Sprintf("%s%d lines (%d bytes) of output written from %s to %s; %d lines (%d bytes) deleted since devstack started "+
		"(logs.max_files and logs.max_size in devstack.yaml set how much is kept)",
		rotationNote, loss.lines, loss.bytes, from, until, l.deleted.lines, l.deleted.bytes)
	n, _ := l.f.WriteString(formatLogLine(t, 0, "system", note))
	l.size += int64(n)
	return note
}

// measureLog counts the output lines of a log file (devstack's rotation notes excluded) and returns
// the times of its first and last line.
func measureLog(path string) (loss logLoss, from, until string) {
	f, err := os.Open(path)
	if err != nil {
		return logLoss{}, "", ""
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, maxLine+256)
	partial := false // inside a line longer than the buffer
	for {
		b, err := br.ReadSlice('\n')
		if len(b) > 0 && !partial {
			if ts, _, ok := strings.Cut(string(b[:min(len(b), 64)]), " "); ok {
				if from == "" {
					from = ts
				}
				until = ts
			}
			if !bytes.Contains(b, []byte(noteMark)) {
				loss.lines++
				loss.bytes += int64(len(b))
			}
		} else if len(b) > 0 {
			loss.bytes += int64(len(b))
		}
		partial = errors.Is(err, bufio.ErrBufferFull)
		if err != nil && !partial {
			return loss, from, until
		}
	}
}

func (l *logFile) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// tailBuf keeps the last n lines of one process's output for error messages.
type tailBuf struct {
	mu    sync.Mutex
	n     int
	lines []string
}

func newTail(n int) *tailBuf { return &tailBuf{n: n} }

func (t *tailBuf) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(s) > 2000 {
		s = s[:2000] + "…"
	}
	t.lines = append(t.lines, s)
	if len(t.lines) > t.n {
		t.lines = t.lines[len(t.lines)-t.n:]
	}
}

func (t *tailBuf) get() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.lines...)
}

func (t *tailBuf) String() string { return strings.Join(t.get(), "\n") }
