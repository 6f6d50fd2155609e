package stack

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"

	_ "github.com/lib/pq" // PostgreSQL driver for provisioning databases in the container

	"github.com/devstack-dev/devstack/internal/broker"
	"github.com/devstack-dev/devstack/internal/containers"
	"github.com/devstack-dev/devstack/internal/postgres"
)

// Containers runs real Kafka and PostgreSQL in Docker instead of the embedded ones (--containers).
type Containers struct {
	Stack  string
	Logger *slog.Logger
}

// StartKafka implements Infra: a real Kafka container, then the declared topics through the admin API.
func (c Containers) StartKafka(ctx context.Context, o broker.Options) (Kafka, error) {
	port := o.Port
	if port == 0 {
		port = 9092
	}
	k, err := containers.StartKafka(ctx, containers.KafkaOptions{
		Stack: c.Stack, Port: port, AutoCreate: o.AutoCreate, Partitions: o.DefaultPartitions,
		RetentionMs: o.RetentionTime.Milliseconds(), RetentionBytes: o.RetentionBytes, Logger: c.Logger,
	})
	if err != nil {
		return nil, err
	}
	admin, err := broker.NewAdmin([]string{k.Addr()}, c.Logger)
	if err != nil {
		k.Close()
		return nil, err
	}
	defer admin.Close()
	if err := admin.EnsureTopics(ctx, o.Topics); err != nil {
		k.Close()
		return nil, fmt.Errorf("create declared topics: %w", err)
	}
	return k, nil
}

// StartDatabase implements Infra: a real PostgreSQL container with per-service databases.
func (c Containers) StartDatabase(ctx context.Context, o postgres.Options) (Database, error) {
	port := o.Port
	if port == 0 {
		port = 5433
	}
	p, err := containers.StartPostgres(ctx, containers.PostgresOptions{Stack: c.Stack, Port: port, User: o.User, Password: o.Password, Logger: c.Logger})
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("postgres", p.SuperuserURL("postgres"))
	if err != nil {
		p.Stop()
		return nil, err
	}
	return &containerDB{p: p, db: db, init: map[string][]string{}}, nil
}

type containerDB struct {
	p    *containers.Postgres
	db   *sql.DB
	init map[string][]string
}

func (d *containerDB) Port() int            { return d.p.Port() }
func (d *containerDB) URL(db string) string { return d.p.SuperuserURL(db) }

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// EnsureDatabase creates role name (password name) owning database name, running initSQL once on creation.
func (d *containerDB) EnsureDatabase(ctx context.Context, name string, initSQL []string) (string, error) {
	d.init[name] = initSQL
	var exists bool
	if err := d.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		if _, err := d.db.ExecContext(ctx, "CREATE ROLE "+quoteIdent(name)+" LOGIN PASSWORD "+quoteLiteral(name)); err != nil {
			return "", fmt.Errorf("create role %s: %w", name, err)
		}
	}
	if err := d.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		if _, err := d.db.ExecContext(ctx, "CREATE DATABASE "+quoteIdent(name)+" OWNER "+quoteIdent(name)); err != nil {
			return "", fmt.Errorf("create database %s: %w", name, err)
		}
		for _, f := range initSQL {
			b, err := os.ReadFile(f)
			if err != nil {
				return "", fmt.Errorf("init SQL for %s: %w", name, err)
			}
			one, err := sql.Open("postgres", d.p.SuperuserURL(name))
			if err != nil {
				return "", err
			}
			// as the embedded server does: init runs as the database's own role, so the service owns what it creates
			_, err = one.ExecContext(ctx, "SET ROLE "+quoteIdent(name)+";\n"+string(b))
			one.Close()
			if err != nil {
				return "", fmt.Errorf("init SQL %s for %s: %w", f, name, err)
			}
		}
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(name, name), Host: "127.0.0.1:" + strconv.Itoa(d.p.Port()), Path: "/" + name, RawQuery: "sslmode=disable"}
	return u.String(), nil
}

// ResetDatabase drops and recreates a database.
func (d *containerDB) ResetDatabase(ctx context.Context, name string) error {
	if _, err := d.db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(name)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	_, err := d.EnsureDatabase(ctx, name, d.init[name])
	return err
}

func (d *containerDB) Stop() error {
	d.db.Close()
	return d.p.Stop()
}
