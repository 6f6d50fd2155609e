package cli

import (
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/control"
)

// portRef is one port of devstack.yaml the stack's own components listen on.
type portRef struct {
	key  string // config key, e.g. broker.port
	host string // where the component binds
	p    *int
}

// componentPorts are the ports of the enabled components: control API, broker, PostgreSQL, schema
// registry, gateway, telemetry receiver.
// Services' own ports (services.NAME.port) are the user's and are left alone, and so are an external
// broker's or PostgreSQL's (source: external: devstack listens on nothing for them).
func componentPorts(cfg *config.Config) []portRef {
	local := "127.0.0.1"
	or := func(h string) string {
		if h == "" {
			return local
		}
		return h
	}
	refs := []portRef{{"control.port", local, &cfg.Control.Port}}
	if cfg.BrokerEnabled() && !cfg.BrokerExternal() {
		refs = append(refs, portRef{"broker.port", or(cfg.Broker.Host), &cfg.Broker.Port})
	}
	if cfg.PostgresEnabled() && !cfg.PostgresExternal() {
		refs = append(refs, portRef{"postgres.port", local, &cfg.Postgres.Port})
	}
	if cfg.RegistryEnabled() {
		refs = append(refs, portRef{"registry.port", local, &cfg.Registry.Port})
	}
	if cfg.GatewayEnabled() {
		refs = append(refs, portRef{"gateway.http_port", or(cfg.Gateway.Host), &cfg.Gateway.HTTPPort})
		if cfg.Gateway.HTTPSPort > 0 {
			refs = append(refs, portRef{"gateway.https_port", or(cfg.Gateway.Host), &cfg.Gateway.HTTPSPort})
		}
	}
	if cfg.TelemetryEnabled() {
		refs = append(refs, portRef{"telemetry.http_port", local, &cfg.Telemetry.HTTPPort})
		if cfg.Telemetry.GRPCPort >= 0 { // -1: no gRPC listener
			refs = append(refs, portRef{"telemetry.grpc_port", local, &cfg.Telemetry.GRPCPort})
		}
	}
	return refs
}

// portMap is componentPorts as key -> port (what the registry of running stacks records).
func portMap(cfg *config.Config) map[string]int {
	m := map[string]int{}
	for _, r := range componentPorts(cfg) {
		m[r.key] = *r.p
	}
	return m
}

// busyPorts are the component ports something already listens on.
func busyPorts(cfg *config.Config) []portRef {
	var busy []portRef
	for _, r := range componentPorts(cfg) {
		if *r.p <= 0 {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(r.host, strconv.Itoa(*r.p)))
		if err != nil {
			busy = append(busy, r)
			continue
		}
		ln.Close()
	}
	return busy
}

// useFreePorts rewrites every component port of cfg to a free one (config owns the values; the
// components get them explicitly as always), keeps them for the stack's reloads of devstack.yaml, and
// returns what it chose.
func (a *App) useFreePorts(cfg *config.Config) ([]portRef, error) {
	refs, err := freePortsFor(cfg)
	if err != nil {
		return nil, err
	}
	chosen := portMap(cfg)
	a.addOverride(func(c *config.Config) {
		for _, r := range componentPorts(c) {
			if p, ok := chosen[r.key]; ok {
				*r.p = p
			}
		}
	})
	return refs, nil
}

func freePortsFor(cfg *config.Config) ([]portRef, error) {
	refs := componentPorts(cfg)
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	// every listener stays open until all ports are chosen, so no two components get the same one
	for _, r := range refs {
		ln, err := net.Listen("tcp", net.JoinHostPort(r.host, "0"))
		if err != nil {
			return nil, fmt.Errorf("find a free port for %s on %s: %w", r.key, r.host, err)
		}
		lns = append(lns, ln)
		*r.p = ln.Addr().(*net.TCPAddr).Port
	}
	return refs, nil
}

func describePorts(refs []portRef) string {
	parts := make([]string, len(refs))
	for i, r := range refs {
		parts[i] = fmt.Sprintf("%s %d", r.key, *r.p)
	}
	return strings.Join(parts, ", ")
}

// portHolders says which running devstack stacks (from the registry) hold the busy ports.
func portHolders(busy []portRef) string {
	entries, _ := control.Running()
	var held []string
	seen := map[int]bool{}
	for _, r := range busy {
		for _, e := range entries {
			for _, p := range e.Ports {
				if p == *r.p && !seen[e.PID] {
					seen[e.PID] = true
					held = append(held, fmt.Sprintf("the devstack stack %s in %s (pid %d)", e.Name, e.Dir, e.PID))
				}
			}
		}
	}
	if len(held) == 0 {
		return "another program (no running devstack stack of yours has them; `devstack ls` lists those)"
	}
	sort.Strings(held)
	return strings.Join(held, " and ")
}

// runningHere says whether the stack of cfg's state directory already runs, and its pid.
func runningHere(cfg *config.Config) (control.Entry, bool) {
	entries, _ := control.Running()
	for _, e := range entries {
		if filepath.Clean(e.StateDir) == filepath.Clean(cfg.StateDirPath()) {
			return e, true
		}
	}
	if _, err := control.Dial(cfg.StateDirPath()); err == nil {
		return control.Entry{Dir: cfg.Dir, StateDir: cfg.StateDirPath()}, true
	}
	return control.Entry{}, false
}

// checkPorts runs before `up` builds its stack. The stack of this directory already running is an
// error. When another stack (a second checkout or worktree) or another program holds a component port,
// it says who, then moves every component to free ports when freePorts is set or the user agrees on a
// terminal; otherwise it fails with what to do.
func (a *App) checkPorts(cfg *config.Config, freePorts, interactive bool) error {
	if e, ok := runningHere(cfg); ok {
		pid := ""
		if e.PID > 0 {
			pid = fmt.Sprintf(" (pid %d)", e.PID)
		}
		return fmt.Errorf("the stack of %s is already running%s: `devstack status` shows it; stop it before starting it again", cfg.Path, pid)
	}
	busy := busyPorts(cfg)
	if len(busy) == 0 {
		return nil
	}
	why := fmt.Sprintf("%s of %s %s taken by %s", describePorts(busy), cfg.Path, plural(len(busy), "is", "are"), portHolders(busy))
	if !freePorts {
		if !interactive {
			return fmt.Errorf("%s; run `devstack up --free-ports` to run this stack on free ports, or stop the other one or change the ports in %s", why, cfg.Path)
		}
		fmt.Fprintf(a.Stderr, "devstack: %s.\nRun this stack on free ports instead (services get them through KAFKA_BROKERS, DATABASE_URL, GATEWAY_URL, SCHEMA_REGISTRY_URL)? [Y/n] ", why)
		var answer string
		_, _ = fmt.Fscanln(a.Stdin, &answer)
		switch strings.ToLower(strings.TrimSpace(answer)) {
		case "", "y", "yes":
		default:
			return fmt.Errorf("%s; not started (`devstack up --free-ports` takes free ports without asking)", why)
		}
	}
	refs, err := a.useFreePorts(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Stderr, "devstack: %s; using free ports: %s\n", why, describePorts(refs))
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// register records the running stack in the per-user registry (`devstack ls`); the returned function
// removes it. A registry that cannot be written only costs `ls` and the port-holder hints: a warning.
func (a *App) register(cfg *config.Config) func() {
	unregister, err := control.Register(control.Entry{
		Name: cfg.Name, Dir: cfg.Dir, Config: cfg.Path, StateDir: cfg.StateDirPath(), Ports: portMap(cfg),
	})
	if err != nil {
		fmt.Fprintln(a.Stderr, "warning:", err)
		return func() {}
	}
	return unregister
}
