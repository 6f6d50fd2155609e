package stack

import (
	"os"
	"testing"

	"github.com/devstack-dev/devstack/internal/supervisor"
)

// TestMain lets the test binary serve as the supervisor's per-instance shim, as the devstack binary does.
func TestMain(m *testing.M) {
	supervisor.MaybeRunShim()
	os.Exit(m.Run())
}
