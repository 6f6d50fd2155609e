package procinfo

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// macOS only (make cross compiles it; it runs on a Mac): the process table, environments and working
// directories of real processes.
func TestDarwinProcessTable(t *testing.T) {
	self, ok := Lookup(os.Getpid())
	if !ok || self.PPID != os.Getppid() || self.State == 'Z' || self.Start == 0 {
		t.Fatalf("Lookup(self) = %+v %v", self, ok)
	}
	dir := t.TempDir()
	cmd := exec.Command("sleep", "30")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DEVSTACK_PROCINFO_TEST=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	all := List()
	i := slices.IndexFunc(all, func(p Proc) bool { return p.PID == pid })
	if i < 0 {
		t.Fatalf("List() lacks the child %d", pid)
	}
	if p := all[i]; p.PPID != os.Getpid() || p.Comm != "sleep" {
		t.Errorf("child in List() = %+v", p)
	}
	if env := Environ(pid); !slices.Contains(env, "DEVSTACK_PROCINFO_TEST=1") {
		t.Errorf("Environ(child) lacks the test mark: %q", env)
	}
	want, _ := filepath.EvalSymlinks(dir)
	if got, _ := filepath.EvalSymlinks(Cwd(pid)); got != want {
		t.Errorf("Cwd(child) = %q, want %q", got, want)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if _, ok := Lookup(pid); ok {
		t.Errorf("Lookup finds the reaped child %d", pid)
	}
}
