package cli_test

import (
	"strings"
	"testing"
)

// bareStack runs nothing but the control API: enough for `devstack test -- cmd`.
const bareStack = `
name: bare
control: {port: ${CONTROL_PORT}}
broker: {enabled: false}
postgres: {enabled: false}
`

// `devstack test -- cmd` exits with the command's own status, as `sh -c cmd` would.
func TestDevstackTestExitsWithCommandStatus(t *testing.T) {
	dir, _ := stackDir(t, bareStack)
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"passes", []string{"true"}, 0},
		{"exit 7", []string{"sh", "-c", "exit 7"}, 7},
		{"exit 1", []string{"false"}, 1},
		{"not found", []string{"no-such-command-devstack-test"}, 127},
		{"killed by SIGKILL", []string{"sh", "-c", "kill -9 $$"}, 137},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := run(t, dir, append([]string{"test", "--"}, tc.args...)...)
			if code != tc.want {
				t.Errorf("devstack test -- %s: exit %d, want %d:\n%s", strings.Join(tc.args, " "), code, tc.want, out)
			}
		})
	}
}

// With several tests: entries the status is the first failing test's own.
func TestDevstackTestExitsWithFirstFailingStatus(t *testing.T) {
	dir, _ := stackDir(t, bareStack+`
tests:
  - {name: ok, command: "true"}
  - {name: five, command: "exit 5"}
  - {name: nine, command: "exit 9"}
  - {name: slow, command: "sleep 30", timeout: 1s}
`)
	out, code := run(t, dir, "test")
	if code != 5 {
		t.Errorf("exit %d, want 5 (the first failing test's):\n%s", code, out)
	}
	if !strings.Contains(out, "devstack: 1 passed, 3 failed") {
		t.Errorf("output lacks the summary:\n%s", out)
	}
	out, code = run(t, dir, "test", "--run", "slow")
	if code != 124 {
		t.Errorf("a test that timed out: exit %d, want 124 (as timeout(1)):\n%s", code, out)
	}
}
