package stack

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/devstack-dev/devstack/internal/broker"
	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/proxy"
)

var _ control.Controller = (*Stack)(nil)

// Subscribe implements control.Controller.
func (s *Stack) Subscribe(ctx context.Context) (event.State, <-chan event.Event, error) {
	st, ch, cancel := s.bus.Subscribe(4096)
	go func() {
		select {
		case <-ctx.Done():
		case <-s.done:
		}
		cancel()
	}()
	return st, ch, nil
}

// Snapshot implements control.Controller.
func (s *Stack) Snapshot(context.Context) (event.State, error) { return s.bus.Snapshot(), nil }

// Logs implements control.Controller.
func (s *Stack) Logs(ctx context.Context, q control.LogQuery) ([]event.LogLine, <-chan event.LogLine, error) {
	if q.Source != "" && !s.knownSource(q.Source) {
		return nil, nil, fmt.Errorf("no service or component named %q: %w", q.Source, control.ErrNotFound)
	}
	filter := event.SourceFilter(q.Source)
	if !q.Follow {
		return s.logs.Tail(q.Tail, filter), nil, nil
	}
	past, ch, cancel := s.logs.Subscribe(q.Tail, 8192, filter)
	go func() {
		select {
		case <-ctx.Done():
		case <-s.done:
		}
		cancel()
	}()
	return past, ch, nil
}

func (s *Stack) knownSource(name string) bool {
	if _, ok := s.cfg.Services[name]; ok {
		return true
	}
	switch name {
	case CompBroker, CompPostgres, CompGateway, CompControl, CompRegistry, "devstack":
		return true
	}
	return false
}

func (s *Stack) service(name string) error {
	if sv, ok := s.cfg.Services[name]; !ok || sv.Disabled {
		return fmt.Errorf("no service named %q in %s: %w", name, s.cfg.Path, control.ErrNotFound)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sup == nil {
		return errors.New("services are not started yet")
	}
	return nil
}

// Restart implements control.Controller.
func (s *Stack) Restart(ctx context.Context, name string) error {
	if err := s.service(name); err != nil {
		return err
	}
	return s.sup.Restart(ctx, name)
}

// Stop implements control.Controller.
func (s *Stack) Stop(ctx context.Context, name string) error {
	if err := s.service(name); err != nil {
		return err
	}
	return s.sup.Stop(ctx, name)
}

// Start implements control.Controller.
func (s *Stack) Start(ctx context.Context, name string) error {
	if err := s.service(name); err != nil {
		return err
	}
	return s.sup.Start(ctx, name)
}

// Rebuild implements control.Controller.
func (s *Stack) Rebuild(ctx context.Context, name string) error {
	if err := s.service(name); err != nil {
		return err
	}
	return s.sup.Rebuild(ctx, name)
}

func (s *Stack) brokerAdmin() (*broker.Admin, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admin == nil {
		if !s.cfg.BrokerEnabled() {
			return nil, errors.New("the broker is disabled in devstack.yaml (broker.enabled: false)")
		}
		return nil, errors.New("the broker is not started yet")
	}
	return s.admin, nil
}

// Topics implements control.Controller.
func (s *Stack) Topics(ctx context.Context) ([]event.TopicInfo, error) {
	a, err := s.brokerAdmin()
	if err != nil {
		return nil, err
	}
	return a.Topics(ctx)
}

// Groups implements control.Controller.
func (s *Stack) Groups(ctx context.Context) ([]event.GroupInfo, error) {
	a, err := s.brokerAdmin()
	if err != nil {
		return nil, err
	}
	return a.Groups(ctx)
}

// ResetGroup implements control.Controller.
func (s *Stack) ResetGroup(ctx context.Context, r control.ResetRequest) error {
	a, err := s.brokerAdmin()
	if err != nil {
		return err
	}
	return a.ResetGroup(ctx, r.Group, r.Topic, r.To, r.Offset)
}

// Messages implements control.Controller.
func (s *Stack) Messages(ctx context.Context, q control.MessageQuery) (<-chan event.Message, error) {
	a, err := s.brokerAdmin()
	if err != nil {
		return nil, err
	}
	return a.Messages(ctx, q)
}

// Produce implements control.Controller.
func (s *Stack) Produce(ctx context.Context, topic string, msgs []event.Message) error {
	a, err := s.brokerAdmin()
	if err != nil {
		return err
	}
	return a.Produce(ctx, topic, msgs)
}

// Routes implements control.Controller.
func (s *Stack) Routes(context.Context) ([]event.RouteStats, error) {
	s.mu.Lock()
	gw := s.gw
	s.mu.Unlock()
	if gw == nil {
		return nil, nil
	}
	return gw.Routes(), nil
}

// configWatcher watches the directory of devstack.yaml (editors replace the file on save). It is set up
// before the gateway is reported ready, so a save right after "ready" is not missed. nil: not watched.
func (s *Stack) configWatcher() *fsnotify.Watcher {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		s.log.Warn("cannot watch devstack.yaml; route changes need a restart", "err", err)
		return nil
	}
	if err := w.Add(s.cfg.Dir); err != nil {
		w.Close()
		s.log.Warn("cannot watch devstack.yaml; route changes need a restart", "err", err)
		return nil
	}
	return w
}

// watchConfig reloads the gateway's routes when devstack.yaml changes, from w's events; it closes w.
// Other changes need a restart, which it says.
func (s *Stack) watchConfig(ctx context.Context, gw *proxy.Gateway, w *fsnotify.Watcher) {
	defer w.Close()
	var timer *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if ev.Name != s.cfg.Path || ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) == 0 {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(200 * time.Millisecond)
			} else {
				timer.Reset(200 * time.Millisecond)
			}
			fire = timer.C
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			s.log.Warn("watch devstack.yaml", "err", err)
		case <-fire:
			fire = nil
			s.reloadConfig(gw)
		}
	}
}

func (s *Stack) reloadConfig(gw *proxy.Gateway) {
	name := filepath.Base(s.cfg.Path) // the file's real name: -c may point at any file
	nc, err := config.Load(s.cfg.Path)
	if err != nil {
		s.bus.Notify("error", name+" changed but is invalid; keeping the running config:\n"+err.Error())
		s.systemLog("devstack", "%s changed but is invalid; keeping the running config: %v", name, err)
		return
	}
	if s.opts.Override != nil {
		s.opts.Override(nc)
	}
	var restart []string
	if err := gw.Reload(gatewayConfig(nc)); errors.Is(err, proxy.ErrRestartRequired) {
		restart = append(restart, "gateway host/ports")
	} else if err != nil {
		s.bus.Notify("error", "gateway reload failed; keeping the running routes: "+err.Error())
		s.systemLog(CompGateway, "reload failed; keeping the running routes: %v", err)
		return
	}
	s.systemLog(CompGateway, "routes reloaded from %s (%d routes)", s.cfg.Path, len(nc.Gateway.Routes))
	s.bus.Notify("info", "gateway routes reloaded")
	changed := restart
	if !reflect.DeepEqual(nc.Services, s.cfg.Services) {
		changed = append(changed, "services")
	}
	if !reflect.DeepEqual(nc.Broker, s.cfg.Broker) {
		changed = append(changed, "broker")
	}
	if !reflect.DeepEqual(nc.Postgres, s.cfg.Postgres) {
		changed = append(changed, "postgres")
	}
	if !reflect.DeepEqual(nc.Telemetry, s.cfg.Telemetry) {
		changed = append(changed, "telemetry")
	}
	// registry.subjects follow devstack.yaml (the registry component watches it); the rest needs a restart
	ro, rn := s.cfg.Registry, nc.Registry
	ro.Subjects, rn.Subjects = nil, nil
	if !reflect.DeepEqual(ro, rn) {
		changed = append(changed, "registry.enabled, port or compatibility")
	}
	if len(changed) > 0 {
		msg := fmt.Sprintf("%s: changes to %s take effect when devstack is restarted (routes were reloaded now)", name, strings.Join(changed, ", "))
		s.systemLog("devstack", "%s", msg)
		s.bus.Notify("warn", msg)
	}
}
