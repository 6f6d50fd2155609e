package cli

import (
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// testTimeoutError is a test stopped at its tests[].timeout.
type testTimeoutError struct{ after time.Duration }

func (e testTimeoutError) Error() string {
	return fmt.Sprintf("timed out after %s (tests[].timeout)", e.after)
}

// testExitStatus is the status devstack test exits with: that of the first test that failed, as a
// shell reports it (its exit code; 128+N when killed by signal N; 124 when it timed out, as timeout(1)
// does; 127 when it could not be started), or 0 when none failed.
func testExitStatus(results []testResult) int {
	for _, r := range results {
		if r.err != nil {
			return exitStatusOf(r.err)
		}
	}
	return 0
}

func exitStatusOf(err error) int {
	var ee *exec.ExitError
	var te testTimeoutError
	switch {
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		if c := ee.ExitCode(); c > 0 {
			return c
		}
	case errors.As(err, &te):
		return 124
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, syscall.ENOENT):
		return 127
	}
	return 1
}
