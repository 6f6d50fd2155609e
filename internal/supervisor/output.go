package supervisor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

const (
	maxLine     = 64 * 1024        // longer lines are split into pieces of this size
	maxLogBytes = 10 * 1024 * 1024 // a log file is rotated to .1 at this size
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

// logFile appends a service's output to StateDir/logs/<service>.log, rotating it to .1 at 10 MiB.
type logFile struct {
	mu   sync.Mutex
	path string
	f    *os.File
	size int64
	err  error // first open error, reported once
}

func openLogFile(dir, service string) *logFile {
	return &logFile{path: filepath.Join(dir, service+".log")}
}

func (l *logFile) write(t time.Time, replica int, stream, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := fmt.Sprintf("%s %-6s r%d | %s\n", t.Format("2006-01-02T15:04:05.000Z07:00"), stream, replica, text)
	if l.f != nil && l.size+int64(len(line)) > maxLogBytes {
		l.f.Close()
		l.f = nil
		_ = os.Rename(l.path, l.path+".1")
	}
	if l.f == nil {
		if l.err != nil {
			return
		}
		if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
			l.err = err
			return
		}
		f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			l.err = err
			return
		}
		st, _ := f.Stat()
		l.f, l.size = f, 0
		if st != nil {
			l.size = st.Size()
		}
		if l.size+int64(len(line)) > maxLogBytes && l.size > 0 {
			l.f.Close()
			l.f = nil
			_ = os.Rename(l.path, l.path+".1")
			f, err = os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				l.err = err
				return
			}
			l.f, l.size = f, 0
		}
	}
	n, _ := l.f.WriteString(line)
	l.size += int64(n)
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
