package cli

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/stack"
	"github.com/devstack-dev/devstack/internal/supervisor"
	"github.com/devstack-dev/devstack/internal/testkit"
)

// stackDB reaches the databases of a test stack as the superuser.
type stackDB struct{ st *stack.Stack }

func (d stackDB) URL(db string) string { return d.st.DatabaseURL(db) }

// Port is where the stack's PostgreSQL listens.
func (d stackDB) Port() int {
	_, p, _ := net.SplitHostPort(d.st.Addrs()["postgres"])
	n, _ := strconv.Atoi(p)
	return n
}

// runTestStack writes yaml into dir and runs its stack until the test ends. A yaml without a registry: or
// telemetry: key gets them on free ports (the schema registry runs wherever the broker does, the OTLP
// receiver by default; 8081 and 4318 are no test's to take).
func runTestStack(t *testing.T, dir, yaml string) (cfgPath string, s stackDB) {
	t.Helper()
	if !regexp.MustCompile(`(?m)^registry:`).MatchString(yaml) {
		yaml = strings.TrimRight(yaml, "\n") + fmt.Sprintf("\nregistry: {port: %d}\n", testkit.FreePort(t))
	}
	// the OTLP receiver runs by default: a yaml without telemetry: gets it on a free port and no gRPC
	// (4318 and 4317 are no test's to take)
	if !regexp.MustCompile(`(?m)^telemetry:`).MatchString(yaml) {
		yaml = strings.TrimRight(yaml, "\n") + fmt.Sprintf("\ntelemetry: {http_port: %d, grpc_port: -1}\n", testkit.FreePort(t))
	}
	cfgPath = filepath.Join(dir, "devstack.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := stack.New(stack.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	testkit.RunUntilCleanup(t, st, 2*time.Minute)
	return cfgPath, stackDB{st}
}

// TestMain lets the test binary be the supervisor's shim when the in-process test stacks start services.
func TestMain(m *testing.M) {
	supervisor.MaybeRunShim()
	os.Exit(m.Run())
}
