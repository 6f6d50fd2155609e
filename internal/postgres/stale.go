package postgres

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// metadata is <DataDir>/devstack.json.
type metadata struct {
	Superuser string `json:"superuser"`           // the role initdb created (connect with it over the socket)
	OwnerPID  int    `json:"owner_pid,omitempty"` // the devstack whose child the server is; 0 when stopped
	BinDir    string `json:"bin_dir,omitempty"`
}

func readMeta(dataDir string) (metadata, error) {
	var m metadata
	b, err := os.ReadFile(filepath.Join(dataDir, "devstack.json"))
	if err != nil {
		return m, err
	}
	err = json.Unmarshal(b, &m)
	return m, err
}

func writeMeta(dataDir string, m metadata) error {
	b, _ := json.MarshalIndent(m, "", "  ")
	tmp := filepath.Join(dataDir, ".devstack.json.tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	return os.Rename(tmp, filepath.Join(dataDir, "devstack.json"))
}

// readPGVersion is the major version in PGDATA/PG_VERSION ("" when there is no cluster).
func readPGVersion(pgdata string) string {
	b, err := os.ReadFile(filepath.Join(pgdata, "PG_VERSION"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// readPIDFile reads the pid on the first line of postmaster.pid or a socket lock file (0 if none).
func readPIDFile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(first))
	return pid
}

// recoverStale deals with a postmaster.pid left in PGDATA:
//   - its pid is not a live postgres (devstack and the server were killed; the pid may even have been
//     reused by another program, which would make postgres refuse to start): remove it;
//   - it is a live postgres on this data directory whose devstack is gone (devstack was SIGKILLed and the
//     server outlived it, e.g. during a shutdown, or where there is no parent-death signal): stop it — fast
//     shutdown, then immediate, then SIGKILL — and start our own, so the server is again our child with
//     its logs in devstack;
//   - it is the child of another devstack that is still running: refuse with a message that says so.
func (s *Server) recoverStale(meta metadata) error {
	pidFile := filepath.Join(s.pgdata, "postmaster.pid")
	pid := readPIDFile(pidFile)
	if pid <= 0 {
		return nil
	}
	if !isLivePostgres(pid) {
		s.log.Info("removing stale postmaster.pid (its server is gone)", "pid", pid)
		if err := os.Remove(pidFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale %s: %w", pidFile, err)
		}
		return nil
	}
	if cwd := procCwd(pid); cwd != "" && !sameDir(cwd, s.pgdata) {
		s.log.Info("removing stale postmaster.pid (its pid now belongs to another server)", "pid", pid, "its_data", cwd)
		_ = os.Remove(pidFile)
		return nil
	}
	_, ppid, _, _ := procStat(pid)
	if ppid == os.Getpid() {
		return fmt.Errorf("a server started by this devstack is already running on %s (pid %d); stop it first", s.pgdata, pid)
	}
	if meta.OwnerPID > 0 && meta.OwnerPID == ppid && procAlive(ppid) {
		return fmt.Errorf("the data directory %s is in use by PostgreSQL (pid %d) of another running devstack (pid %d); stop that stack first (devstack down, or Ctrl-C in its terminal)", s.pgdata, pid, ppid)
	}
	s.log.Warn("stopping a PostgreSQL left running by an earlier devstack on this data directory", "pid", pid)
	if err := stopForeign(pid); err != nil {
		return fmt.Errorf("a PostgreSQL left over from an earlier devstack (pid %d) runs on %s and could not be stopped: %w; stop it yourself (kill %d) and retry", pid, s.pgdata, err, pid)
	}
	_ = os.Remove(pidFile)
	return nil
}

// stopForeign stops a postmaster that is not our child: SIGINT, then SIGQUIT, then SIGKILL.
func stopForeign(pid int) error {
	steps := []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGINT, 15 * time.Second}, {syscall.SIGQUIT, 5 * time.Second}, {syscall.SIGKILL, 5 * time.Second}}
	for _, st := range steps {
		if err := syscall.Kill(pid, st.sig); err != nil {
			if errors.Is(err, syscall.ESRCH) {
				return nil
			}
			return err
		}
		deadline := time.Now().Add(st.wait)
		for time.Now().Before(deadline) {
			if !isLivePostgres(pid) {
				return nil
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return errors.New("still running after SIGKILL")
}

func sameDir(a, b string) bool {
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	if err1 != nil || err2 != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return ra == rb
}

// checkPort fails with a clear message when port is taken on 127.0.0.1.
func checkPort(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return portInUseError(port)
	}
	return l.Close()
}

func portInUseError(port int) error {
	who := ""
	if h := portHolder(port); h != "" {
		who = " by " + h
	}
	return fmt.Errorf("port %d is in use%s; change postgres.port in devstack.yaml or stop that process", port, who)
}
