package stack

import (
	"os"
	"testing"

	"github.com/devstack-dev/devstack/internal/supervisor"
)

// TestMain lets the test binary serve as the supervisor's per-instance shim, as the devstack binary does,
// and as a service that sends a span with the stock OpenTelemetry SDK (otelChild).
func TestMain(m *testing.M) {
	supervisor.MaybeRunShim()
	if name := os.Getenv(otelChildEnv); name != "" {
		os.Exit(otelChild(name))
	}
	os.Exit(m.Run())
}
