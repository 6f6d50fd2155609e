package stack

import (
	"os"
	"testing"

	"github.com/devstack-dev/devstack/internal/supervisor"
)

// TestMain lets the test binary act as the supervisor's shim, which runs every service process.
func TestMain(m *testing.M) {
	supervisor.MaybeRunShim()
	os.Exit(m.Run())
}
