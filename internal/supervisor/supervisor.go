// Package supervisor runs, watches, hot-reloads and stops the user's services as real processes.
package supervisor

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/devstack-dev/devstack/internal/glob"
)

// Spec describes one service.
type Spec struct {
	Name        string
	Dir         string            // absolute working directory
	Setup       string            // sh -c; re-run only when the hash of SetupInputs (or the command) changes
	SetupInputs []string          // paths or globs relative to Dir (or absolute)
	Build       string            // sh -c; run before the first start and on each change
	Command     string            // sh -c
	Env         []string          // "K=V", the full environment; PORT and DEVSTACK_REPLICA are added per replica (nil: os.Environ())
	Port        int               // 0: a free port per instance; else replica i uses Port+i
	Replicas    int               // >= 1, required
	DependsOn   map[string]string // service -> "started" | "healthy" | "completed"
	Probe       Probe
	Restart     string        // "no" | "on-failure" | "always", required
	MaxRestarts int           // consecutive restarts before giving up; 0 never restarts, negative never gives up
	Backoff     time.Duration // first restart delay, doubled up to 30s; 0 restarts at once
	Watch       *Watch        // nil: no hot reload
	// AlwaysBuild runs Build on every start. By default a start skips it when the build's inputs (the
	// command, Env, setup inputs and the files the watch filter selects, or Dir without a watch) are
	// unchanged since the last successful build, recorded under StateDir/build.
	AlwaysBuild bool
	StopGrace   time.Duration // SIGTERM to SIGKILL; 0 sends SIGKILL right after SIGTERM
	// Settle: without a probe, an instance is ready once it has run this long, so a crash loop never
	// counts as ready; 0 means ready as soon as it started.
	Settle time.Duration
	// InstanceEnv returns more "K=V" for one replica, replacing Env's values of the same keys (the
	// stack's per-instance OTEL_RESOURCE_ATTRIBUTES). nil: none.
	InstanceEnv func(replica int) []string `json:"-"`
}

// Probe decides when an instance is ready; with none set it is ready once it has run Spec.Settle.
type Probe struct {
	HTTP     string        // path that must answer 2xx/3xx on 127.0.0.1:PORT
	TCP      bool          // PORT accepts connections
	Log      string        // regular expression an output line must match
	Exec     string        // sh -c command that must exit 0
	Interval time.Duration // longest wait between attempts, > 0 when a probe is set; the first ones come sooner
	Timeout  time.Duration // fail the instance when not ready after this long, > 0 when a probe is set
}

// Watch configures hot reload.
type Watch struct {
	Paths    []string      // relative to Dir (or absolute); empty means Dir
	Include  []string      // globs of files that trigger a reload; empty means all
	Ignore   []string      // globs ignored besides DefaultIgnore
	Debounce time.Duration // quiet period after the last change; 0 reloads at the first; a burst is cut off after 10s
	// Warm keeps a standby process (Node or Python, one replica) that has loaded the dependencies and
	// waits for the next reload (warm.go).
	Warm bool
}

// Options configures a Supervisor.
type Options struct {
	StateDir string       // logs/, setup/, build/ and pids/ go here
	Bus      *event.Bus   // state of every service is published here (nil: a private bus)
	Logs     *event.Logs  // every output line goes here (nil: a private ring)
	Logger   *slog.Logger // devstack's own log (nil: discard)
	// LogMaxBytes rotates a service's log file at this size (0: never); LogMaxFiles rotated files
	// (<service>.log.1 the newest) are kept, older output is deleted with a note saying how much.
	LogMaxBytes int64
	LogMaxFiles int

	clock clock // tests inject a fake clock for debouncing
}

// Supervisor runs a set of services.
type Supervisor struct {
	opts     Options
	log      *slog.Logger
	bus      *event.Bus
	logs     *event.Logs
	services map[string]*service
	order    []string // dependencies first
	level    map[string]int
	ports    *portAllocator
	clock    clock
	logDir   string
	pidsDir  string
	setupDir string
	buildDir string

	warmOnce sync.Once

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every state change
	running bool
	done    bool
}

var (
	errNotRunning = errors.New("the supervisor is not running")
	errShutdown   = errors.New("devstack is shutting down")
)

// New checks the specs and prepares a supervisor; nothing runs until Run.
func New(specs []Spec, opts Options) (*Supervisor, error) {
	if opts.StateDir == "" {
		return nil, errors.New("supervisor: state dir is required")
	}
	abs, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return nil, fmt.Errorf("supervisor: state dir: %w", err)
	}
	opts.StateDir = abs
	s := &Supervisor{
		opts:     opts,
		log:      opts.Logger,
		bus:      opts.Bus,
		logs:     opts.Logs,
		services: map[string]*service{},
		ports:    newPortAllocator(),
		clock:    opts.clock,
		logDir:   filepath.Join(abs, "logs"),
		pidsDir:  filepath.Join(abs, "pids"),
		setupDir: filepath.Join(abs, "setup"),
		buildDir: filepath.Join(abs, "build"),
		changed:  make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "supervisor")
	if s.bus == nil {
		s.bus = event.NewBus("devstack")
	}
	if s.logs == nil {
		s.logs = event.NewLogs(10000)
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	var errs []error
	for i := range specs {
		sp := specs[i]
		if err := normalize(&sp); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := s.services[sp.Name]; dup {
			errs = append(errs, fmt.Errorf("service %s: defined twice", sp.Name))
			continue
		}
		s.services[sp.Name] = newService(s, sp)
	}
	for _, sv := range s.services {
		for dep := range sv.spec.DependsOn {
			if _, ok := s.services[dep]; !ok {
				errs = append(errs, fmt.Errorf("service %s: depends_on names unknown service %q", sv.spec.Name, dep))
			}
		}
	}
	if len(errs) == 0 {
		if err := s.sortServices(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// Leftovers of a devstack that was killed before its shims could clean up (belt and braces).
	if n := killLeftovers(s.pidsDir); n > 0 {
		s.log.Warn("killed processes left over by a previous devstack", "count", n)
	}
	for _, name := range s.order {
		s.services[name].publish()
	}
	return s, nil
}

func normalize(sp *Spec) error {
	if sp.Name == "" {
		return errors.New("service without a name")
	}
	where := "service " + sp.Name
	if sp.Command == "" {
		return fmt.Errorf("%s: command is empty; set services.%s.command", where, sp.Name)
	}
	if !filepath.IsAbs(sp.Dir) {
		return fmt.Errorf("%s: dir %q is not absolute", where, sp.Dir)
	}
	if sp.Replicas < 1 {
		return fmt.Errorf("%s: replicas must be at least 1, got %d", where, sp.Replicas)
	}
	if sp.Port < 0 || sp.Port+sp.Replicas-1 > 65535 {
		return fmt.Errorf("%s: port %d is out of range", where, sp.Port)
	}
	switch sp.Restart {
	case "no", "on-failure", "always":
	default:
		return fmt.Errorf("%s: restart %q must be one of no|on-failure|always", where, sp.Restart)
	}
	if sp.Backoff < 0 || sp.StopGrace < 0 {
		return fmt.Errorf("%s: backoff and stop_grace must not be negative", where)
	}
	if sp.Env == nil {
		sp.Env = os.Environ()
	}
	for dep, cond := range sp.DependsOn {
		switch cond {
		case "started", "healthy", "completed":
		default:
			return fmt.Errorf("%s: depends_on.%s: condition %q must be one of started|healthy|completed", where, dep, cond)
		}
		if dep == sp.Name {
			return fmt.Errorf("%s: depends on itself", where)
		}
	}
	n := 0
	for _, set := range []bool{sp.Probe.HTTP != "", sp.Probe.TCP, sp.Probe.Log != "", sp.Probe.Exec != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("%s: ready: set only one of http, tcp, log, exec", where)
	}
	if sp.Probe.Log != "" {
		if _, err := regexp.Compile(sp.Probe.Log); err != nil {
			return fmt.Errorf("%s: ready.log: %w", where, err)
		}
	}
	if n == 1 && (sp.Probe.Interval <= 0 || sp.Probe.Timeout <= 0) {
		return fmt.Errorf("%s: ready: interval and timeout must be greater than 0", where)
	}
	if sp.Watch != nil {
		w := *sp.Watch
		for _, g := range slices.Concat(w.Include, w.Ignore) {
			if err := glob.Check(g); err != nil {
				return fmt.Errorf("%s: watch: %w", where, err)
			}
		}
		if w.Debounce < 0 {
			return fmt.Errorf("%s: watch: debounce must not be negative", where)
		}
		sp.Watch = &w
	}
	return nil
}

// sortServices orders services so dependencies come first and assigns levels for shutdown.
func (s *Supervisor) sortServices() error {
	names := make([]string, 0, len(s.services))
	for n := range s.services {
		names = append(names, n)
	}
	sort.Strings(names)
	s.level = map[string]int{}
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(n string, path []string) error
	visit = func(n string, path []string) error {
		switch state[n] {
		case 1:
			i := slices.Index(path, n)
			return fmt.Errorf("dependency cycle: %s", strings.Join(append(path[i:], n), " -> "))
		case 2:
			return nil
		}
		state[n] = 1
		deps := make([]string, 0)
		for d := range s.services[n].spec.DependsOn {
			deps = append(deps, d)
		}
		sort.Strings(deps)
		lvl := 0
		for _, d := range deps {
			if err := visit(d, append(path, n)); err != nil {
				return err
			}
			lvl = max(lvl, s.level[d]+1)
		}
		state[n] = 2
		s.level[n] = lvl
		s.order = append(s.order, n)
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return err
		}
	}
	return nil
}

// notify wakes everyone waiting for a state change.
func (s *Supervisor) notify() {
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *Supervisor) changes() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Run starts every service (each once its dependencies meet their conditions), watches files, and
// keeps them running until ctx ends; then it stops them all, dependents before their dependencies,
// and returns. A service's build is skipped when its inputs are unchanged since its last successful
// build (see Spec.AlwaysBuild); if the service then fails to become ready, it is built and started
// once more.
func (s *Supervisor) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running || s.done {
		s.mu.Unlock()
		return errors.New("supervisor: Run called twice")
	}
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running, s.done = false, true
		s.mu.Unlock()
		s.notify()
	}()
	if n := killLeftovers(s.pidsDir); n > 0 {
		s.log.Warn("killed processes left over by a previous devstack", "count", n)
	}

	base := context.WithoutCancel(ctx)
	watchCtx, stopWatch := context.WithCancel(base)
	defer stopWatch()
	var watchers sync.WaitGroup
	cancels := map[string]context.CancelFunc{}
	for _, name := range s.order {
		sv := s.services[name]
		svcCtx, cancel := context.WithCancel(base)
		cancels[name] = cancel
		go sv.loop(svcCtx)
		if sv.spec.Watch != nil {
			if err := sv.startWatch(watchCtx, &watchers); err != nil {
				s.log.Warn("hot reload disabled", "service", name, "err", err)
				sv.system(fmt.Sprintf("hot reload disabled: %v", err))
			}
		}
	}
	sampleCtx, stopSample := context.WithCancel(base)
	sampled := make(chan struct{})
	go func() { defer close(sampled); s.sample(sampleCtx) }()

	<-ctx.Done()
	stopWatch()
	watchers.Wait()
	// Stop by level, highest (most dependent) first; services of one level stop together.
	maxLevel := 0
	for _, l := range s.level {
		maxLevel = max(maxLevel, l)
	}
	for l := maxLevel; l >= 0; l-- {
		var stopping []*service
		for _, name := range s.order {
			if s.level[name] == l {
				cancels[name]()
				stopping = append(stopping, s.services[name])
			}
		}
		for _, sv := range stopping {
			<-sv.loopDone
		}
	}
	stopSample()
	<-sampled
	for _, sv := range s.services {
		sv.file.close()
	}
	return nil
}

// WaitReady waits until every service is ready or completed, or has failed or been stopped. The
// error names each failed service and why; when ctx ends first it names those still not ready.
func (s *Supervisor) WaitReady(ctx context.Context) error {
	for {
		ch := s.changes()
		var errs []error
		var waiting []string
		for _, name := range s.order {
			st, err := s.services[name].readiness()
			switch {
			case err != nil:
				errs = append(errs, err)
			case st == settledNot:
				sv := s.services[name]
				sv.mu.Lock()
				waiting = append(waiting, fmt.Sprintf("%s (%s)", name, sv.statusLocked()))
				sv.mu.Unlock()
			}
		}
		if len(waiting) == 0 {
			return errors.Join(errs...)
		}
		s.mu.Lock()
		done := s.done
		s.mu.Unlock()
		if done {
			return errors.Join(append(errs, fmt.Errorf("devstack stopped before %s became ready", strings.Join(waiting, ", ")))...)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return errors.Join(append(errs, fmt.Errorf("not ready yet: %s: %w", strings.Join(waiting, ", "), context.Cause(ctx)))...)
		}
	}
}

// Start starts a stopped (or failed) service: setup if its inputs changed, build (skipped, like on
// the first start, when the build's inputs are unchanged since its last success and AlwaysBuild is
// off), start, and waits until it is ready. Starting a running service does nothing.
func (s *Supervisor) Start(ctx context.Context, name string) error {
	return s.request(ctx, name, opStart)
}

// Stop stops a service's instances (SIGTERM to each process group, SIGKILL after StopGrace); it stays
// stopped, ignoring file changes, until Start or Restart.
func (s *Supervisor) Stop(ctx context.Context, name string) error {
	return s.request(ctx, name, opStop)
}

// Restart replaces a service's instances without building (blue-green for allocated ports) and waits
// until the new ones are ready; a service that is not running is started (with setup and build).
func (s *Supervisor) Restart(ctx context.Context, name string) error {
	return s.request(ctx, name, opRestart)
}

// Rebuild runs setup (if its inputs changed) and build, then replaces the instances, exactly like a
// file change; a failed build keeps the running instances and is returned as the error.
func (s *Supervisor) Rebuild(ctx context.Context, name string) error {
	return s.request(ctx, name, opRebuild)
}

func (s *Supervisor) request(ctx context.Context, name string, op opKind) error {
	sv, ok := s.services[name]
	if !ok {
		return fmt.Errorf("unknown service %q", name)
	}
	s.mu.Lock()
	running := s.running
	s.mu.Unlock()
	if !running {
		return errNotRunning
	}
	r := request{op: op, reply: make(chan error, 1)}
	select {
	case sv.reqs <- r:
	case <-sv.loopDone:
		return errShutdown
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	select {
	case err := <-r.reply:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Services returns the service names, dependencies first.
func (s *Supervisor) Services() []string { return slices.Clone(s.order) }

// sample reads CPU and memory of every instance's process tree every ~2s.
func (s *Supervisor) sample(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		all := sampleProcs()
		now := time.Now()
		for _, name := range s.order {
			s.services[name].sample(all, now)
		}
	}
}

// logPath is the service's log file as the user should read it (relative to the working dir if
// that is shorter).
func (s *Supervisor) logPath(name string) string {
	p := filepath.Join(s.logDir, name+".log")
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
	}
	return p
}
