// Package stack runs one devstack.yaml: the control API, the broker, the schema registry, the database, the
// gateway and the services' supervisor, each a Component with one lifecycle (start, ready with its addresses, stop) that
// Run starts in dependency order and stops in reverse. It also implements the Controller that UIs and the
// CLI use, and translates the config into each part's options (translate.go).
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

	"github.com/devstack-dev/devstack/internal/broker"
	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/fsperm"
	"github.com/devstack-dev/devstack/internal/postgres"
	"github.com/devstack-dev/devstack/internal/proxy"
	"github.com/devstack-dev/devstack/internal/schemareg"
	"github.com/devstack-dev/devstack/internal/supervisor"
	"github.com/devstack-dev/devstack/internal/telemetry"
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
	dbURL map[string]string // service -> DATABASE_URL
	gw    *proxy.Gateway
	reg   *schemareg.Registry
	sup   *supervisor.Supervisor
	spans *telemetry.Store    // nil without telemetry
	otlp  *telemetry.Receiver // nil without telemetry
	// otlpMetrics keeps the services' OTLP metrics (nil without telemetry).
	otlpMetrics *telemetry.MetricStore

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
	if o.Infra == nil { // per component from broker.source and postgres.source
		src, err := SourceInfra(o.Config, false, Containers{Stack: o.Config.Name, KafkaImage: o.Config.Broker.Image, PostgresImage: o.Config.Postgres.Image, Logger: o.Logger})
		if err != nil {
			return nil, err
		}
		o.Infra = src.Infra()
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

// Run starts every component (see components), serves until ctx ends or a component fails, then stops
// them in reverse order and returns. A start failure is returned (and what had started is stopped).
func (s *Stack) Run(ctx context.Context) (err error) {
	defer close(s.done)

	// Logs, Kafka records and keys live there: private to the owner, also when an older devstack left
	// it world-readable. PostgreSQL's data dir keeps the modes its own tools set.
	warn, err := fsperm.Private(s.cfg.StateDirPath(), "postgres")
	if err != nil {
		err = fmt.Errorf("create state dir: %w", err)
		s.failStart(err)
		return err
	}
	if warn != nil {
		s.log.Warn("state dir: some files stay readable by other users; fix their owner or mode", "err", warn)
	}
	ensureGitignore(s.cfg.StateDirPath())

	lc := newLifecycle(s.components(), s.reportComponent, func(name string, err error) {
		s.log.Warn("stop "+name, "err", err)
	})
	defer func() {
		s.stopping.Store(true)
		lc.stop()
	}()
	if err := lc.start(ctx); err != nil {
		if ctx.Err() != nil {
			s.startErr = err
			s.closeInfraReady()
		} else {
			s.failStart(err)
		}
		return err
	}
	s.closeInfraReady()

	select {
	case <-ctx.Done():
	case err = <-lc.Failed():
		s.bus.Notify("error", err.Error())
	}
	s.bus.Notify("info", "stopping")
	return err // the deferred stop runs now
}

// reportComponent puts a component's status on the bus, and a line in the log when it is ready.
func (s *Stack) reportComponent(c event.Component) {
	s.bus.SetComponent(c)
	if c.Status == event.StatusReady && c.Addr != "" {
		s.systemLog(c.Name, "%s ready on %s in %s", c.Name, c.Addr, c.StartedIn)
	}
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
	s.closeInfraReady()
}

func (s *Stack) closeInfraReady() {
	select {
	case <-s.infraReady:
	default:
		close(s.infraReady)
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
