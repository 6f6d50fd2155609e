package cli_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/testkit"
)

// runFor runs devstack with a deadline: a hostile file must be refused promptly, not read until
// the machine runs out of memory or blocked on forever.
func runFor(t *testing.T, dir string, limit time.Duration, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BIG="+strings.Repeat("x", 100_000))
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("devstack %v did not finish within %s: %s", args, limit, out)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("devstack %v: %v", args, err)
	}
	return string(out), code
}

func TestValidateRefusesHostileFiles(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe.env"), 0o600); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"deep.yaml":     strings.Repeat("[", 20000),
		"fifo-env.yaml": "env_file: pipe.env\n",
		"zero-env.yaml": "env_file: /dev/zero\n",
		"expand.yaml":   "env:\n  A: " + strings.Repeat("${BIG}", 20000) + "\n",
	}
	for name, src := range files {
		os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644)
	}
	for _, tt := range []struct {
		file, want string
	}{
		{"/dev/zero", "/dev/zero: not a regular file (a device)"},
		{"deep.yaml", "deep.yaml:1:65: file: lists and mappings nested more than 64 levels deep"},
		{"fifo-env.yaml", "fifo-env.yaml:1:11: env_file: cannot read pipe.env: not a regular file (a named pipe)"},
		{"zero-env.yaml", "zero-env.yaml:1:11: env_file: cannot read /dev/zero: not a regular file (a device)"},
		{"expand.yaml", "expand.yaml:2:6: env.A: variables expand to more than 4194304 bytes in total"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			cmd := []string{"validate", "-c", tt.file}
			out, code := runFor(t, dir, 20*time.Second, cmd...)
			if code != 1 || !strings.Contains(out, tt.want) {
				t.Fatalf("devstack validate -c %s: exit %d, want 1 and %q:\n%.2000s", tt.file, code, tt.want, out)
			}
		})
	}
}

// Saving a hostile file while devstack up runs is reported, named by the file's real name, and the
// running stack keeps its config (the reload parsed the file and took the whole stack down).
func TestReloadSurvivesHostileFile(t *testing.T) {
	dir := t.TempDir()
	ctl, gw := testkit.FreePort(t), testkit.FreePort(t)
	good := fmt.Sprintf("name: hostile\ncontrol: {port: %d}\nbroker: {enabled: false}\npostgres: {enabled: false}\n"+
		"gateway: {enabled: true, http_port: %d, https_port: -1}\n", ctl, gw)
	file := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(file, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	u := startUp(t, dir, "-c", "stack.yaml")
	u.waitFor(t, "all ready", 60*time.Second)
	for i, bad := range []string{strings.Repeat("[", 100_000), "x: " + strings.Repeat("{a: ", 20_000)} {
		if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		want := "devstack | stack.yaml changed but is invalid; keeping the running config"
		deadline := time.Now().Add(20 * time.Second)
		for strings.Count(u.output(), want) < i+1 {
			if time.Now().After(deadline) {
				t.Fatalf("no %q after saving a deep file", want)
			}
			select {
			case err := <-u.done:
				u.done <- err
				t.Fatalf("devstack up exited (%v) after a deep file was saved", err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	if !strings.Contains(u.output(), "nested more than 64 levels deep") {
		t.Errorf("the reload error does not say what is wrong")
	}
	if strings.Contains(u.output(), "devstack.yaml changed") {
		t.Errorf("the reload message names devstack.yaml, not stack.yaml")
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", gw))
	if err != nil {
		t.Fatalf("the gateway stopped answering: %v", err)
	}
	resp.Body.Close()
	out, code := run(t, dir, "status", "-c", "stack.yaml")
	if code != 0 {
		t.Errorf("devstack status after the bad save: exit %d: %s", code, out)
	}
}
