package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/testreport"
)

// testCapture is where one test's output and reports go: the output is shown (go test -json events as
// their text), kept whole in a file for the JUnit report, and the runner may write report files into
// reportDir (DEVSTACK_REPORT_DIR).
type testCapture struct {
	root      string
	reportDir string
	logPath   string
	log       *os.File
	w         *testreport.GoJSONText
}

func newTestCapture(shown ...io.Writer) (*testCapture, error) {
	root, err := os.MkdirTemp("", "devstack-test-")
	if err != nil {
		return nil, fmt.Errorf("test output directory: %w", err)
	}
	c := &testCapture{root: root, reportDir: filepath.Join(root, "reports"), logPath: filepath.Join(root, "output.log")}
	if err := os.Mkdir(c.reportDir, 0o755); err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("test report directory: %w", err)
	}
	if c.log, err = os.Create(c.logPath); err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("test output file: %w", err)
	}
	c.w = testreport.NewGoJSONText(io.MultiWriter(append(shown, c.log)...))
	return c, nil
}

func (c *testCapture) Write(p []byte) (int, error) { return c.w.Write(p) }

// done ends the output (after the command exited).
func (c *testCapture) done() {
	_ = c.w.Close()
	_ = c.log.Close()
}

func (c *testCapture) remove() { _ = os.RemoveAll(c.root) }

func removeCaptures(results []testResult) {
	for _, r := range results {
		if r.capture != nil {
			r.capture.remove()
		}
	}
}

// writeJUnit writes the JUnit report of the run (nothing when path is ""): one case per test of the
// runners that report them, else per tests: entry (see internal/testreport).
func writeJUnit(path string, cfg *config.Config, results []testResult, total time.Duration, warn io.Writer) error {
	if path == "" {
		return nil
	}
	entries := make([]testreport.Entry, 0, len(results))
	for _, r := range results {
		e := testreport.Entry{Name: r.test.Name, Dir: r.dir, Duration: r.duration}
		if r.output != nil {
			e.Output = r.output.String()
		}
		if r.err != nil {
			e.Failure = r.err.Error()
		}
		if r.capture != nil {
			e.OutputLog, e.ReportDir = r.capture.logPath, r.capture.reportDir
		}
		entries = append(entries, e)
	}
	rep := testreport.Build(cfg.Name, entries, total)
	for _, w := range rep.Warnings {
		fmt.Fprintln(warn, "devstack test: warning:", w)
	}
	return rep.WriteFile(path)
}
