package supervisor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

const (
	maxBackoff     = 30 * time.Second
	healthyReset   = 60 * time.Second // running this long resets the consecutive-failure count
	drainDelay     = time.Second      // an unpublished instance keeps serving this long before SIGTERM
	buildTailLines = 50
)

type opKind int

const (
	opStart opKind = iota
	opStop
	opRestart
	opRebuild
	opReload // a file change
	opInitial
)

type request struct {
	op    opKind
	reply chan error
}

// settled says whether a service reached a state WaitReady stops waiting for.
type settled int

const (
	settledNot settled = iota
	settledReady
	settledCompleted
	settledFailed
	settledStopped
)

// service is one Spec at run time. Its loop goroutine serializes deploys (setup, build, replace),
// stops and file changes; keepers run the instances.
type service struct {
	sup    *Supervisor
	spec   Spec
	log    *slog.Logger
	file   *logFile
	filter *fileFilter // the watch's; nil without a watch
	// inputFilter picks the files whose content decides whether a warm start may skip the build: the
	// watch's filter, or (without a watch) Dir with the default ignores and .gitignore.
	inputFilter *fileFilter

	mu          sync.Mutex
	phase       event.Status // overrides the status derived from instances: pending, setup, building, stopped, failed
	errMsg      string       // why the service failed
	keepers     []*keeper    // current instances, one per replica
	candidates  []*keeper    // new instances of a blue-green replace, not yet published as current
	draining    []*keeper    // replaced instances being stopped
	gen         int
	restarts    int
	lastReload  *event.Reload
	tl          *timeline // the running deploy's; only the deploy goroutine (one at a time) uses it
	startedAt   time.Time // when the first deploy began
	startedIn   time.Duration
	userStopped bool
	standby     *standby // the warm standby waiting for the next reload
	warmOff     bool     // the standby never loaded the preload: no more standbys
	warmStarted bool     // a standby was started once (later ones need not wait for the import record)
	standbyGen  int      // bumped when the standby is dropped, so one still starting is not kept

	reqs     chan request
	changeMu sync.Mutex
	pending  *change
	changeCh chan struct{} // cap 1: a change is pending
	quit     chan struct{} // closed when the service shuts down
	drains   sync.WaitGroup
	loopDone chan struct{}
}

func newService(sup *Supervisor, spec Spec) *service {
	sv := &service{
		sup:      sup,
		spec:     spec,
		log:      sup.log.With("service", spec.Name),
		file:     openLogFile(sup.logDir, spec.Name, sup.opts.LogMaxBytes, sup.opts.LogMaxFiles),
		phase:    event.StatusPending,
		reqs:     make(chan request),
		changeCh: make(chan struct{}, 1),
		quit:     make(chan struct{}),
		loopDone: make(chan struct{}),
	}
	var include, ignore []string
	ignore = append(ignore, DefaultIgnore...)
	if spec.Watch != nil {
		include = spec.Watch.Include
		ignore = append(ignore, spec.Watch.Ignore...)
	}
	sv.inputFilter = &fileFilter{dir: spec.Dir, include: include, ignore: ignore,
		setupInputs: spec.SetupInputs, ignoreAbs: []string{sup.opts.StateDir}, gitIgnore: gitIgnores(spec.Dir)}
	if spec.Watch != nil {
		sv.filter = sv.inputFilter
	}
	return sv
}

// emit records one output line in the ring and the log file.
func (sv *service) emit(replica int, stream, text string) {
	t := time.Now()
	sv.sup.logs.Append(event.LogLine{Time: t, Source: sv.spec.Name, Replica: replica, Stream: stream, Text: text})
	if note := sv.file.write(t, replica, stream, text); note != "" {
		sv.sup.logs.Append(event.LogLine{Time: t, Source: sv.spec.Name, Stream: "system", Text: note})
	}
}

// system records a line from devstack itself about this service.
func (sv *service) system(text string) { sv.emit(0, "system", text) }

// publish sends the service's state to the bus and wakes waiters.
func (sv *service) publish() {
	sv.mu.Lock()
	st := sv.snapshotLocked()
	sv.sup.bus.SetService(st)
	sv.mu.Unlock()
	sv.sup.notify()
}

func (sv *service) snapshotLocked() event.Service {
	out := event.Service{
		Name:      sv.spec.Name,
		Status:    sv.statusLocked(),
		Replicas:  sv.spec.Replicas,
		Restarts:  sv.restarts,
		Error:     sv.errMsg,
		StartedIn: sv.startedIn,
	}
	if sv.lastReload != nil {
		r := *sv.lastReload
		out.LastReload = &r
	}
	for _, list := range [][]*keeper{sv.keepers, sv.candidates, sv.draining} {
		for _, k := range list {
			out.Instances = append(out.Instances, k.inst)
		}
	}
	return out
}

// statusLocked derives the service status: an explicit phase wins, else it follows the instances.
func (sv *service) statusLocked() event.Status {
	if sv.phase != "" {
		return sv.phase
	}
	if len(sv.keepers) == 0 {
		return event.StatusStopped
	}
	all := func(ok func(event.Status) bool) bool {
		for _, k := range sv.keepers {
			if !ok(k.inst.Status) {
				return false
			}
		}
		return true
	}
	for _, k := range sv.keepers {
		if k.inst.Status == event.StatusFailed {
			return event.StatusFailed
		}
	}
	switch {
	case all(func(s event.Status) bool { return s == event.StatusCompleted }):
		return event.StatusCompleted
	case all(func(s event.Status) bool { return s == event.StatusReady || s == event.StatusCompleted }):
		return event.StatusReady
	}
	for _, k := range sv.keepers {
		if k.inst.Status == event.StatusBackoff {
			return event.StatusBackoff
		}
	}
	return event.StatusStarting
}

// readiness reports whether WaitReady can stop waiting for this service, and its error if it failed.
func (sv *service) readiness() (settled, error) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if sv.userStopped {
		return settledStopped, nil
	}
	if sv.errMsg != "" && (sv.phase == event.StatusFailed || sv.statusLocked() == event.StatusFailed) {
		return settledFailed, errors.New(sv.errMsg)
	}
	if len(sv.keepers) == sv.spec.Replicas && len(sv.keepers) > 0 {
		ready, completed := true, true
		for _, k := range sv.keepers {
			switch k.inst.Status {
			case event.StatusReady:
				completed = false
			case event.StatusCompleted:
			default:
				ready, completed = false, false
			}
		}
		if completed {
			return settledCompleted, nil
		}
		if ready {
			return settledReady, nil
		}
	}
	return settledNot, nil
}

// depState is what a dependent sees of this service.
func (sv *service) depState(cond string) (ok bool, failed error) {
	st, err := sv.readiness()
	if st == settledFailed {
		return false, err
	}
	switch cond {
	case "completed":
		return st == settledCompleted, nil
	case "started":
		if st == settledReady || st == settledCompleted {
			return true, nil
		}
		sv.mu.Lock()
		defer sv.mu.Unlock()
		for _, k := range sv.keepers {
			if k.inst.PID > 0 || k.inst.Status == event.StatusCompleted {
				return true, nil
			}
		}
		return false, nil
	default: // healthy
		return st == settledReady || st == settledCompleted, nil
	}
}

func (sv *service) setPhase(p event.Status) {
	sv.mu.Lock()
	sv.phase = p
	sv.mu.Unlock()
	sv.publish()
}

// fail marks the service failed with msg (no instance keeps running).
func (sv *service) fail(msg string) {
	sv.mu.Lock()
	sv.phase = event.StatusFailed
	sv.errMsg = msg
	sv.mu.Unlock()
	sv.log.Warn("service failed", "err", msg)
	sv.system(msg)
	sv.publish()
}

// running reports whether any current instance is alive (starting, ready or restarting).
func (sv *service) running() bool {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	for _, k := range sv.keepers {
		switch k.inst.Status {
		case event.StatusStarting, event.StatusReady, event.StatusBackoff:
			return true
		}
	}
	return false
}

func (sv *service) healthy() bool {
	st, _ := sv.readiness()
	return st == settledReady || st == settledCompleted
}

// addChange queues a debounced file change for the loop.
func (sv *service) addChange(c change) {
	sv.changeMu.Lock()
	if sv.pending == nil {
		sv.pending = &c
	} else {
		for _, p := range c.Paths {
			if !containsStr(sv.pending.Paths, p) {
				sv.pending.Paths = append(sv.pending.Paths, p)
			}
		}
	}
	sv.changeMu.Unlock()
	select {
	case sv.changeCh <- struct{}{}:
	default:
	}
}

func (sv *service) takeChange() *change {
	sv.changeMu.Lock()
	defer sv.changeMu.Unlock()
	c := sv.pending
	sv.pending = nil
	return c
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (sv *service) startWatch(ctx context.Context, wg *sync.WaitGroup) error {
	w := sv.spec.Watch
	roots := w.Paths
	if len(roots) == 0 {
		roots = []string{"."}
	}
	abs := make([]string, 0, len(roots))
	for _, r := range roots {
		if !filepath.IsAbs(r) {
			r = filepath.Join(sv.spec.Dir, r)
		}
		abs = append(abs, filepath.Clean(r))
	}
	co := newCoalescer(sv.sup.clock, w.Debounce, debounceCap, sv.addChange)
	wt, err := newWatcher(abs, sv.filter, co, sv.log)
	if err != nil {
		return err
	}
	wg.Add(1)
	go func() { defer wg.Done(); wt.run(ctx) }()
	return nil
}

// deployRun is one running deploy (start, reload, restart).
type deployRun struct {
	cancel  context.CancelFunc
	done    chan struct{}
	replies []chan error
	err     error
}

// loop owns the service: it runs deploys one at a time, cancelling a running one when a newer change
// or request arrives, until ctx ends; then it stops every instance.
func (sv *service) loop(ctx context.Context) {
	defer close(sv.loopDone)
	var cur *deployRun
	// finish waits for the current deploy and answers its callers with its outcome.
	finish := func() {
		<-cur.done
		for _, r := range cur.replies {
			r <- cur.err
		}
		cur = nil
	}
	// supersede cancels the current deploy; its callers wait for the next one instead.
	supersede := func() []chan error {
		if cur == nil {
			return nil
		}
		cur.cancel()
		<-cur.done
		carried := cur.replies
		cur = nil
		return carried
	}
	answer := func(rs []chan error, err error) {
		for _, r := range rs {
			r <- err
		}
	}
	var loops loopGuard
	start := func(op opKind, c *change, replies []chan error) {
		dctx, cancel := context.WithCancel(ctx)
		d := &deployRun{cancel: cancel, done: make(chan struct{}), replies: replies}
		cur = d
		go func() {
			defer close(d.done)
			defer cancel()
			d.err = sv.deploy(dctx, op, c)
			if d.err == nil && dctx.Err() == nil && sv.running() {
				sv.prepareStandby()
			}
			loops.deployEnded(time.Now())
		}()
	}
	start(opInitial, nil, nil)
	for {
		var curDone chan struct{}
		if cur != nil {
			curDone = cur.done
		}
		select {
		case <-ctx.Done():
			close(sv.quit)
			answer(supersede(), errShutdown)
			sv.stopAll(event.StatusStopped)
			sv.drains.Wait()
			return
		case <-curDone:
			finish()
		case <-sv.changeCh:
			c := sv.takeChange()
			if c == nil || sv.userStoppedNow() {
				continue
			}
			if c = loops.filter(sv, c, cur != nil); c == nil {
				continue
			}
			start(opReload, c, supersede())
		case r := <-sv.reqs:
			switch r.op {
			case opStop:
				answer(supersede(), fmt.Errorf("service %s was stopped", sv.spec.Name))
				sv.mu.Lock()
				sv.userStopped = true
				sv.mu.Unlock()
				sv.stopAll(event.StatusStopped)
				sv.system("stopped")
				r.reply <- nil
			case opStart:
				if cur == nil && sv.healthy() {
					r.reply <- nil
					continue
				}
				if cur != nil && !sv.userStoppedNow() {
					cur.replies = append(cur.replies, r.reply) // already starting: wait for it
					continue
				}
				carried := supersede()
				sv.clearStopped()
				start(opStart, nil, append(carried, r.reply))
			default:
				carried := supersede()
				sv.clearStopped()
				start(r.op, nil, append(carried, r.reply))
			}
		}
	}
}

func (sv *service) userStoppedNow() bool {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return sv.userStopped
}

// clearStopped ends a user's stop before a deploy; a stopped or failed service is pending again, so
// nobody waits for it as if no instance could come.
func (sv *service) clearStopped() {
	sv.mu.Lock()
	sv.userStopped = false
	again := sv.phase == event.StatusStopped || sv.phase == event.StatusFailed
	if again {
		sv.phase = event.StatusPending
	}
	sv.mu.Unlock()
	if again {
		sv.publish()
	}
}

// stopAll stops every instance (current, candidate, draining) in parallel and marks the service.
func (sv *service) stopAll(final event.Status) {
	sv.dropStandby("")
	sv.mu.Lock()
	all := append(append(append([]*keeper{}, sv.keepers...), sv.candidates...), sv.draining...)
	for _, k := range all {
		if k.inst.Status != event.StatusCompleted && k.inst.Status != event.StatusFailed {
			k.inst.Status = event.StatusStopping
			k.inst.Ready = false
		}
	}
	if len(all) > 0 {
		sv.phase = event.StatusStopping
	}
	sv.mu.Unlock()
	sv.publish()
	var wg sync.WaitGroup
	for _, k := range all {
		wg.Add(1)
		go func() { defer wg.Done(); k.stop() }()
	}
	wg.Wait()
	sv.mu.Lock()
	sv.keepers, sv.candidates, sv.draining = nil, nil, nil
	sv.phase = final
	sv.mu.Unlock()
	sv.publish()
}

// deploy brings the service to a new running state: wait for dependencies (when nothing runs),
// setup when its inputs changed, build, then replace the instances.
func (sv *service) deploy(ctx context.Context, op opKind, c *change) error {
	name := sv.spec.Name
	began := time.Now()
	trigger := "manual"
	if c != nil {
		began = c.First
		trigger = sv.describeChange(c)
	}
	reload := op == opReload || op == opRebuild
	sv.tl = newTimeline(began)
	sv.tl.mark("debounce", "")
	wasRunning := sv.running()
	if !wasRunning {
		if err := sv.waitDeps(ctx, op == opInitial || op == opReload); err != nil {
			return err
		}
		sv.mu.Lock()
		if sv.startedAt.IsZero() {
			sv.startedAt = time.Now() // StartedIn counts from here, not from the wait for dependencies
		}
		sv.mu.Unlock()
		if st, err := os.Stat(sv.spec.Dir); err != nil || !st.IsDir() {
			msg := fmt.Sprintf("service %s: directory %s does not exist; fix services.%s.dir", name, sv.spec.Dir, name)
			sv.fail(msg)
			return errors.New(msg)
		}
	}
	if op == opReload {
		sv.system(fmt.Sprintf("change detected: %s", trigger))
	}
	// setup and build; a failure keeps running instances
	setupSum := ""
	if sv.spec.Setup != "" {
		setupSum = setupHash(sv.spec.Dir, sv.spec.Setup, sv.spec.SetupInputs)
	}
	setupRan := false
	if sv.spec.Setup != "" && !(op == opRestart && wasRunning) {
		hashPath := filepath.Join(sv.sup.setupDir, name+".sha256")
		if readHash(hashPath) != setupSum {
			_ = os.Remove(hashPath)
			if err := sv.step(ctx, "setup", sv.spec.Setup, wasRunning, reload, began, trigger); err != nil {
				return err
			}
			_ = writeHash(hashPath, setupSum)
			setupRan = true
		}
	}
	sv.tl.mark("setup", map[bool]string{true: "ran", false: "unchanged"}[setupRan])
	skipped := false
	if sv.spec.Build != "" && !(op == opRestart && wasRunning) {
		// Only a fresh start may skip: a reload or Rebuild always builds, and so does a start right
		// after setup ran (the dependencies the build reads were just reinstalled).
		mayskip := (op == opInitial || op == opStart) && !wasRunning && !setupRan
		var err error
		if skipped, err = sv.build(ctx, setupSum, mayskip, wasRunning, reload, began, trigger); err != nil {
			return err
		}
	}
	buildNote := ""
	if skipped || sv.spec.Build == "" || (op == opRestart && wasRunning) {
		buildNote = "skipped"
	}
	sv.tl.mark("build", buildNote)
	if skipped {
		defer sv.settleTentative()
	}
	err := sv.replace(ctx, began, trigger, op, skipped)
	if skipped && err == nil {
		err = sv.watchAfterSkip(ctx)
	}
	if err == nil || !skipped || ctx.Err() != nil {
		return err
	}
	// The outputs of the last build may have been deleted or replaced: build once and start again.
	sv.log.Info("start failed after a skipped build; rebuilding", "err", err)
	sv.system("start failed after a skipped build; rebuilding once in case the build outputs are missing or stale")
	sv.mu.Lock()
	failed := slices.Clone(sv.keepers)
	sv.startedIn = 0 // counts until the instance from the new build is ready
	sv.mu.Unlock()
	sv.stopKeepers(failed) // a crash-looping instance would only add noise during the build
	if _, err := sv.build(ctx, setupSum, false, false, reload, began, trigger); err != nil {
		return err
	}
	return sv.replace(ctx, began, trigger, op, false)
}

// watchAfterSkip checks the instances started on a skipped build once more. Without a probe an
// instance counts as ready once it has run Settle (maybe 0), so an early crash (a deleted binary, a stale bundle)
// is watched for during notFoundWindow; the error says what went wrong.
func (sv *service) watchAfterSkip(ctx context.Context) error {
	var deadline time.Time
	if p := sv.spec.Probe; p.HTTP == "" && !p.TCP && p.Log == "" && p.Exec == "" {
		deadline = time.Now().Add(notFoundWindow)
	}
	for {
		ch := sv.sup.changes()
		sv.mu.Lock()
		var bad []string
		for _, k := range sv.keepers {
			if k.inst.Status == event.StatusFailed || k.inst.Restarts > 0 {
				bad = append(bad, fmt.Sprintf("replica %d %s", k.replica, exitText(k.inst.ExitCode)))
			}
		}
		sv.mu.Unlock()
		if len(bad) > 0 {
			return errors.New(strings.Join(bad, "; "))
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil
		}
		t := time.NewTimer(left)
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		t.Stop()
	}
}

// settleTentative makes the current instances ordinary: from now on their failure fails the service.
func (sv *service) settleTentative() {
	sv.mu.Lock()
	for _, list := range [][]*keeper{sv.keepers, sv.candidates, sv.draining} {
		for _, k := range list {
			k.tentative = false
		}
	}
	sv.mu.Unlock()
}

// build runs the build unless mayskip and its inputs match the last successful build (it then
// reports skipped); a successful build records its inputs and outputs for the next start.
func (sv *service) build(ctx context.Context, setupSum string, mayskip, wasRunning, reload bool, began time.Time, trigger string) (skipped bool, err error) {
	recPath := sv.buildRecordPath()
	var inputs *buildInputs
	if !sv.spec.AlwaysBuild {
		checkStart := time.Now()
		prev := readBuildRecord(recPath)
		inputs = sv.scanBuildInputs(setupSum, prev, checkStart)
		sv.log.Debug("build inputs scanned", "files", len(inputs.rec.Files), "read", inputs.hashed, "took", inputs.took)
		if mayskip {
			why := sv.staleReason(inputs, prev)
			if why == "" {
				sv.system(fmt.Sprintf("build skipped: sources unchanged since last build (%d inputs and %d outputs checked in %s; last built %s in %s)",
					len(inputs.rec.Files), len(prev.Outputs), time.Since(checkStart).Round(time.Millisecond), ago(prev.BuiltAt), prev.Took.Round(100*time.Millisecond)))
				if inputs.hashed > 0 { // remember the new stats so the next check need not read these files
					inputs.rec.Outputs, inputs.rec.BuiltAt, inputs.rec.Took = prev.Outputs, prev.BuiltAt, prev.Took
					_ = writeBuildRecord(recPath, &inputs.rec)
				}
				return true, nil
			}
			if prev != nil {
				sv.system("building: " + why)
			}
		}
	}
	_ = os.Remove(recPath)
	stepStart := time.Now()
	if err := sv.step(ctx, "build", sv.spec.Build, wasRunning, reload, began, trigger); err != nil {
		return false, err
	}
	if inputs != nil {
		inputs.rec.Outputs = sv.scanOutputs(inputs, stepStart)
		inputs.rec.BuiltAt, inputs.rec.Took = time.Now(), time.Since(stepStart)
		if err := writeBuildRecord(recPath, &inputs.rec); err != nil {
			sv.log.Warn("record build inputs; the next start builds again", "err", err)
		}
	}
	return false, nil
}

// step runs setup or build; on failure the running instances (if any) keep running.
func (sv *service) step(ctx context.Context, stream, command string, wasRunning, reload bool, began time.Time, trigger string) error {
	name := sv.spec.Name
	prev := sv.currentPhase()
	sv.setPhase(map[string]event.Status{"setup": event.StatusSetup, "build": event.StatusBuilding}[stream])
	stepStart := time.Now()
	out, err := sv.runStep(ctx, stream, command)
	if ctx.Err() != nil {
		sv.restorePhase(prev, wasRunning)
		return ctx.Err()
	}
	if err != nil {
		msg := fmt.Sprintf("service %s: %s failed (%v); see %s", name, stream, err, sv.sup.logPath(name))
		if out != "" {
			msg += ":\n" + out
		}
		if sv.running() {
			sv.mu.Lock()
			sv.phase = ""
			sv.lastReload = &event.Reload{At: time.Now(), Duration: time.Since(began), OK: false, Trigger: trigger, Error: orText(out, err.Error())}
			sv.mu.Unlock()
			sv.system(fmt.Sprintf("%s failed; keeping the running instance", stream))
			sv.publish()
			return errors.New(msg)
		}
		if reload {
			sv.mu.Lock()
			sv.lastReload = &event.Reload{At: time.Now(), Duration: time.Since(began), OK: false, Trigger: trigger, Error: orText(out, err.Error())}
			sv.mu.Unlock()
		}
		sv.fail(msg)
		return errors.New(msg)
	}
	sv.system(fmt.Sprintf("%s finished in %s", stream, time.Since(stepStart).Round(time.Millisecond)))
	return nil
}

func orText(s, alt string) string {
	if strings.TrimSpace(s) == "" {
		return alt
	}
	return s
}

func (sv *service) currentPhase() event.Status {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return sv.phase
}

func (sv *service) restorePhase(prev event.Status, wasRunning bool) {
	sv.mu.Lock()
	if wasRunning {
		sv.phase = ""
	} else {
		sv.phase = prev
	}
	sv.mu.Unlock()
	sv.publish()
}

func (sv *service) describeChange(c *change) string {
	if len(c.Paths) == 0 {
		return "file change"
	}
	p := c.Paths[0]
	if r, err := filepath.Rel(sv.spec.Dir, p); err == nil && !strings.HasPrefix(r, "..") {
		p = r
	}
	if n := len(c.Paths) - 1; n > 0 {
		return fmt.Sprintf("%s and %d more", p, n)
	}
	return p
}

// runStep runs setup or build under the shim and returns its last lines of output.
func (sv *service) runStep(ctx context.Context, stream, command string) (string, error) {
	tail := newTail(buildTailLines)
	p, err := startProc(procSpec{Dir: sv.spec.Dir, Command: command, Env: sv.spec.Env, Stdout: stream, Stderr: stream,
		PidsDir: sv.sup.pidsDir, Grace: sv.spec.StopGrace,
		OnLine: func(s, text string) { sv.emit(0, s, text); tail.add(text) }})
	if err != nil {
		return "", err
	}
	select {
	case <-p.Done():
	case <-ctx.Done():
		sv.system(fmt.Sprintf("%s cancelled", stream))
		p.Stop(sv.spec.StopGrace)
		return tail.String(), ctx.Err()
	}
	code := p.ExitCode()
	if code == 0 {
		return tail.String(), nil
	}
	if code == 127 {
		cmd := notFoundName(tail.get(), command)
		return tail.String(), fmt.Errorf("command %q not found in %s", cmd, sv.spec.Dir)
	}
	return tail.String(), fmt.Errorf("exit code %d", code)
}

var notFoundRe = regexp.MustCompile(`(?:^|: )([^\s:]+): (?:command )?not found`)

// notFoundName finds the missing command in sh's error output, else takes the command's first word.
func notFoundName(lines []string, command string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if m := notFoundRe.FindStringSubmatch(lines[i]); m != nil {
			return m[1]
		}
	}
	if f := strings.Fields(command); len(f) > 0 {
		return f[0]
	}
	return command
}

// waitDeps waits until every dependency meets its condition. A failed dependency fails this service;
// with keepWaiting the service still starts by itself once the dependency recovers (say, after the
// fix to its code is hot-reloaded), else the error is returned.
func (sv *service) waitDeps(ctx context.Context, keepWaiting bool) error {
	if len(sv.spec.DependsOn) == 0 {
		return nil
	}
	sv.setPhase(event.StatusPending)
	failedOn := ""
	for {
		ch := sv.sup.changes()
		allOK := true
		broken := ""
		for _, dep := range sortedKeys(sv.spec.DependsOn) {
			ok, ferr := sv.sup.services[dep].depState(sv.spec.DependsOn[dep])
			if ferr != nil && broken == "" {
				broken = dep
			}
			if !ok {
				allOK = false
			}
		}
		if broken != "" && broken != failedOn {
			msg := fmt.Sprintf("service %s: not started because its dependency %s failed", sv.spec.Name, broken)
			sv.fail(msg)
			if !keepWaiting {
				return errors.New(msg)
			}
			failedOn = broken
		}
		if allOK {
			if failedOn != "" {
				sv.mu.Lock()
				sv.errMsg = ""
				sv.mu.Unlock()
				sv.setPhase(event.StatusPending)
				sv.system("dependencies recovered; starting")
			}
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// replace starts new instances and retires the old ones: blue-green when ports are allocated and
// instances run (the new ones must be ready before the old ones are unpublished), otherwise
// stop-then-start. Tentative instances (started on a skipped build) fail at their first crash before
// ready and do not fail the service: the caller builds and starts again.
func (sv *service) replace(ctx context.Context, began time.Time, trigger string, op opKind, tentative bool) error {
	name := sv.spec.Name
	blueGreen := sv.spec.Port == 0 && sv.running()
	sv.mu.Lock()
	old := sv.keepers
	sv.gen++
	gen := sv.gen
	sv.mu.Unlock()

	if blueGreen {
		news := make([]*keeper, sv.spec.Replicas)
		for i := range news {
			k, err := sv.newReloadKeeper(ctx, i, gen, true, op)
			if err != nil {
				sv.stopKeepers(news[:i])
				return sv.reloadFailed(began, trigger, err.Error())
			}
			news[i] = k
		}
		sv.mu.Lock()
		sv.candidates = news
		sv.phase = ""
		sv.mu.Unlock()
		for _, k := range news {
			go k.run()
		}
		sv.publish()
		if err := waitFirst(ctx, news); err != nil {
			// Candidates that became ready may already get traffic: drain them like replaced ones.
			sv.mu.Lock()
			sv.candidates = nil
			sv.mu.Unlock()
			sv.retire(news, nil)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return sv.reloadFailed(began, trigger, err.Error())
		}
		sv.tl.markInstances(news)
		sv.mu.Lock()
		sv.keepers, sv.candidates = news, nil
		sv.markDrainingLocked(old)
		sv.errMsg = ""
		sv.phase = ""
		sv.mu.Unlock()
		sv.publish()
		r := sv.reloaded(began, trigger, nil)
		sv.system(fmt.Sprintf("replaced by generation %d in %s", gen, r.Duration.Round(time.Millisecond)))
		sv.drains.Add(1)
		go sv.drain(old, r)
		return nil
	}

	// stop, then start on the same ports
	if len(old) > 0 {
		sv.mu.Lock()
		for _, k := range old {
			k.draining = true
			if k.inst.Status != event.StatusCompleted && k.inst.Status != event.StatusFailed {
				k.inst.Status = event.StatusStopping
			}
			k.inst.Ready = false
		}
		sv.mu.Unlock()
		sv.publish()
		sv.stopKeepers(old)
		sv.tl.mark("stop", "old instances, before the new ones can take their ports")
		sv.mu.Lock()
		sv.keepers = nil
		sv.phase = event.StatusStarting // not "stopped": the new instances come right after
		sv.mu.Unlock()
	}
	if sv.spec.Port > 0 {
		for i := range sv.spec.Replicas {
			port := sv.spec.Port + i
			if !waitPortFree(ctx, port, len(old) > 0) {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				by := "another process"
				if o := portOwner(port); o != "" {
					by += " (" + o + ")"
				}
				msg := fmt.Sprintf("service %s: port %d is already in use by %s; stop it or change services.%s.port", name, port, by, name)
				sv.fail(msg)
				return errors.New(msg)
			}
		}
	}
	news := make([]*keeper, sv.spec.Replicas)
	for i := range news {
		var k *keeper
		var err error
		if tentative {
			k, err = sv.newTentativeKeeper(i, gen)
		} else {
			k, err = sv.newReloadKeeper(ctx, i, gen, false, op)
		}
		if err != nil {
			sv.stopKeepers(news[:i])
			msg := fmt.Sprintf("service %s: %v", name, err)
			sv.fail(msg)
			return errors.New(msg)
		}
		news[i] = k
	}
	sv.mu.Lock()
	sv.keepers = news
	sv.phase = ""
	sv.errMsg = ""
	sv.mu.Unlock()
	for _, k := range news {
		go k.run()
	}
	sv.publish()
	err := waitFirst(ctx, news)
	if ctx.Err() != nil {
		return ctx.Err() // a newer deploy takes over these instances
	}
	sv.mu.Lock()
	if err == nil && sv.startedIn == 0 && !sv.startedAt.IsZero() {
		sv.startedIn = time.Since(sv.startedAt)
	}
	sv.mu.Unlock()
	if op == opReload || op == opRebuild {
		if err == nil {
			sv.tl.markInstances(news)
		}
		sv.reloaded(began, trigger, err)
	} else {
		sv.publish()
	}
	return err
}

// reloaded records a finished reload (the new instances are published, or err says why not) with its
// timeline, publishes it and logs the timeline in one line.
func (sv *service) reloaded(began time.Time, trigger string, err error) *event.Reload {
	if err == nil {
		sv.tl.mark("switch", "")
	}
	r := &event.Reload{At: time.Now(), Duration: time.Since(began), OK: err == nil, Trigger: trigger, Timeline: sv.tl.list()}
	if err != nil {
		r.Error = err.Error()
	}
	sv.mu.Lock()
	sv.lastReload = r
	sv.mu.Unlock()
	sv.publish()
	sv.logTimeline(r)
	return r
}

// logTimeline writes a reload's timeline as one log line (slog fields in ms, and the service's log).
func (sv *service) logTimeline(r *event.Reload) {
	attrs := []any{"trigger", r.Trigger, "ok", r.OK, "total_ms", r.Duration.Milliseconds()}
	for _, p := range r.Timeline {
		attrs = append(attrs, p.Name+"_ms", p.Took.Milliseconds())
		if p.Note != "" {
			attrs = append(attrs, p.Name+"_note", p.Note)
		}
	}
	sv.log.Info("reload timeline", attrs...)
	sv.system("reload timeline: " + event.FormatTimeline(r.Timeline))
}

func (sv *service) reloadFailed(began time.Time, trigger, reason string) error {
	sv.mu.Lock()
	sv.lastReload = &event.Reload{At: time.Now(), Duration: time.Since(began), OK: false, Trigger: trigger, Error: reason, Timeline: sv.tl.list()}
	sv.phase = ""
	sv.mu.Unlock()
	sv.system("reload failed; keeping the running instance: " + reason)
	sv.publish()
	return errors.New(reason)
}

// waitPortFree reports whether port is free, waiting up to 3s when a just-stopped instance may still
// be releasing it.
func waitPortFree(ctx context.Context, port int, wait bool) bool {
	deadline := time.Now().Add(3 * time.Second)
	for {
		if portFree(port) {
			return true
		}
		if !wait || time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitFirst waits for every keeper's first outcome (ready or completed: nil; failed: its error).
func waitFirst(ctx context.Context, ks []*keeper) error {
	var errs []error
	for _, k := range ks {
		select {
		case err := <-k.first:
			k.first <- err // keep it readable
			if err != nil {
				errs = append(errs, err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return errors.Join(errs...)
}

func (sv *service) stopKeepers(ks []*keeper) {
	var wg sync.WaitGroup
	for _, k := range ks {
		if k == nil {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); k.stop() }()
	}
	wg.Wait()
}

// markDrainingLocked unpublishes instances that are about to be stopped.
func (sv *service) markDrainingLocked(ks []*keeper) {
	for _, k := range ks {
		k.draining = true
		if k.inst.Status != event.StatusCompleted && k.inst.Status != event.StatusFailed {
			k.inst.Status = event.StatusStopping
		}
		k.inst.Ready = false
	}
	sv.draining = append(sv.draining, ks...)
}

// retire unpublishes instances now and stops them after the drain delay, in the background.
func (sv *service) retire(ks []*keeper, r *event.Reload) {
	sv.mu.Lock()
	sv.markDrainingLocked(ks)
	sv.mu.Unlock()
	sv.publish()
	sv.drains.Add(1)
	go sv.drain(ks, r)
}

// drain stops replaced instances after giving in-flight requests time to finish. When r (the reload
// that replaced them) is still the last one, its timeline gets the drain phase.
func (sv *service) drain(old []*keeper, r *event.Reload) {
	defer sv.drains.Done()
	from := time.Now()
	t := time.NewTimer(drainDelay)
	select {
	case <-t.C:
	case <-sv.quit:
		t.Stop()
	}
	sv.stopKeepers(old)
	sv.mu.Lock()
	sv.draining = removeKeepers(sv.draining, old)
	var done *event.Reload
	if r != nil && sv.lastReload == r {
		c := *r
		c.Timeline = append(slices.Clone(r.Timeline), event.Phase{Name: "drain", Took: time.Since(from)})
		sv.lastReload, done = &c, &c
	}
	sv.mu.Unlock()
	sv.publish()
	if done != nil {
		sv.log.Info("old instance drained", "trigger", done.Trigger, "drain_ms", done.Timeline[len(done.Timeline)-1].Took.Milliseconds())
	}
}

func removeKeepers(list, rm []*keeper) []*keeper {
	out := list[:0:0]
	for _, k := range list {
		if !containsKeeper(rm, k) {
			out = append(out, k)
		}
	}
	return out
}

func containsKeeper(list []*keeper, k *keeper) bool {
	for _, x := range list {
		if x == k {
			return true
		}
	}
	return false
}

// sample updates CPU% and RSS of every instance from one /proc listing.
func (sv *service) sample(all []procInfo, now time.Time) {
	sv.mu.Lock()
	changed := false
	for _, list := range [][]*keeper{sv.keepers, sv.candidates, sv.draining} {
		for _, k := range list {
			if k.proc == nil {
				continue
			}
			var ticks, rss uint64
			for _, p := range descendants(all, k.proc.ShimPID) {
				ticks += p.utime + p.stime
				rss += p.rss * pageSize
			}
			if !k.sampleAt.IsZero() && ticks >= k.sampleTicks {
				secs := now.Sub(k.sampleAt).Seconds()
				if secs > 0 {
					k.inst.CPU = float64(ticks-k.sampleTicks) / clockTicks / secs * 100
				}
			}
			k.sampleAt, k.sampleTicks = now, ticks
			k.inst.RSS = rss
			changed = true
		}
	}
	sv.mu.Unlock()
	if changed {
		sv.publish()
	}
}

// loopGuard detects a build that writes into the files it watches (its output is not ignored): the
// same set of paths changing during or right after each deploy, several times in a row. Those paths
// are then ignored, with a warning saying what to add to watch.ignore.
//
// To never mistake a user's edits for a loop, a path only counts when its content is binary or did
// not change since the last time (a build rewriting the same output); an edited source file differs.
type loopGuard struct {
	mu      sync.Mutex
	ended   time.Time // when the last deploy finished
	key     string
	count   int
	prints  map[string]string // path -> fingerprint when last seen
	ignored map[string]bool
}

// fingerprint summarizes a file's content: "bin:" for binary files, else a hash of its start and size.
func fingerprint(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "missing"
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	n, _ := io.ReadFull(f, buf)
	buf = buf[:n]
	if bytes.IndexByte(buf[:min(n, 8000)], 0) >= 0 {
		return "bin:"
	}
	st, _ := f.Stat()
	size := int64(n)
	if st != nil {
		size = st.Size()
	}
	sum := sha256.Sum256(buf)
	return fmt.Sprintf("%x:%d", sum[:8], size)
}

const loopLimit = 3

func (g *loopGuard) deployEnded(t time.Time) {
	g.mu.Lock()
	g.ended = t
	g.mu.Unlock()
}

// filter drops ignored paths from c and returns nil when nothing is left to reload for.
func (g *loopGuard) filter(sv *service, c *change, deploying bool) *change {
	g.mu.Lock()
	defer g.mu.Unlock()
	var paths []string
	for _, p := range c.Paths {
		if !g.ignored[p] {
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return nil
	}
	c.Paths = paths
	// A change first seen while a deploy ran, or within a moment of its end, may be the build's own.
	own := deploying || (!g.ended.IsZero() && c.First.Sub(g.ended) < 500*time.Millisecond)
	sorted := slices.Clone(paths)
	sort.Strings(sorted)
	key := strings.Join(sorted, "\x00")
	if g.prints == nil {
		g.prints = map[string]string{}
	}
	same := true
	for _, p := range sorted {
		fp := fingerprint(p)
		if fp != "bin:" && fp != g.prints[p] {
			same = false
		}
		g.prints[p] = fp
	}
	if !own || !same || key != g.key {
		g.key, g.count = key, 0
		if !own {
			return c
		}
	}
	g.count++
	if g.count < loopLimit {
		return c
	}
	if g.ignored == nil {
		g.ignored = map[string]bool{}
	}
	var rel []string
	for _, p := range sorted {
		g.ignored[p] = true
		if r, err := filepath.Rel(sv.spec.Dir, p); err == nil {
			p = r
		}
		rel = append(rel, p)
	}
	g.key, g.count = "", 0
	msg := fmt.Sprintf("service %s: reload loop: every build changes %s, which is watched; ignoring it from now on (add it to services.%s.watch.ignore)",
		sv.spec.Name, strings.Join(rel, ", "), sv.spec.Name)
	sv.log.Warn("reload loop", "paths", rel)
	sv.system(msg)
	sv.sup.bus.Notify("warn", msg)
	return nil
}
