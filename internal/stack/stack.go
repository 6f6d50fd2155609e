// Package stack wires the broker, database, gateway and supervisor into one running stack and
// implements the Controller that UIs and the CLI use.
package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/devstack-dev/devstack/internal/broker"
	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/fsperm"
	"github.com/devstack-dev/devstack/internal/postgres"
	"github.com/devstack-dev/devstack/internal/proxy"
	"github.com/devstack-dev/devstack/internal/supervisor"
)

// Component names on the event bus.
const (
	CompControl  = "control"
	CompBroker   = "broker"
	CompPostgres = "postgres"
	CompGateway  = "gateway"
)

// Kafka is what the stack needs from a Kafka-compatible broker: the embedded one or a real one.
type Kafka interface {
	Addr() string
	Close() error
}

// Database is what the stack needs from PostgreSQL: the embedded server or a real one.
type Database interface {
	Port() int
	URL(db string) string
	EnsureDatabase(ctx context.Context, name string, initSQL []string) (string, error)
	ResetDatabase(ctx context.Context, name string) error
	Stop() error
}

// Infra starts the broker and the database. The default is embedded; --containers swaps in real ones.
type Infra interface {
	StartKafka(ctx context.Context, o broker.Options) (Kafka, error)
	StartDatabase(ctx context.Context, o postgres.Options) (Database, error)
}

// Embedded runs kfake and a local PostgreSQL inside/under devstack.
type Embedded struct{}

// StartKafka implements Infra.
func (Embedded) StartKafka(ctx context.Context, o broker.Options) (Kafka, error) {
	return broker.Start(ctx, o)
}

// StartDatabase implements Infra.
func (Embedded) StartDatabase(ctx context.Context, o postgres.Options) (Database, error) {
	return postgres.Start(ctx, o)
}

// Options configure a Stack.
type Options struct {
	Config *config.Config
	Logger *slog.Logger
	Infra  Infra // nil: Embedded
	// LogCapacity is the size of the in-memory log ring (default 20000 lines).
	LogCapacity int
	// NoControl skips the control API (tests running several stacks at once).
	NoControl bool
	// Override is applied to devstack.yaml each time the stack reloads it, as the CLI applied it to
	// Config (free ports, a test run's state dir), so a reload keeps what the running stack uses.
	Override func(*config.Config)
}

// Stack is one running devstack.yaml.
type Stack struct {
	cfg   *config.Config
	log   *slog.Logger
	infra Infra
	bus   *event.Bus
	logs  *event.Logs
	opts  Options

	mu    sync.Mutex // guards the fields below, set while starting
	kafka Kafka
	admin *broker.Admin
	db    Database
	gw    *proxy.Gateway
	sup   *supervisor.Supervisor

	stopping   atomic.Bool   // set when Run begins to stop everything
	infraReady chan struct{} // closed when infrastructure is up and services are starting
	startErr   error         // set before infraReady is closed when start failed
	done       chan struct{} // closed when Run returns
}

// New prepares a stack; nothing starts until Run.
func New(o Options) (*Stack, error) {
	if o.Config == nil {
		return nil, errors.New("stack: no config")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Infra == nil {
		o.Infra = Embedded{}
	}
	if o.LogCapacity <= 0 {
		o.LogCapacity = 20000
	}
	s := &Stack{
		cfg:        o.Config,
		log:        o.Logger,
		infra:      o.Infra,
		bus:        event.NewBus(o.Config.Name),
		logs:       event.NewLogs(o.LogCapacity),
		opts:       o,
		infraReady: make(chan struct{}),
		done:       make(chan struct{}),
	}
	for _, name := range o.Config.ServiceSeq {
		sv := o.Config.Services[name]
		if sv == nil || sv.Disabled {
			continue
		}
		s.bus.SetService(event.Service{Name: name, Status: event.StatusPending, Replicas: sv.Replicas})
	}
	return s, nil
}

// Bus is the stack's state and event bus.
func (s *Stack) Bus() *event.Bus { return s.bus }

// LogStore is the stack's log ring.
func (s *Stack) LogStore() *event.Logs { return s.logs }

// Config is the configuration the stack runs.
func (s *Stack) Config() *config.Config { return s.cfg }

func (s *Stack) component(name string, st event.Status, addr, detail string, took time.Duration, err error) {
	c := event.Component{Name: name, Status: st, Addr: addr, Detail: detail, StartedIn: took}
	if err != nil {
		c.Error = err.Error()
	}
	s.bus.SetComponent(c)
}

// systemLog writes a devstack-level line to the log ring.
func (s *Stack) systemLog(source, format string, a ...any) {
	s.logs.Append(event.LogLine{Source: source, Stream: "system", Text: fmt.Sprintf(format, a...)})
}

// Run starts everything, serves until ctx ends (or a component fails), then stops everything in reverse
// order and returns. A start failure is returned (and everything already started is stopped).
func (s *Stack) Run(ctx context.Context) (err error) {
	defer close(s.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Logs, Kafka records and keys live there: private to the owner, also when an older devstack left
	// it world-readable. PostgreSQL's data dir keeps the modes its own tools set.
	warn, err := fsperm.Private(s.cfg.StateDirPath(), "postgres")
	if err != nil {
		s.failStart(err)
		return fmt.Errorf("create state dir: %w", err)
	}
	if warn != nil {
		s.log.Warn("state dir: some files stay readable by other users; fix their owner or mode", "err", warn)
	}
	ensureGitignore(s.cfg.StateDirPath())

	// Background goroutines are waited for after everything is stopped (defers run last-in first-out).
	var bg sync.WaitGroup
	defer bg.Wait()
	// Everything started is stopped in reverse order through this list.
	var stops []func()
	defer func() {
		s.stopping.Store(true)
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}()
	errc := make(chan error, 8)
	goRun := func(name string, f func(context.Context) error, rctx context.Context) {
		bg.Add(1)
		go func() {
			defer bg.Done()
			if err := f(rctx); err != nil && !errors.Is(err, context.Canceled) {
				if !strings.HasPrefix(err.Error(), name+":") {
					err = fmt.Errorf("%s: %w", name, err)
				}
				errc <- err
			}
		}()
	}

	// 1. control API first, so `devstack status` sees a starting stack (and a second devstack on the same
	// port fails before it starts anything).
	if !s.opts.NoControl {
		t0 := time.Now()
		srv, err := control.Listen(hostPort("127.0.0.1", s.cfg.Control.Port), s.cfg.StateDirPath(), s)
		if err != nil {
			s.component(CompControl, event.StatusFailed, "", "", 0, err)
			s.failStart(err)
			return err
		}
		cctx, ccancel := context.WithCancel(context.WithoutCancel(ctx))
		goRun(CompControl, srv.Serve, cctx)
		stops = append(stops, func() { ccancel() })
		s.component(CompControl, event.StatusReady, srv.Addr(), "", since(t0), nil)
	}

	// 2. broker and database in parallel.
	co := coordinates{dbURL: map[string]string{}}
	g, gctx := errgroup.WithContext(ctx)
	if s.cfg.BrokerEnabled() {
		s.component(CompBroker, event.StatusStarting, "", "", 0, nil)
		g.Go(func() error {
			t0 := time.Now()
			o := brokerOptions(s.cfg)
			o.Logger = s.log.With("component", CompBroker)
			k, err := s.infra.StartKafka(gctx, o)
			if err != nil {
				s.component(CompBroker, event.StatusFailed, "", "", 0, err)
				return fmt.Errorf("start broker: %w", err)
			}
			admin, err := broker.NewAdmin([]string{k.Addr()}, s.log.With("component", CompBroker))
			if err != nil {
				k.Close()
				return fmt.Errorf("broker admin: %w", err)
			}
			s.mu.Lock()
			s.kafka, s.admin = k, admin
			s.mu.Unlock()
			s.component(CompBroker, event.StatusReady, k.Addr(), fmt.Sprintf("%d topics declared", len(o.Topics)), since(t0), nil)
			s.systemLog(CompBroker, "broker ready on %s in %s", k.Addr(), since(t0))
			return nil
		})
	}
	if s.cfg.PostgresEnabled() {
		s.component(CompPostgres, event.StatusStarting, "", "", 0, nil)
		g.Go(func() error {
			t0 := time.Now()
			o := postgresOptions(s.cfg)
			o.Logger = s.log.With("component", CompPostgres)
			o.LogWriter = func(line string) { s.logs.Append(event.LogLine{Source: CompPostgres, Stream: "stderr", Text: line}) }
			db, err := s.infra.StartDatabase(gctx, o)
			if err != nil {
				s.component(CompPostgres, event.StatusFailed, "", "", 0, err)
				return fmt.Errorf("start postgres: %w", err)
			}
			s.mu.Lock()
			s.db = db
			s.mu.Unlock()
			if w, ok := db.(interface {
				Done() <-chan struct{}
				Err() error
			}); ok {
				go s.watchDatabase(ctx, w.Done(), w.Err)
			}
			// per-service databases and extra databases
			for _, d := range s.cfg.Postgres.Databases {
				var init []string
				for _, f := range d.Init {
					init = append(init, absPath(s.cfg, f))
				}
				if _, err := db.EnsureDatabase(gctx, d.Name, init); err != nil {
					return fmt.Errorf("postgres: create database %q (postgres.databases): %w", d.Name, err)
				}
			}
			urls := map[string]string{}
			for _, name := range s.cfg.ServiceSeq {
				sv := s.cfg.Services[name]
				if sv == nil || sv.Disabled || sv.Database == "" {
					continue
				}
				u, err := db.EnsureDatabase(gctx, sv.Database, nil)
				if err != nil {
					return fmt.Errorf("postgres: create database %q for service %s: %w", sv.Database, name, err)
				}
				urls[name] = u
			}
			s.mu.Lock()
			co.dbURL = urls
			s.mu.Unlock()
			s.component(CompPostgres, event.StatusReady, hostPort("127.0.0.1", db.Port()), fmt.Sprintf("%d databases", len(urls)+len(s.cfg.Postgres.Databases)), since(t0), nil)
			s.systemLog(CompPostgres, "postgres ready on 127.0.0.1:%d in %s", db.Port(), since(t0))
			return nil
		})
	}
	// the infra we started is stopped at the end whether or not the rest starts
	stops = append(stops, func() {
		s.mu.Lock()
		k, admin, db := s.kafka, s.admin, s.db
		s.mu.Unlock()
		if db != nil {
			if err := db.Stop(); err != nil {
				s.log.Warn("stop postgres", "err", err)
			}
			s.component(CompPostgres, event.StatusStopped, "", "", 0, nil)
		}
		if admin != nil {
			admin.Close()
		}
		if k != nil {
			if err := k.Close(); err != nil {
				s.log.Warn("stop broker", "err", err)
			}
			s.component(CompBroker, event.StatusStopped, "", "", 0, nil)
		}
	})
	if err := g.Wait(); err != nil {
		s.failStart(err)
		return err
	}
	if s.kafka != nil {
		co.kafka = s.kafka.Addr()
	}

	// 3. gateway.
	if s.cfg.GatewayEnabled() {
		t0 := time.Now()
		gw, err := proxy.New(gatewayConfig(s.cfg), proxy.Options{Bus: s.bus, Logs: s.logs, Logger: s.log.With("component", CompGateway)})
		if err != nil {
			err = fmt.Errorf("gateway: %w", err)
			s.component(CompGateway, event.StatusFailed, "", "", 0, err)
			s.failStart(err)
			return err
		}
		gctx, gcancel := context.WithCancel(context.WithoutCancel(ctx))
		goRun(CompGateway, gw.Run, gctx)
		stops = append(stops, func() { gcancel() })
		if err := waitStarted(ctx, gw.Started(), errc); err != nil {
			s.component(CompGateway, event.StatusFailed, "", "", 0, err)
			s.failStart(err)
			return err
		}
		s.mu.Lock()
		s.gw = gw
		s.mu.Unlock()
		co.gatewayURL = gw.URL()
		detail := fmt.Sprintf("%d routes", len(s.cfg.Gateway.Routes))
		if a := gw.HTTPSAddr(); a != "" {
			detail += ", https " + a
		}
		s.component(CompGateway, event.StatusReady, gw.Addr(), detail, since(t0), nil)
		s.systemLog(CompGateway, "gateway ready on %s in %s", gw.URL(), since(t0))
		// the gateway learns instances from supervisor events
		bctx, bcancel := context.WithCancel(context.WithoutCancel(ctx))
		bg.Add(1)
		go func() { defer bg.Done(); s.bridgeUpstreams(bctx, gw) }()
		stops = append(stops, bcancel)
		// routes follow devstack.yaml without a restart
		wctx, wcancel := context.WithCancel(context.WithoutCancel(ctx))
		bg.Add(1)
		go func() { defer bg.Done(); s.watchConfig(wctx, gw) }()
		stops = append(stops, wcancel)
	}

	// 4. services.
	specs, err := supervisorSpecs(s.cfg, co)
	if err != nil {
		s.failStart(err)
		return err
	}
	sopts := supervisorOptions(s.cfg)
	sopts.Bus, sopts.Logs, sopts.Logger = s.bus, s.logs, s.log.With("component", "supervisor")
	sup, err := supervisor.New(specs, sopts)
	if err != nil {
		s.failStart(err)
		return fmt.Errorf("supervisor: %w", err)
	}
	s.mu.Lock()
	s.sup = sup
	s.mu.Unlock()
	sctx, scancel := context.WithCancel(context.WithoutCancel(ctx))
	supDone := make(chan struct{})
	bg.Add(1)
	go func() {
		defer bg.Done()
		defer close(supDone)
		if err := sup.Run(sctx); err != nil && !errors.Is(err, context.Canceled) {
			errc <- fmt.Errorf("supervisor: %w", err)
		}
	}()
	stops = append(stops, func() {
		s.bus.Notify("info", "stopping services")
		scancel()
		<-supDone
	})
	close(s.infraReady)

	select {
	case <-ctx.Done():
	case err = <-errc:
		s.bus.Notify("error", err.Error())
	}
	s.bus.Notify("info", "stopping")
	return err // the deferred stops run now, then bg.Wait

}

// watchDatabase reports a database server that exits while the stack runs (not when it is stopped).
func (s *Stack) watchDatabase(ctx context.Context, done <-chan struct{}, errf func() error) {
	select {
	case <-ctx.Done():
		return
	case <-done:
	}
	if ctx.Err() != nil || s.stopping.Load() {
		return
	}
	err := errf()
	msg := "postgres exited unexpectedly"
	if err != nil {
		msg += ": " + err.Error()
	}
	msg += "; see the postgres lines in the logs, then restart devstack"
	s.component(CompPostgres, event.StatusFailed, "", "", 0, errors.New(msg))
	s.systemLog(CompPostgres, "%s", msg)
	s.bus.Notify("error", msg)
}

func (s *Stack) failStart(err error) {
	s.startErr = err
	s.bus.Notify("error", err.Error())
	select {
	case <-s.infraReady:
	default:
		close(s.infraReady)
	}
}

// waitStarted waits until the gateway listens, its Run fails, or ctx ends.
func waitStarted(ctx context.Context, started <-chan struct{}, errc chan error) error {
	select {
	case <-started:
		return nil
	case err := <-errc:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// StartErr is why the stack failed to start (infrastructure, not a service), or nil. Valid once
// WaitReady has returned.
func (s *Stack) StartErr() error {
	select {
	case <-s.infraReady:
		return s.startErr
	default:
		return nil
	}
}

// WaitReady blocks until the infrastructure is up and every service is ready (or completed), the
// stack fails to start, a service fails, or ctx ends.
func (s *Stack) WaitReady(ctx context.Context) error {
	select {
	case <-s.infraReady:
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-s.done:
		if s.startErr != nil {
			return s.startErr
		}
		return errors.New("stack stopped before it was ready")
	}
	if s.startErr != nil {
		return s.startErr
	}
	return s.sup.WaitReady(ctx)
}

// bridgeUpstreams feeds the gateway the ready instances of every service, from supervisor events.
func (s *Stack) bridgeUpstreams(ctx context.Context, gw *proxy.Gateway) {
	last := map[string]string{}
	apply := func(sv event.Service) {
		ups := make([]proxy.Upstream, 0, len(sv.Instances))
		var key strings.Builder
		for _, in := range sv.Instances {
			if in.Port == 0 {
				continue
			}
			id := fmt.Sprintf("%s-%d.%d", sv.Name, in.Replica, in.Generation)
			ready := in.Ready && (in.Status == event.StatusReady)
			ups = append(ups, proxy.Upstream{ID: id, Addr: hostPort("127.0.0.1", in.Port), Ready: ready})
			fmt.Fprintf(&key, "%s=%d/%v;", id, in.Port, ready)
		}
		why := noneComing(sv)
		key.WriteString(why)
		if last[sv.Name] == key.String() {
			return
		}
		last[sv.Name] = key.String()
		gw.SetUpstreams(sv.Name, ups)
		gw.SetNoneComing(sv.Name, why)
	}
	s.bus.Follow(ctx, 1024, func(ev event.Event) {
		if ev.Kind == event.KindService && ev.Service != nil {
			apply(*ev.Service)
		}
	})
}

// noneComing says why no instance of sv will become ready without a user's action (it failed for
// good, was stopped or completed), or "" while one may still come.
func noneComing(sv event.Service) string {
	switch sv.Status {
	case event.StatusFailed, event.StatusStopped, event.StatusCompleted:
	default:
		return ""
	}
	for _, in := range sv.Instances {
		switch in.Status {
		case event.StatusStarting, event.StatusReady, event.StatusBackoff:
			return ""
		}
	}
	return "it " + string(sv.Status)
}

// ensureGitignore keeps the state directory out of the user's git.
func ensureGitignore(dir string) {
	p := filepath.Join(dir, ".gitignore")
	if _, err := os.Stat(p); err == nil {
		return
	}
	_ = os.WriteFile(p, []byte("# devstack state: data, logs, certificates\n*\n"), 0o600)
}

// Addrs summarises where things listen, for the CLI's ready banner.
func (s *Stack) Addrs() map[string]string {
	st := s.bus.Snapshot()
	out := map[string]string{}
	for _, c := range st.Components {
		if c.Addr != "" {
			out[c.Name] = c.Addr
		}
	}
	return out
}

// DatabaseURL is the URL of database db (the superuser's default database for ""), or "" without postgres.
func (s *Stack) DatabaseURL(db string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return ""
	}
	if db == "" {
		db = "postgres"
	}
	return s.db.URL(db)
}
