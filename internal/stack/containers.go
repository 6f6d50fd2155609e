package stack

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/devstack-dev/devstack/internal/broker"
	"github.com/devstack-dev/devstack/internal/containers"
	"github.com/devstack-dev/devstack/internal/postgres"
)

// Containers runs real Kafka and PostgreSQL in Docker instead of the embedded ones (--containers).
type Containers struct {
	Stack         string
	KafkaImage    string // config broker.image
	PostgresImage string // config postgres.image
	Logger        *slog.Logger
}

// StartKafka implements Infra: a real Kafka container, then the declared topics through the admin API.
func (c Containers) StartKafka(ctx context.Context, o broker.Options) (Kafka, error) {
	// o.Port is config's broker.port as given (config turns 0 into the default before it gets here)
	k, err := containers.StartKafka(ctx, containers.KafkaOptions{
		Stack: c.Stack, Image: c.KafkaImage, Port: o.Port, AutoCreate: o.AutoCreate, Partitions: o.DefaultPartitions,
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

// StartDatabase implements Infra: a real PostgreSQL container with per-service databases, provisioned by
// the same postgres.Admin as the embedded server (roles, CONNECT only for a database's own role, init SQL).
func (c Containers) StartDatabase(ctx context.Context, o postgres.Options) (Database, error) {
	password, err := postgres.EnsurePassword(o, c.Logger)
	if err != nil {
		return nil, err
	}
	p, err := containers.StartPostgres(ctx, containers.PostgresOptions{Stack: c.Stack, Image: c.PostgresImage, Port: o.Port, User: o.User, Password: password, Logger: c.Logger})
	if err != nil {
		return nil, err
	}
	admin, err := containerAdmin(ctx, p.Port(), o.User, password)
	if err != nil {
		p.Stop()
		return nil, err
	}
	return &containerDB{p: p, admin: admin}, nil
}

// oldDefaultPassword is the superuser password devstack used before it generated one per stack. The image
// sets POSTGRES_PASSWORD only when it initialises the data volume, so a volume of that time keeps it.
const oldDefaultPassword = "postgres"

// containerAdmin connects as the superuser, moving a volume that still has the old default password to
// password. The server may still be finishing its start: connections are retried for a while.
func containerAdmin(ctx context.Context, port int, user, password string) (*postgres.Admin, error) {
	admin := postgres.NewAdmin(postgres.ConnInfo{Host: "127.0.0.1", Port: port, User: user, Password: password})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var err error
	for {
		if err = admin.Ping(ctx); err == nil {
			return admin, nil
		}
		if strings.Contains(err.Error(), "password authentication failed") && password != oldDefaultPassword {
			old := postgres.NewAdmin(postgres.ConnInfo{Host: "127.0.0.1", Port: port, User: user, Password: oldDefaultPassword})
			if old.Ping(ctx) == nil {
				serr := old.SetSuperuserPassword(ctx, user, password)
				old.Close()
				if serr != nil {
					return nil, fmt.Errorf("replace the old default superuser password of the PostgreSQL container: %w", serr)
				}
				continue
			}
			old.Close()
			return nil, fmt.Errorf("the PostgreSQL container on 127.0.0.1:%d refuses user %s with the stack's password (%v); its data volume was made with another one: set postgres.password to it, or remove the volume to start over", port, user, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the PostgreSQL container on 127.0.0.1:%d does not accept connections: %w", port, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

type containerDB struct {
	p     *containers.Postgres
	admin *postgres.Admin
}

func (d *containerDB) Port() int            { return d.p.Port() }
func (d *containerDB) URL(db string) string { return d.p.SuperuserURL(db) }

// EnsureDatabase creates role name (password name) owning database name, running initSQL once on creation.
func (d *containerDB) EnsureDatabase(ctx context.Context, name string, initSQL []string) (string, error) {
	return d.admin.EnsureDatabase(ctx, name, initSQL)
}

// ResetDatabase drops and recreates a database.
func (d *containerDB) ResetDatabase(ctx context.Context, name string) error {
	return d.admin.ResetDatabase(ctx, name, d.admin.RememberedInit(name))
}

func (d *containerDB) Stop() error {
	d.admin.Close()
	return d.p.Stop()
}
