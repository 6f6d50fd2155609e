package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/devstack-dev/devstack/internal/broker"
	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/postgres"
	"github.com/devstack-dev/devstack/internal/stack"
)

// sourceInfra picks each component's Infra from broker.source and postgres.source; --containers turns the
// embedded ones into containers. Docker is asked for only when a component runs in it.
func (a *App) sourceInfra(ctx context.Context, cfg *config.Config, containers bool, logger *slog.Logger) (stack.Infra, error) {
	var docker stack.Infra
	if stack.NeedsContainers(cfg, containers) {
		var err error
		if docker, err = containerInfra(ctx, cfg, logger); err != nil {
			return nil, err
		}
	}
	src, err := stack.SourceInfra(cfg, containers, docker)
	if err != nil {
		return nil, err
	}
	return src.Infra(), nil
}

// brokerTarget is where the broker commands connect and with which SASL/TLS: an external broker from
// devstack.yaml (when --brokers is not given), else addrs() in plaintext.
func (f *brokerFlags) brokerTarget(ctx context.Context, app *App) (addrs []string, sec broker.Security, external bool, err error) {
	if f.brokers == "" {
		if cfg, cerr := app.Config(); cerr == nil && cfg.BrokerEnabled() && cfg.BrokerExternal() {
			return stack.BrokerBootstrap(cfg), stack.BrokerSecurity(cfg), true, nil
		}
	}
	addrs, err = f.addrs(ctx, app)
	return addrs, broker.Security{}, false, err
}

// externalPG is the external server of postgres.external.admin_url.
func externalPG(cfg *config.Config) (pgConn, error) {
	ci, err := postgres.ParseURL(cfg.Postgres.External.AdminURL)
	if err != nil {
		return pgConn{}, fmt.Errorf("postgres.external.admin_url in %s: %w", cfg.Path, err)
	}
	return pgConn{Port: ci.Port, User: ci.User, ext: &ci}, nil
}

// host is where psql connects: the external server, else the stack's on loopback.
func (p pgConn) host() string {
	if p.ext != nil {
		return p.ext.Host
	}
	return "127.0.0.1"
}

func (p pgConn) sslMode() string {
	if p.ext != nil && p.ext.SSLMode != "" {
		return p.ext.SSLMode
	}
	return "disable"
}

// addr is host:port of the server.
func (p pgConn) addr() string { return net.JoinHostPort(p.host(), strconv.Itoa(p.Port)) }

// describe names the server in questions: an external one says so (its data is not devstack's).
func (p pgConn) describe() string {
	if p.ext != nil {
		return "the external server " + p.addr()
	}
	return p.addr()
}
