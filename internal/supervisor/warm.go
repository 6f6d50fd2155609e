package supervisor

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A warm standby is one process per service (Spec.Watch.Warm) started ahead of the next reload with
// the service's command, which has already loaded what a reload cannot change — the runtime and the
// dependencies — and blocks until told to go: Node through a --require preload (NODE_OPTIONS), Python
// through a sitecustomize on PYTHONPATH (warm/). It blocks reading a FIFO; a reload, once built, writes
// the go message to it and the process goes on to load the app's own, new code. A standby whose
// dependency inputs changed (the setup inputs, package.json, requirements.txt…), that died, or that
// never said hello is not used: the reload starts cold and says why.

//go:embed warm/preload.js
var warmPreloadJS []byte

//go:embed warm/sitecustomize.py
var warmSitecustomize []byte

const (
	envWarmFIFO   = "DEVSTACK_WARM_FIFO"
	envWarmRecord = "DEVSTACK_WARM_RECORD"
	// warmGoWait bounds how long a reload waits for a standby still loading its dependencies.
	warmGoWait = 30 * time.Second
	// warmRecordWait: the first standby waits this long for Python's record of the imports.
	warmRecordWait = 12 * time.Second
)

// warmHelloWait: a standby that has not loaded the preload by then (Node and Python do within a fraction
// of a second) is not a Node or Python process that can wait, or its runtime ignores the preload: it is
// stopped and warm is off for the service. A var for tests.
var warmHelloWait = 5 * time.Second

// warmManifests are the dependency manifests whose change discards a standby, besides the setup inputs.
var warmManifests = []string{"package.json", "package-lock.json", "requirements.txt", "pyproject.toml", "poetry.lock", "uv.lock"}

type standby struct {
	proc     *proc
	port     int
	autoPort bool
	inputs   string // warmInputs when it was started
	fifo     string
	restore  map[string]any // env values the go message puts back (nil deletes)
	began    time.Time

	mu   sync.Mutex
	sink func(stream, text string) // the keeper's, once it adopted the standby; before, the service's log
	sv   *service
}

func (sb *standby) line(stream, text string) {
	sb.mu.Lock()
	f := sb.sink
	sb.mu.Unlock()
	if f != nil {
		f(stream, text)
		return
	}
	sb.sv.emit(0, stream, text) // what loading the dependencies prints, as a cold start would show it
}

// warmInputs hashes what a standby has loaded ahead: the setup command and inputs and the manifests.
func (sv *service) warmInputs() string {
	return setupHash(sv.spec.Dir, sv.spec.Setup, append(slicesClone(sv.spec.SetupInputs), warmManifests...))
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

func (sv *service) warmOn() bool {
	return sv.spec.Watch != nil && sv.spec.Watch.Warm && sv.spec.Replicas == 1
}

// warmFiles writes the preloads under StateDir/warm once.
func (s *Supervisor) warmFiles() (dir string, err error) {
	dir = filepath.Join(s.opts.StateDir, "warm")
	s.warmOnce.Do(func() {
		if err = os.MkdirAll(filepath.Join(dir, "py"), 0o700); err != nil {
			return
		}
		if err = os.WriteFile(filepath.Join(dir, "preload.js"), warmPreloadJS, 0o600); err != nil {
			return
		}
		err = os.WriteFile(filepath.Join(dir, "py", "sitecustomize.py"), warmSitecustomize, 0o600)
	})
	if err == nil {
		if _, serr := os.Stat(filepath.Join(dir, "preload.js")); serr != nil {
			err = serr
		}
	}
	return dir, err
}

// warmEnv adds the preloads to env (replacing NODE_OPTIONS and PYTHONPATH) and returns what the go
// message restores.
func warmEnv(env []string, dir string) ([]string, map[string]any) {
	restore := map[string]any{"NODE_OPTIONS": nil, "PYTHONPATH": nil}
	node := "--require " + filepath.Join(dir, "preload.js")
	py := filepath.Join(dir, "py")
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "NODE_OPTIONS":
			restore[k] = v
			node += " " + v
			continue
		case "PYTHONPATH":
			restore[k] = v
			py += string(os.PathListSeparator) + v
			continue
		}
		out = append(out, kv)
	}
	return append(out, "NODE_OPTIONS="+node, "PYTHONPATH="+py), restore
}

// recordEnv is what a cold instance of a warm service gets so that Python records its imports.
func (sv *service) recordEnv(env []string) []string {
	if !sv.warmOn() {
		return env
	}
	dir, err := sv.sup.warmFiles()
	if err != nil {
		return env
	}
	py := filepath.Join(dir, "py")
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == "PYTHONPATH" {
			py += string(os.PathListSeparator) + v
			continue
		}
		out = append(out, kv)
	}
	return append(out, "PYTHONPATH="+py, envWarmRecord+"="+sv.recordPath())
}

func (sv *service) recordPath() string {
	return filepath.Join(sv.sup.opts.StateDir, "warm", sv.spec.Name+".imports")
}

// prepareStandby starts a new standby unless one is waiting (and still fits). Called by the deploy
// goroutine after a deploy that left instances running.
func (sv *service) prepareStandby() {
	if !sv.warmOn() {
		return
	}
	inputs := sv.warmInputs()
	sv.mu.Lock()
	cur := sv.standby
	off := sv.warmOff
	sv.mu.Unlock()
	if off {
		return
	}
	if cur != nil {
		select {
		case <-cur.proc.Done():
		default:
			if cur.inputs == inputs {
				return
			}
		}
		sv.dropStandby("its dependency inputs changed")
	}
	dir, err := sv.sup.warmFiles()
	if err != nil {
		sv.log.Warn("warm standby: cannot write the preloads", "err", err)
		return
	}
	sv.mu.Lock()
	sv.standbyGen++
	gen := sv.standbyGen
	first := !sv.warmStarted
	sv.warmStarted = true
	sv.mu.Unlock()
	if first {
		// Python's first standby imports what the first instance recorded (10 s after its start): wait
		// for the record, in the background, unless there is one from an earlier run.
		sv.drains.Add(1) // Run waits for it
		go func() { defer sv.drains.Done(); sv.startStandby(dir, inputs, gen, true) }()
		return
	}
	sv.startStandby(dir, inputs, gen, false)
}

func (sv *service) startStandby(dir, inputs string, gen int, waitRecord bool) {
	if waitRecord {
		deadline := time.After(warmRecordWait)
		for {
			if _, err := os.Stat(sv.recordPath()); err == nil {
				break
			}
			select {
			case <-sv.quit:
				return
			case <-deadline:
			case <-time.After(50 * time.Millisecond):
				continue
			}
			break
		}
	}
	sb := &standby{inputs: inputs, began: time.Now(), sv: sv}
	if sv.spec.Port > 0 {
		sb.port = sv.spec.Port
	} else {
		p, err := sv.sup.ports.get()
		if err != nil {
			return
		}
		sb.port, sb.autoPort = p, true
	}
	sb.fifo = filepath.Join(dir, fmt.Sprintf("%s-%s.fifo", sv.spec.Name, newToken()))
	if err := syscall.Mkfifo(sb.fifo, 0o600); err != nil {
		sv.log.Warn("warm standby: mkfifo", "err", err)
		sb.release(sv)
		return
	}
	env, restore := warmEnv((&keeper{sv: sv, replica: 0, port: sb.port}).env(), dir)
	restore[envWarmFIFO] = nil
	sb.restore = restore
	env = append(env, envWarmFIFO+"="+sb.fifo, envWarmRecord+"="+sv.recordPath())
	p, err := startProc(procSpec{Dir: sv.spec.Dir, Command: sv.spec.Command, Env: env, Stdout: "stdout", Stderr: "stderr",
		PidsDir: sv.sup.pidsDir, Grace: sv.spec.StopGrace, OnLine: sb.line})
	if err != nil {
		sv.log.Warn("warm standby: cannot start", "err", err)
		sb.release(sv)
		return
	}
	sb.proc = p
	sv.mu.Lock()
	stale := sv.standbyGen != gen || sv.standby != nil
	if !stale {
		sv.standby = sb
	}
	sv.mu.Unlock()
	if stale { // the service stopped, or a newer standby came, meanwhile
		p.Kill()
		sb.release(sv)
		return
	}
	sv.log.Debug("warm standby started", "pid", p.PID, "port", sb.port)
	go sv.checkHello(sb)
}

// checkHello turns warm off for a service whose standby never loaded the preload (not Node or Python).
func (sv *service) checkHello(sb *standby) {
	t := time.NewTimer(warmHelloWait)
	defer t.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(sb.fifo + ".hello"); err == nil {
			return
		}
		select {
		case <-sb.proc.Done():
			return // dropped, or died: the next reload starts cold and says so
		case <-t.C:
			sv.mu.Lock()
			mine := sv.standby == sb
			if mine {
				sv.warmOff = true
			}
			sv.mu.Unlock()
			if mine {
				msg := "warm standby: the process did not load devstack's preload (Node's NODE_OPTIONS --require, Python's sitecustomize) within " +
					warmHelloWait.String() + "; warm is off for this service (watch.warm is for Node and Python commands)"
				sv.log.Warn(msg)
				sv.system(msg)
				sv.dropStandby("")
			}
			return
		case <-tick.C:
		}
	}
}

func (sb *standby) release(sv *service) {
	if sb.autoPort {
		sv.sup.ports.release(sb.port)
	}
	if sb.fifo != "" {
		_ = os.Remove(sb.fifo)
		_ = os.Remove(sb.fifo + ".hello")
	}
}

// dropStandby stops the waiting standby (if any); why, when not empty, is logged.
func (sv *service) dropStandby(why string) {
	sv.mu.Lock()
	sv.standbyGen++ // one being started is not kept either
	sb := sv.standby
	sv.standby = nil
	sv.mu.Unlock()
	if sb == nil {
		return
	}
	if why != "" {
		sv.log.Info("warm standby discarded", "reason", why)
		sv.system("warm standby discarded: " + why)
	}
	sb.proc.Kill() // it runs no app code yet: nothing to shut down gracefully
	sb.release(sv)
}

// takeStandby hands the waiting standby to a reload's new instance, or says why there is none usable.
func (sv *service) takeStandby() (*standby, string) {
	if !sv.warmOn() {
		return nil, ""
	}
	sv.mu.Lock()
	sb := sv.standby
	sv.standby = nil
	off := sv.warmOff
	sv.mu.Unlock()
	if sb == nil {
		if off {
			return nil, "cold: warm is off (no preload)"
		}
		return nil, "cold: no standby yet"
	}
	select {
	case <-sb.proc.Done():
		sb.release(sv)
		return nil, fmt.Sprintf("cold: the standby had exited (code %d)", sb.proc.ExitCode())
	default:
	}
	if sb.inputs != sv.warmInputs() {
		sb.proc.Kill()
		sb.release(sv)
		return nil, "cold: the dependencies changed since the standby started"
	}
	return sb, ""
}

// goStandby tells the standby to go: it opens the FIFO (waiting while the standby still loads its
// dependencies) and writes the go message.
func goStandby(ctx context.Context, sb *standby) error {
	msg, _ := json.Marshal(map[string]any{"env": sb.restore})
	deadline := time.Now().Add(warmGoWait)
	for {
		fd, err := syscall.Open(sb.fifo, syscall.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
		if err == nil {
			f := os.NewFile(uintptr(fd), sb.fifo)
			// blocking writes from here: the message is far below PIPE_BUF
			_ = syscall.SetNonblock(fd, false)
			_, werr := f.Write(msg)
			f.Close()
			_ = os.Remove(sb.fifo)
			_ = os.Remove(sb.fifo + ".hello")
			return werr
		}
		if !errors.Is(err, syscall.ENXIO) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the standby did not wait on its FIFO within %s", warmGoWait)
		}
		select {
		case <-sb.proc.Done():
			return fmt.Errorf("the standby exited (code %d)", sb.proc.ExitCode())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}
