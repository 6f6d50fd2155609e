package supervisor

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// The three ways a service can leave orphans behind.
func TestNoOrphans(t *testing.T) {
	tests := []struct {
		name    string
		command string
		grace   time.Duration
		how     string // "cancel" (devstack stops), "stop" (Stop API), "kill9" (devstack SIGKILLed)
	}{
		{"forking child, devstack stops", `sh -c 'sleep 1000 & wait'`, 5 * time.Second, "cancel"},
		{"forking child, Stop", `sh -c 'sleep 1000 & wait'`, 5 * time.Second, "stop"},
		{"child ignoring SIGTERM", `trap '' TERM; sleep 1000 & sh -c 'trap "" TERM; sleep 1000' & wait`, 300 * time.Millisecond, "cancel"},
		{"escaped to its own session", `setsid sleep 1000 & sleep 1000 & wait`, 5 * time.Second, "cancel"},
		{"devstack killed with -9", `sh -c 'sleep 1000 & wait'`, 5 * time.Second, "kill9"},
		{"devstack killed with -9, child ignores SIGTERM and escaped", `trap '' TERM; setsid sleep 1000 & sleep 1000 & wait`, 5 * time.Second, "kill9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(tc.command, "setsid") {
				if _, err := exec.LookPath("setsid"); err != nil {
					if os.Getenv("DEVSTACK_REQUIRE_ALL") == "1" {
						t.Fatal("setsid (util-linux) is required")
					}
					t.Skip("setsid (util-linux) not installed")
				}
			}
			mark := newMark(t)
			spec := Spec{Name: "svc", Dir: t.TempDir(), Replicas: 1, Command: tc.command, Env: append(os.Environ(), mark),
				StopGrace: tc.grace, Restart: "no"}
			waitProcs := func() {
				t.Helper()
				deadline := time.Now().Add(10 * time.Second)
				for len(markedProcs(mark)) < 3 { // shim, sh, sleep at least
					if time.Now().After(deadline) {
						t.Fatalf("processes did not start: %v", markedProcs(mark))
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			if tc.how == "kill9" {
				runKilledDevstack(t, spec, waitProcs)
				waitNoMarked(t, mark, 15*time.Second)
				return
			}
			h := newHarness(t, []Spec{spec})
			h.start()
			if err := h.waitReady(20 * time.Second); err != nil {
				t.Fatal(err)
			}
			waitProcs()
			pgid := h.service("svc").Instances[0].PID
			switch tc.how {
			case "cancel":
				h.stop()
			case "stop":
				if err := h.sup.Stop(context.Background(), "svc"); err != nil {
					t.Fatal(err)
				}
				if st := h.service("svc").Status; st != event.StatusStopped {
					t.Errorf("status after Stop = %s, want stopped", st)
				}
			}
			waitNoMarked(t, mark, 15*time.Second)
			if err := syscall.Kill(-pgid, 0); err != syscall.ESRCH {
				// only zombies may remain (pid 1 of a container may not reap them)
				for _, p := range listProcs() {
					if p.pgid == pgid && p.state != 'Z' {
						t.Errorf("process %d of group %d survived", p.pid, pgid)
					}
				}
			}
		})
	}
}

// runKilledDevstack runs the test binary as a "devstack" supervising spec, waits until it is ready,
// and SIGKILLs it.
func runKilledDevstack(t *testing.T, spec Spec, started func()) {
	t.Helper()
	b, _ := json.Marshal([]Spec{spec})
	cmd := exec.Command(selfExe(t))
	cmd.Env = append(os.Environ(), "DEVSTACK_TEST_HELPER=devstack", "DEVSTACK_TEST_SPECS="+string(b),
		"DEVSTACK_TEST_STATE="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case l, ok := <-lines:
		if !ok || !strings.Contains(l, `"services"`) {
			t.Fatalf("helper devstack did not become ready: %q", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("helper devstack did not become ready")
	}
	started()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// When a stop is asked for, the rest of the group may finish its graceful shutdown after the leader
// exited, within StopGrace.
func TestGracefulGroupShutdown(t *testing.T) {
	mark := newMark(t)
	h := newHarness(t, []Spec{{Name: "svc", Dir: t.TempDir(), Restart: "on-failure", Replicas: 1, StopGrace: 10 * time.Second, Env: append(os.Environ(), mark),
		Probe:   Probe{Log: "^trap-set$", Interval: 20 * time.Millisecond, Timeout: 30 * time.Second}, // ready once the trap is in place
		Command: `(trap 'echo child-got-term; sleep 0.5; echo child-graceful-exit; exit 0' TERM; echo trap-set; while :; do sleep 0.05; done) & wait`}})
	h.start()
	if err := h.waitReady(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := h.sup.Stop(context.Background(), "svc"); err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, l := range h.logs.Tail(0, event.SourceFilter("svc")) {
		texts = append(texts, l.Text)
	}
	if !strings.Contains(strings.Join(texts, "\n"), "child-graceful-exit") {
		t.Errorf("the group's child was not allowed to finish; output: %q", texts)
	}
	waitNoMarked(t, mark, 15*time.Second)
}
