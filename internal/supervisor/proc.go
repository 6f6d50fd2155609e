package supervisor

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// procSpec describes one process to run under the shim.
type procSpec struct {
	Dir     string
	Command string // run with sh -c
	Env     []string
	// Stdout and Stderr name the log streams of the two outputs ("stdout"/"stderr", or "build" twice).
	Stdout, Stderr string
	// OnLine receives every output line (from two goroutines at once).
	OnLine  func(stream, text string)
	PidsDir string        // where the live process is recorded ("" for none)
	Grace   time.Duration // how long a stopping group may outlive its leader
}

// proc is one process started through the shim.
type proc struct {
	cmd     *exec.Cmd
	ShimPID int
	PID     int // the command's pid, which is also its process group id
	token   string
	lifeW   *os.File
	regPath string

	done     chan struct{} // closed once the process exited and its output was drained
	exitCode int           // valid after done: exit status, 128+signal when killed
	startErr string        // the shim could not start the command

	stopOnce sync.Once
}

// forkThread runs every fork on one OS thread that never exits: the parent-death signal of a child is
// tied to the thread that forked it (golang/go#27505), so forking from a thread that may go away would
// kill children spuriously.
var (
	forkOnce sync.Once
	forkReqs chan forkReq
)

type forkReq struct {
	cmd  *exec.Cmd
	done chan error
}

func forkStart(cmd *exec.Cmd) error {
	forkOnce.Do(func() {
		forkReqs = make(chan forkReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as devstack
			for r := range forkReqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	forkReqs <- forkReq{cmd: cmd, done: done}
	return <-done
}

func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// pidRecord is what StateDir/pids/<token> holds about a live process.
type pidRecord struct {
	Devstack      int    `json:"devstack_pid"`
	DevstackStart uint64 `json:"devstack_start"`
	Shim          int    `json:"shim_pid"`
	PGID          int    `json:"pgid"`
	Token         string `json:"token"`
	Command       string `json:"command"`
}

// startProc starts spec.Command with sh -c under the shim.
func startProc(spec procSpec) (*proc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find devstack's own executable: %w", err)
	}
	if st, err := os.Stat(spec.Dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("directory %s does not exist", spec.Dir)
	}
	p := &proc{token: newToken(), done: make(chan struct{})}

	lifeR, lifeW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		lifeR.Close()
		lifeW.Close()
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		closeAll(lifeR, lifeW, repR, repW)
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(lifeR, lifeW, repR, repW, outR, outW)
		return nil, err
	}

	env := make([]string, 0, len(spec.Env)+3)
	env = append(env, spec.Env...)
	env = append(env, envShim+"=1", envShimPPID+"="+strconv.Itoa(os.Getpid()), envInstanceID+"="+p.token,
		envShimGrace+"="+spec.Grace.String())
	cmd := &exec.Cmd{
		Path:        exe,
		Args:        []string{"devstack-shim", "sh", "-c", spec.Command},
		Dir:         spec.Dir,
		Env:         env,
		Stdin:       nil,
		Stdout:      outW,
		Stderr:      errW,
		ExtraFiles:  []*os.File{lifeR, repW}, // fds 3 and 4
		SysProcAttr: shimSysProcAttr(),
	}
	if err := forkStart(cmd); err != nil {
		closeAll(lifeR, lifeW, repR, repW, outR, outW, errR, errW)
		return nil, fmt.Errorf("start: %w", err)
	}
	closeAll(lifeR, repW, outW, errW)
	p.cmd = cmd
	p.ShimPID = cmd.Process.Pid
	p.lifeW = lifeW

	var out sync.WaitGroup
	out.Add(2)
	go func() { defer out.Done(); readLines(outR, func(s string) { spec.OnLine(spec.Stdout, s) }) }()
	go func() { defer out.Done(); readLines(errR, func(s string) { spec.OnLine(spec.Stderr, s) }) }()

	pidCh := make(chan int, 1)
	status := -1
	repDone := make(chan struct{})
	go func() {
		defer close(repDone)
		readReport(repR, pidCh, &p.startErr, &status)
		repR.Close()
	}()
	p.PID = <-pidCh // the shim reports the pid, or closes the pipe when it fails
	if p.PID != 0 && spec.PidsDir != "" {
		p.regPath = filepath.Join(spec.PidsDir, p.token)
		rec := pidRecord{Devstack: os.Getpid(), DevstackStart: startTime(os.Getpid()), Shim: p.ShimPID,
			PGID: p.PID, Token: p.token, Command: spec.Command}
		if b, err := json.Marshal(rec); err == nil {
			_ = os.MkdirAll(spec.PidsDir, 0o700)
			_ = os.WriteFile(p.regPath, b, 0o600)
		}
	}

	go func() {
		werr := cmd.Wait()
		<-repDone
		// Output normally ends when the shim has killed everything; a process that escaped it must not
		// keep us waiting forever.
		drained := make(chan struct{})
		go func() { out.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-time.After(2 * time.Second):
			outR.Close()
			errR.Close()
			<-drained
		}
		outR.Close()
		errR.Close()
		lifeW.Close()
		switch {
		case status >= 0:
			p.exitCode = status
		default:
			p.exitCode = exitStatus(werr)
		}
		if p.regPath != "" {
			_ = os.Remove(p.regPath)
		}
		close(p.done)
	}()
	if p.PID == 0 { // the shim could not start the command
		<-p.done
		if p.startErr != "" {
			return nil, errors.New(p.startErr)
		}
		return nil, fmt.Errorf("the process exited at once (code %d)", p.exitCode)
	}
	return p, nil
}

func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 1
}

func closeAll(fs ...io.Closer) {
	for _, f := range fs {
		f.Close()
	}
}

// Done is closed when the process has exited and its output is drained.
func (p *proc) Done() <-chan struct{} { return p.done }

// ExitCode is valid after Done.
func (p *proc) ExitCode() int { return p.exitCode }

// Stop asks the process group to terminate (SIGTERM via the shim) and SIGKILLs the group after grace.
// It returns once the process has exited. Safe to call more than once and concurrently.
func (p *proc) Stop(grace time.Duration) {
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		_ = syscall.Kill(p.ShimPID, syscall.SIGTERM)
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-p.done:
			return
		case <-t.C:
		}
		if p.PID > 0 {
			_ = syscall.Kill(-p.PID, syscall.SIGKILL)
		}
		t2 := time.NewTimer(2 * time.Second)
		defer t2.Stop()
		select {
		case <-p.done:
			return
		case <-t2.C:
		}
		// The shim itself is stuck: closing the liveness pipe makes it kill everything; SIGKILL is last.
		p.lifeW.Close()
		_ = syscall.Kill(-p.ShimPID, syscall.SIGKILL)
	})
	<-p.done
}

// Kill SIGKILLs the whole group at once and waits for the exit.
func (p *proc) Kill() {
	if p.PID > 0 {
		_ = syscall.Kill(-p.PID, syscall.SIGKILL)
	}
	p.Stop(0)
}

// killLeftovers kills processes recorded in pidsDir by a devstack that is no longer running (it was
// SIGKILLed or crashed and its shims somehow survived). A process is only killed when its environment
// carries the recorded instance token, so a recycled pid or process group is never touched.
func killLeftovers(pidsDir string) (killed int) {
	entries, err := os.ReadDir(pidsDir)
	if err != nil {
		return 0
	}
	var all []procInfo
	for _, e := range entries {
		path := filepath.Join(pidsDir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var rec pidRecord
		if json.Unmarshal(b, &rec) != nil || rec.Token == "" {
			_ = os.Remove(path)
			continue
		}
		if rec.Devstack > 0 && alive(rec.Devstack) && startTime(rec.Devstack) == rec.DevstackStart {
			continue // its devstack still runs
		}
		if all == nil {
			all = listProcs()
		}
		mark := envInstanceID + "=" + rec.Token
		for _, p := range all {
			if p.state != 'Z' && hasEnv(p.pid, mark) {
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
				killed++
			}
		}
		_ = os.Remove(path)
	}
	return killed
}
