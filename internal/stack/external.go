package stack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/devstack-dev/devstack/internal/broker"
	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/postgres"
)

// External uses an existing Kafka cluster and PostgreSQL server named in devstack.yaml (source: external).
// devstack creates the declared topics and each service's role and database there, and never starts or
// stops either.
type External struct {
	Config *config.Config
}

// externalWait bounds how long devstack waits for an external cluster or server to answer at start.
const externalWait = 30 * time.Second

// StartKafka implements Infra: checks the cluster answers with the configured SASL/TLS and creates the
// declared topics there.
func (e External) StartKafka(ctx context.Context, o broker.Options) (Kafka, error) {
	addrs := BrokerBootstrap(e.Config)
	if len(addrs) == 0 {
		return nil, errors.New("broker.source is external but broker.external.bootstrap_servers is empty")
	}
	admin, err := broker.NewSecureAdmin(addrs, BrokerSecurity(e.Config), o.Logger)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	if err := waitFor(ctx, externalWait, admin.Ping); err != nil {
		return nil, fmt.Errorf("external Kafka at %s (broker.external in %s) does not answer: %w; check bootstrap_servers, sasl and tls",
			strings.Join(addrs, ","), e.Config.Path, err)
	}
	if err := admin.EnsureTopics(ctx, o.Topics); err != nil {
		return nil, fmt.Errorf("create declared topics on the external Kafka at %s: %w", strings.Join(addrs, ","), err)
	}
	return externalKafka{addrs: addrs}, nil
}

type externalKafka struct{ addrs []string }

// Addr is every bootstrap server, comma-separated (what services get in KAFKA_BROKERS).
func (k externalKafka) Addr() string { return strings.Join(k.addrs, ",") }

// Close does nothing: devstack does not own the cluster.
func (externalKafka) Close() error { return nil }

// StartDatabase implements Infra: connects with postgres.external.admin_url; the databases are created by
// the stack through EnsureDatabase, as for the embedded server.
func (e External) StartDatabase(ctx context.Context, o postgres.Options) (Database, error) {
	ext := e.Config.Postgres.External
	if ext == nil || ext.AdminURL == "" {
		return nil, errors.New("postgres.source is external but postgres.external.admin_url is empty")
	}
	ci, err := postgres.ParseURL(ext.AdminURL)
	if err != nil {
		return nil, fmt.Errorf("postgres.external.admin_url in %s: %w", e.Config.Path, err)
	}
	admin := postgres.NewAdmin(ci)
	if err := waitFor(ctx, externalWait, admin.Ping); err != nil {
		admin.Close()
		return nil, fmt.Errorf("external PostgreSQL at %s as %s (postgres.external.admin_url in %s) does not accept the connection: %w",
			ci.Addr(), ci.User, e.Config.Path, err)
	}
	return &externalDB{ci: ci, admin: admin}, nil
}

type externalDB struct {
	ci    postgres.ConnInfo
	admin *postgres.Admin
}

func (d *externalDB) Port() int { return d.ci.Port }

// Addr is the server's host:port (not 127.0.0.1).
func (d *externalDB) Addr() string { return d.ci.Addr() }

// URL is the admin's URL of database db.
func (d *externalDB) URL(db string) string { return d.ci.URL(d.ci.User, d.ci.Password, db) }

func (d *externalDB) EnsureDatabase(ctx context.Context, name string, initSQL []string) (string, error) {
	return d.admin.EnsureDatabase(ctx, name, initSQL)
}

func (d *externalDB) ResetDatabase(ctx context.Context, name string) error {
	return d.admin.ResetDatabase(ctx, name, d.admin.RememberedInit(name))
}

// Stop closes devstack's connections; the server keeps running.
func (d *externalDB) Stop() error { return d.admin.Close() }

// databaseAddr is where db listens, for the status line.
func databaseAddr(db Database) string {
	if a, ok := db.(interface{ Addr() string }); ok {
		return a.Addr()
	}
	return hostPort("127.0.0.1", db.Port())
}

// waitFor retries check (each attempt bounded by its own timeout) until it succeeds, wait passes or ctx
// ends, and returns the last error.
func waitFor(ctx context.Context, wait time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(500 * time.Millisecond):
		}
	}
}
