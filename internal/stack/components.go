package stack

import (
	"context"
	"fmt"
	"sync"

	"github.com/devstack-dev/devstack/internal/broker"
	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/postgres"
	"github.com/devstack-dev/devstack/internal/proxy"
	"github.com/devstack-dev/devstack/internal/supervisor"
)

// CompServices names the services' component in errors (the services report on the bus one by one).
const CompServices = "services"

// components are the parts this stack runs, in the order they are shown. A new part is one more
// Component here, with After naming what it needs ready first (the schema registry comes after the
// broker); the services start after every part.
func (s *Stack) components() []Component {
	var cs []Component
	if !s.opts.NoControl {
		// first, so `devstack status` sees a starting stack (and a second devstack on the same port fails
		// before it starts anything)
		cs = append(cs, s.controlComponent())
	}
	if s.cfg.TelemetryEnabled() {
		// before the broker and the gateway, which send their spans to its store
		cs = append(cs, s.telemetryComponent())
	}
	if s.cfg.BrokerEnabled() {
		cs = append(cs, s.brokerComponent(s.infra.StartKafka))
	}
	if s.cfg.BrokerEnabled() && s.cfg.RegistryEnabled() {
		cs = append(cs, s.registryComponent())
	}
	if s.cfg.PostgresEnabled() {
		cs = append(cs, s.postgresComponent(s.infra.StartDatabase))
	}
	if s.cfg.GatewayEnabled() {
		cs = append(cs, s.gatewayComponent())
	}
	// the services come last: each learns every part's address
	svc := s.servicesComponent()
	for _, c := range cs {
		svc.After = append(svc.After, c.Name)
	}
	return append(cs, svc)
}

// controlComponent serves the control API that the TUI and CLI use.
func (s *Stack) controlComponent() Component {
	return Component{Name: CompControl, Start: func(context.Context) (*Running, error) {
		srv, err := control.Listen(hostPort("127.0.0.1", s.cfg.Control.Port), s.cfg.StateDirPath(), s)
		if err != nil {
			return nil, err
		}
		failed, stop := serve(srv.Serve)
		return &Running{Addr: srv.Addr(), Failed: failed, Stop: stop}, nil
	}}
}

// brokerComponent runs the Kafka-compatible broker that start starts (an Infra's StartKafka).
func (s *Stack) brokerComponent(start func(context.Context, broker.Options) (Kafka, error)) Component {
	return Component{Name: CompBroker, After: []string{CompControl, CompTelemetry}, Start: func(ctx context.Context) (*Running, error) {
		o := brokerOptions(s.cfg)
		o.Logger = s.log.With("component", CompBroker)
		o.Spans = s.spanSink()
		k, err := start(ctx, o)
		if err != nil {
			return nil, err
		}
		admin, err := newStackAdmin(s.cfg, k, s.log.With("component", CompBroker))
		if err != nil {
			k.Close()
			return nil, fmt.Errorf("broker admin: %w", err)
		}
		s.mu.Lock()
		s.kafka, s.admin = k, admin
		s.mu.Unlock()
		detail := count(len(o.Topics), "topic", "topics") + " declared"
		if _, embedded := k.(*broker.Broker); !embedded {
			// says which Kafka runs (and so why no broker spans show: only the embedded broker makes them)
			where := "Kafka in Docker"
			if s.cfg.BrokerExternal() {
				where = "external Kafka"
			}
			detail = where + ", " + detail
		}
		return &Running{
			Addr:   k.Addr(),
			Detail: detail,
			Stop: func() error {
				admin.Close()
				return k.Close()
			},
		}, nil
	}}
}

// postgresComponent runs the PostgreSQL that start starts (an Infra's StartDatabase), with the databases
// devstack.yaml declares and one per service that names one.
func (s *Stack) postgresComponent(start func(context.Context, postgres.Options) (Database, error)) Component {
	return Component{Name: CompPostgres, After: []string{CompControl}, Start: func(ctx context.Context) (*Running, error) {
		o := postgresOptions(s.cfg)
		o.Logger = s.log.With("component", CompPostgres)
		o.LogWriter = func(line string) { s.logs.Append(event.LogLine{Source: CompPostgres, Stream: "stderr", Text: line}) }
		db, err := start(ctx, o)
		if err != nil {
			return nil, err
		}
		// a server that exits on its own is reported (not when it is stopped)
		wctx, wcancel := context.WithCancel(context.Background())
		var watch sync.WaitGroup
		if w, ok := db.(interface {
			Done() <-chan struct{}
			Err() error
		}); ok {
			watch.Go(func() { s.watchDatabase(wctx, w.Done(), w.Err) })
		}
		stop := func() error {
			wcancel()
			err := db.Stop()
			watch.Wait()
			return err
		}
		urls, err := s.ensureDatabases(ctx, db)
		if err != nil {
			stop()
			return nil, err
		}
		s.mu.Lock()
		s.db, s.dbURL = db, urls
		s.mu.Unlock()
		return &Running{
			Addr:   databaseAddr(db),
			Detail: count(len(urls)+len(s.cfg.Postgres.Databases), "database", "databases"),
			Stop:   stop,
		}, nil
	}}
}

// ensureDatabases creates postgres.databases and the services' databases; it returns each service's URL.
func (s *Stack) ensureDatabases(ctx context.Context, db Database) (map[string]string, error) {
	for _, d := range s.cfg.Postgres.Databases {
		var init []string
		for _, f := range d.Init {
			init = append(init, absPath(s.cfg, f))
		}
		if _, err := db.EnsureDatabase(ctx, d.Name, init); err != nil {
			return nil, fmt.Errorf("postgres: create database %q (postgres.databases): %w", d.Name, err)
		}
	}
	urls := map[string]string{}
	for _, name := range s.cfg.ServiceSeq {
		sv := s.cfg.Services[name]
		if sv == nil || sv.Disabled || sv.Database == "" {
			continue
		}
		u, err := db.EnsureDatabase(ctx, sv.Database, nil)
		if err != nil {
			return nil, fmt.Errorf("postgres: create database %q for service %s: %w", sv.Database, name, err)
		}
		urls[name] = u
	}
	return urls, nil
}

// gatewayComponent runs the API gateway; its upstreams follow the services, its routes devstack.yaml.
func (s *Stack) gatewayComponent() Component {
	return Component{Name: CompGateway, After: []string{CompControl, CompTelemetry}, Start: func(ctx context.Context) (*Running, error) {
		sm := newServiceMetrics(s.bus)
		gw, err := proxy.New(gatewayConfig(s.cfg), proxy.Options{Bus: s.bus, Logs: s.logs, Logger: s.log.With("component", CompGateway),
			Collectors: s.collectors(sm), Spans: s.spanSink()})
		if err != nil {
			return nil, err
		}
		failed, stopRun := serve(gw.Run)
		select {
		case <-gw.Started():
		case err := <-failed:
			stopRun()
			return nil, err
		case <-ctx.Done():
			stopRun()
			return nil, context.Cause(ctx)
		}
		s.mu.Lock()
		s.gw = gw
		s.mu.Unlock()
		// the gateway learns instances from supervisor events, and routes follow devstack.yaml
		fctx, fcancel := context.WithCancel(context.Background())
		var followers sync.WaitGroup
		followers.Go(func() { s.bridgeUpstreams(fctx, gw) })
		followers.Go(func() { s.bus.Follow(fctx, 1024, sm.observe) })
		if w := s.configWatcher(); w != nil {
			followers.Go(func() { s.watchConfig(fctx, gw, w) })
		}
		detail := fmt.Sprintf("%d routes", len(s.cfg.Gateway.Routes))
		if a := gw.HTTPSAddr(); a != "" {
			detail += ", https " + a
		}
		return &Running{
			Addr:   gw.Addr(),
			Detail: detail,
			Failed: failed,
			Stop: func() error {
				fcancel()
				followers.Wait()
				return stopRun()
			},
		}, nil
	}}
}

// servicesComponent runs the user's services under the supervisor; components makes it come after every
// other part, whose addresses the services get in their environment.
func (s *Stack) servicesComponent() Component {
	return Component{Name: CompServices, Hidden: true,
		Start: func(context.Context) (*Running, error) {
			s.mu.Lock()
			co := coordinates{dbURL: s.dbURL}
			if s.kafka != nil {
				co.kafka = s.kafka.Addr()
			}
			if s.gw != nil {
				co.gatewayURL = s.gw.URL()
			}
			if s.reg != nil {
				co.registryURL = s.reg.URL()
			}
			if s.otlp != nil {
				co.otlpEndpoint = "http://" + s.otlp.HTTPAddr()
			}
			s.mu.Unlock()
			if co.dbURL == nil {
				co.dbURL = map[string]string{}
			}
			specs, err := supervisorSpecs(s.cfg, co)
			if err != nil {
				return nil, err
			}
			sopts := supervisorOptions(s.cfg)
			sopts.Bus, sopts.Logs, sopts.Logger = s.bus, s.logs, s.log.With("component", "supervisor")
			sup, err := supervisor.New(specs, sopts)
			if err != nil {
				return nil, fmt.Errorf("supervisor: %w", err)
			}
			s.mu.Lock()
			s.sup = sup
			s.mu.Unlock()
			failed, stop := serve(sup.Run)
			return &Running{Failed: failed, Stop: func() error {
				s.bus.Notify("info", "stopping services")
				return stop()
			}}, nil
		}}
}

// count is "1 topic", "3 topics", "0 topics": a component's detail in a user's words.
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
