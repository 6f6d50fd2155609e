package cli_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/testkit"
)

// TestContainersWithoutDocker: `--containers` with no Docker engine to answer fails at once, in one line
// that says where devstack looked and what to do (not "rootless Docker not found", not three times).
func TestContainersWithoutDocker(t *testing.T) {
	yaml := `
control: {port: ${CONTROL_PORT}}
broker: {port: ${BROKER_PORT}}
postgres: {port: ${PG_PORT}}
gateway: {http_port: ${GATEWAY_PORT}, https_port: 0}
`
	deadSocket := filepath.Join(t.TempDir(), "docker.sock")
	tests := []struct {
		name       string
		args       []string
		dockerHost string // "" leaves DOCKER_HOST unset
		where      string // what the message must name
	}{
		{"up, DOCKER_HOST at a missing socket", []string{"up", "--no-tui", "--containers"}, "unix://" + deadSocket, "DOCKER_HOST=unix://" + deadSocket},
		{"up, DOCKER_HOST at a closed port", []string{"up", "--no-tui", "--containers"}, fmt.Sprintf("tcp://127.0.0.1:%d", testkit.FreePort(t)), "DOCKER_HOST=tcp://127.0.0.1:"},
		{"test, DOCKER_HOST at a missing socket", []string{"test", "--containers", "--", "true"}, "unix://" + deadSocket, "DOCKER_HOST=unix://" + deadSocket},
		{"up, DOCKER_HOST unset", []string{"up", "--no-tui", "--containers"}, "", "/var/run/docker.sock (DOCKER_HOST is not set)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.dockerHost == "" {
				if _, err := os.Stat("/var/run/docker.sock"); err == nil {
					t.Skip("/var/run/docker.sock exists here: an engine may answer")
				}
			}
			dir, _ := stackDir(t, yaml)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, tt.args...)
			cmd.Dir = dir
			// a home and runtime dir of its own: no ~/.testcontainers.properties, no rootless sockets
			home := t.TempDir()
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
			if tt.dockerHost != "" {
				cmd.Env = append(cmd.Env, "DOCKER_HOST="+tt.dockerHost)
			}
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("devstack %v without a Docker engine exited 0:\n%s", tt.args, out)
			}
			if ctx.Err() != nil {
				t.Fatalf("devstack %v did not give up within a minute:\n%s", tt.args, out)
			}
			text := string(out)
			if n := strings.Count(text, "no Docker engine"); n != 1 {
				t.Errorf("the message appears %d times, want once:\n%s", n, text)
			}
			for _, want := range []string{"no Docker engine answers", tt.where, "run without --containers"} {
				if !strings.Contains(text, want) {
					t.Errorf("output lacks %q:\n%s", want, text)
				}
			}
			if strings.Contains(strings.ToLower(text), "rootless") {
				t.Errorf("output blames rootless Docker:\n%s", text)
			}
		})
	}
}
