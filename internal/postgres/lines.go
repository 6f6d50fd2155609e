package postgres

import (
	"bufio"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// lineSink turns the server's output into lines for LogWriter (or the debug log) and keeps the last ones
// to explain a failed start.
type lineSink struct {
	write func(string)
	log   *slog.Logger

	mu   sync.Mutex
	last []string
}

const keepLines = 40

func newLineSink(w func(string), log *slog.Logger) *lineSink { return &lineSink{write: w, log: log} }

func (l *lineSink) consume(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		l.mu.Lock()
		l.last = append(l.last, line)
		if len(l.last) > keepLines {
			l.last = l.last[len(l.last)-keepLines:]
		}
		l.mu.Unlock()
		if l.write != nil {
			l.write(line)
		} else {
			l.log.Debug(line, "source", "postgres")
		}
	}
	_, _ = io.Copy(io.Discard, r) // a line over 1 MiB: keep draining so postgres never blocks on the pipe
}

func (l *lineSink) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.last, "\n")
}
