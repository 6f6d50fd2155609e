package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// notFoundWindow: an exit with 127/126 this soon after start is a missing command even when the
// instance (without probe) already counted as ready.
const notFoundWindow = 5 * time.Second

// keeper runs one instance (a replica of one generation): it starts the process, probes it, restarts
// it according to the restart policy, and stops it when asked.
type keeper struct {
	sv       *service
	replica  int
	port     int
	autoPort bool
	fastFail bool // a crash before the first ready fails the instance (blue-green candidates, tentative)

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	first  chan error // first outcome, cap 1: nil when ready or completed, else why it failed
	once   sync.Once

	// guarded by sv.mu
	// tentative: started on a skipped build; until the deploy settles, its failure does not fail the
	// service (which builds and starts again).
	tentative   bool
	inst        event.Instance
	proc        *proc
	draining    bool
	sampleAt    time.Time
	sampleTicks uint64

	// the first start's timeline, written by run before the first outcome is sent on first (so
	// read safely by whoever received it) and never again
	spawnedAt time.Time
	readyAt   time.Time
	probes    int

	standby   *standby // a warm standby this instance becomes (its first start)
	startNote string   // the reload timeline's note on start: warm or why cold
}

// newReloadKeeper is newKeeper for a reload: replica 0 of a warm service becomes the standby.
func (sv *service) newReloadKeeper(ctx context.Context, replica, gen int, fastFail bool, op opKind) (*keeper, error) {
	if replica != 0 || (op != opReload && op != opRebuild) || !sv.warmOn() {
		return sv.newKeeper(replica, gen, fastFail)
	}
	sb, why := sv.takeStandby()
	if sb == nil {
		k, err := sv.newKeeper(replica, gen, fastFail)
		if err == nil {
			k.startNote = why
			sv.log.Info("reload starts cold", "reason", why)
		}
		return k, err
	}
	k := &keeper{sv: sv, replica: replica, fastFail: fastFail, done: make(chan struct{}), first: make(chan error, 1),
		standby: sb, port: sb.port, autoPort: sb.autoPort}
	k.ctx, k.cancel = context.WithCancel(context.Background())
	k.inst = event.Instance{Replica: replica, Port: k.port, Status: event.StatusStarting, Generation: gen}
	return k, nil
}

func (sv *service) newKeeper(replica, gen int, fastFail bool) (*keeper, error) {
	k := &keeper{sv: sv, replica: replica, fastFail: fastFail, done: make(chan struct{}), first: make(chan error, 1)}
	return k, k.init(gen)
}

// newTentativeKeeper is a keeper for an instance started on a skipped build.
func (sv *service) newTentativeKeeper(replica, gen int) (*keeper, error) {
	k := &keeper{sv: sv, replica: replica, fastFail: true, tentative: true, done: make(chan struct{}), first: make(chan error, 1)}
	return k, k.init(gen)
}

func (k *keeper) init(gen int) error {
	sv, replica := k.sv, k.replica
	if sv.spec.Port > 0 {
		k.port = sv.spec.Port + replica
	} else {
		p, err := sv.sup.ports.get()
		if err != nil {
			return err
		}
		k.port, k.autoPort = p, true
	}
	k.ctx, k.cancel = context.WithCancel(context.Background())
	k.inst = event.Instance{Replica: replica, Port: k.port, Status: event.StatusStarting, Generation: gen}
	return nil
}

// stop ends the instance (graceful stop of its process group) and waits for it. Idempotent.
func (k *keeper) stop() {
	k.cancel()
	<-k.done
}

func (k *keeper) settle(err error) {
	k.once.Do(func() { k.first <- err })
}

func (k *keeper) update(fn func(in *event.Instance)) {
	k.sv.mu.Lock()
	fn(&k.inst)
	k.sv.mu.Unlock()
	k.sv.publish()
}

func (k *keeper) env() []string {
	var extra []string
	if f := k.sv.spec.InstanceEnv; f != nil {
		extra = f(k.replica)
	}
	replaced := map[string]bool{"PORT": true, "DEVSTACK_REPLICA": true}
	for _, kv := range extra {
		name, _, _ := strings.Cut(kv, "=")
		replaced[name] = true
	}
	env := make([]string, 0, len(k.sv.spec.Env)+2+len(extra))
	for _, kv := range k.sv.spec.Env {
		if name, _, _ := strings.Cut(kv, "="); replaced[name] {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, extra...)
	return append(env, "PORT="+strconv.Itoa(k.port), "DEVSTACK_REPLICA="+strconv.Itoa(k.replica))
}

// failed marks the instance failed for good.
func (k *keeper) failed(msg string) {
	sv := k.sv
	sv.mu.Lock()
	k.inst.Status = event.StatusFailed
	k.inst.Ready = false
	k.inst.PID = 0
	candidate := containsKeeper(sv.candidates, k)
	if !candidate && !k.draining && !k.tentative {
		sv.errMsg = msg
	}
	sv.mu.Unlock()
	if !candidate && !k.tentative {
		sv.log.Warn("instance failed", "replica", k.replica, "err", msg)
	}
	sv.system(msg)
	sv.publish()
	k.settle(errors.New(msg))
}

func (k *keeper) run() {
	sv := k.sv
	spec := sv.spec
	name := spec.Name
	defer close(k.done)
	defer func() {
		if k.autoPort {
			sv.sup.ports.release(k.port)
		}
		k.settle(errors.New("stopped before it became ready"))
	}()
	consecutive := 0
	streakStart := time.Now() // readiness timeout counts from here until the instance is ready
	for {
		env := k.env()
		pr, err := newProber(spec.Probe, k.port, spec.Dir, env)
		if err != nil {
			k.failed(fmt.Sprintf("service %s: %v", name, err))
			return
		}
		tail := newTail(20)
		replica := k.replica
		onLine := func(stream, text string) {
			sv.emit(replica, stream, text)
			tail.add(text)
			pr.line(text)
		}
		var p *proc
		if sb := k.standby; sb != nil {
			k.standby = nil
			sb.mu.Lock()
			sb.sink = onLine
			sb.mu.Unlock()
			if err := goStandby(k.ctx, sb); err != nil {
				sb.proc.Kill()
				_ = os.Remove(sb.fifo)
				_ = os.Remove(sb.fifo + ".hello")
				k.startNote = "cold: " + err.Error()
				sv.log.Info("warm standby not used; starting cold", "reason", err.Error())
			} else {
				p = sb.proc
				k.startNote = fmt.Sprintf("warm standby (pid %d)", p.PID)
			}
		}
		if p == nil {
			p, err = startProc(procSpec{Dir: spec.Dir, Command: spec.Command, Env: sv.recordEnv(env), Stdout: "stdout", Stderr: "stderr",
				PidsDir: sv.sup.pidsDir, Grace: spec.StopGrace, OnLine: onLine})
		}
		if err != nil {
			k.failed(fmt.Sprintf("service %s: cannot start %q: %v", name, spec.Command, err))
			return
		}
		startedAt := time.Now()
		if k.spawnedAt.IsZero() {
			k.spawnedAt = startedAt
		}
		k.update(func(in *event.Instance) {
			in.PID, in.StartedAt, in.Status, in.Ready, in.ExitCode = p.PID, startedAt, event.StatusStarting, false, 0
			k.proc = p
			in.CPU, in.RSS = 0, 0
		})

		// readiness
		ready := false
		probeErr := make(chan error, 1)
		pctx, pcancel := context.WithCancel(k.ctx)
		if pr.none() {
			go func() { probeErr <- k.waitSettled(pctx, p, spec.Settle) }()
		} else {
			go func() { probeErr <- k.probeUntilReady(pctx, pr, p, streakStart.Add(spec.Probe.Timeout)) }()
		}
		select {
		case err := <-probeErr:
			if err == nil {
				ready = true
				break
			}
			pcancel()
			if k.ctx.Err() != nil {
				k.stopped(p)
				return
			}
			hint := pr.hint(err) // while the process still runs
			p.Stop(spec.StopGrace)
			k.failed(fmt.Sprintf("service %s: not ready after %s (%s last said: %s)%s; see %s",
				name, fmtDur(spec.Probe.Timeout), pr.describe(), err.Error(), hint, sv.sup.logPath(name)))
			return
		case <-p.Done():
		case <-k.ctx.Done():
			pcancel()
			k.stopped(p)
			return
		}
		pcancel()
		var readyAt time.Time
		if ready {
			readyAt = time.Now()
			if k.readyAt.IsZero() {
				k.readyAt, k.probes = readyAt, pr.checks
			}
			k.update(func(in *event.Instance) { in.Status, in.Ready = event.StatusReady, true })
			k.settle(nil)
			streakStart = time.Time{}
			select {
			case <-p.Done():
			case <-k.ctx.Done():
				k.stopped(p)
				return
			}
		}

		// the process exited by itself
		code := p.ExitCode()
		if k.ctx.Err() != nil || k.isDraining() {
			k.stopped(p)
			return
		}
		if ready && time.Since(readyAt) >= healthyReset {
			consecutive = 0
		}
		last := lastLine(tail.String())
		how := exitText(code)
		// sh says 127/126 for a command that is not found / not executable: restarting cannot help.
		if (code == 127 || code == 126) && (!ready || time.Since(startedAt) < notFoundWindow) {
			what := "not found"
			if code == 126 {
				what = "not executable (permission denied)"
			}
			k.exited(code, event.StatusFailed)
			k.failed(fmt.Sprintf("service %s: command %q %s in %s; check services.%s.command (a dependency may need installing by services.%s.setup)",
				name, notFoundName(tail.get(), spec.Command), what, spec.Dir, name, name))
			return
		}
		restart := spec.Restart == "always" || (spec.Restart == "on-failure" && code != 0)
		note := ""
		if restart && spec.MaxRestarts == 0 { // the policy would restart, max_restarts 0 says never
			restart, note = false, " (not restarted: restart.max_restarts is 0)"
		}
		// Without a probe, a job that exits 0 within its settle period and is not restarted completed:
		// it did not fail to start.
		if !ready && k.fastFail && !(pr.none() && code == 0 && !restart) {
			k.exited(code, event.StatusFailed)
			k.failed(fmt.Sprintf("service %s: %s before becoming ready%s%s; see %s", name, how, note, lastOutput(last), sv.sup.logPath(name)))
			return
		}
		if !restart {
			if code == 0 {
				k.exited(code, event.StatusCompleted)
				sv.system("completed")
				k.settle(nil)
				return
			}
			k.exited(code, event.StatusFailed)
			k.failed(fmt.Sprintf("service %s: %s%s%s; see %s", name, how, note, lastOutput(last), sv.sup.logPath(name)))
			return
		}
		consecutive++
		if spec.MaxRestarts > 0 && consecutive > spec.MaxRestarts {
			k.exited(code, event.StatusFailed)
			k.failed(fmt.Sprintf("service %s: gave up after %d restarts in a row (%s)%s; see %s",
				name, spec.MaxRestarts, how, lastOutput(last), sv.sup.logPath(name)))
			return
		}
		delay := spec.Backoff
		for i := 1; i < consecutive && delay < maxBackoff; i++ {
			delay *= 2
		}
		delay = min(delay, maxBackoff)
		k.exited(code, event.StatusBackoff)
		sv.mu.Lock()
		k.inst.Restarts++
		sv.restarts++
		sv.mu.Unlock()
		sv.system(fmt.Sprintf("replica %d %s; restarting in %s (%d/%d)", k.replica, how, fmtDur(delay), consecutive, spec.MaxRestarts))
		if streakStart.IsZero() {
			streakStart = time.Now().Add(delay)
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-k.ctx.Done():
			t.Stop()
			k.update(func(in *event.Instance) { in.Status = event.StatusStopped })
			return
		}
	}
}

func (k *keeper) isDraining() bool {
	k.sv.mu.Lock()
	defer k.sv.mu.Unlock()
	return k.draining
}

// exited records an exit (the process is gone).
func (k *keeper) exited(code int, st event.Status) {
	k.update(func(in *event.Instance) {
		in.ExitCode, in.Status, in.Ready, in.PID = code, st, false, 0
		k.proc = nil
	})
}

// stopped stops the process (graceful) and records the instance as stopped.
func (k *keeper) stopped(p *proc) {
	k.update(func(in *event.Instance) {
		if in.Status != event.StatusCompleted && in.Status != event.StatusFailed {
			in.Status = event.StatusStopping
		}
		in.Ready = false
	})
	p.Stop(k.sv.spec.StopGrace)
	k.update(func(in *event.Instance) {
		in.Status, in.PID, in.ExitCode = event.StatusStopped, 0, p.ExitCode()
		k.proc = nil
	})
}

// waitSettled waits until an instance without a probe has run for d (nil), or until it exits or ctx ends
// (ctx's error, once ctx ends: the caller sees the exit).
func (k *keeper) waitSettled(ctx context.Context, p *proc, d time.Duration) error {
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.Done():
			<-ctx.Done()
			return ctx.Err()
		}
	}
	select {
	case <-p.Done(): // exited just as the period ended: not ready
		<-ctx.Done()
		return ctx.Err()
	default:
		return nil
	}
}

const (
	fastProbe    = 20 * time.Millisecond // the pace of network probes right after a start
	fastProbeFor = 5 * time.Second       // how long after a start they keep that pace
)

// nextProbeWait is the pause before the next check, elapsed after the first. The first check runs at
// once; a network probe (a local connect, cheap) then checks every fastProbe for fastProbeFor, so a
// reloaded instance is seen ready within fastProbe of answering instead of at the next interval tick
// (with backoff, up to a whole interval late: most of a hot reload's latency for a fast-starting
// service). After that, and for exec probes (a process per check) from the start, the pause doubles
// from 10ms up to the interval. It never exceeds the interval.
func nextProbeWait(elapsed, prev, interval time.Duration, exec bool) time.Duration {
	var d time.Duration
	switch {
	case !exec && elapsed < fastProbeFor:
		d = fastProbe
	case prev <= 0:
		d = 10 * time.Millisecond
	default:
		d = 2 * prev
	}
	return min(d, interval)
}

// probeUntilReady probes until ready (nil), the deadline passes (the last probe error), the process
// exits or ctx ends.
func (k *keeper) probeUntilReady(ctx context.Context, pr *prober, p *proc, deadline time.Time) error {
	var last error
	began := time.Now()
	var wait time.Duration
	for {
		err := pr.check(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		last = err
		if time.Now().After(deadline) {
			return last
		}
		wait = nextProbeWait(time.Since(began), wait, pr.interval(), pr.probe.Exec != "")
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-pr.logSeen: // a log probe is ready the moment its line is printed
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-p.Done():
			t.Stop()
			<-ctx.Done() // the caller sees the exit
			return ctx.Err()
		}
	}
}

func exitText(code int) string {
	if code > 128 && code < 128+65 {
		return fmt.Sprintf("was killed by signal %d", code-128)
	}
	return fmt.Sprintf("exited with code %d", code)
}

func lastOutput(last string) string {
	if last == "" {
		return ""
	}
	if len(last) > 300 {
		last = last[:300] + "…"
	}
	out := "; last output: " + last
	if l := strings.ToLower(last); strings.Contains(l, "address already in use") || strings.Contains(l, "eaddrinuse") {
		out += " (the service must listen on the port devstack passes in $PORT, or set a fixed port)"
	}
	return out
}

// fmtDur prints whole seconds as "60s" rather than "1m0s".
func fmtDur(d time.Duration) string {
	if d >= time.Second && d%time.Second == 0 {
		return fmt.Sprintf("%ds", int(d/time.Second))
	}
	return d.String()
}
