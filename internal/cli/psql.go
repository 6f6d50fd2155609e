package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/postgres"
	"github.com/devstack-dev/devstack/internal/stack"
)

func init() { register(newPsqlCmd) }

func newPsqlCmd(app *App) *cobra.Command {
	var asOwner bool
	cmd := &cobra.Command{
		Use:   "psql [DB] [-- PSQL_ARGS...]",
		Short: "Open psql on a database of the running stack (default: the superuser on postgres)",
		Long: "Runs psql connected to the stack's PostgreSQL as the superuser (postgres.user, with\n" +
			"postgres.password or the secret devstack generated in <state_dir>/postgres/superuser-password),\n" +
			"or with --owner as the database's own role (what the service sees). Arguments after -- go\n" +
			"to psql unchanged, e.g. `devstack psql orders -- -c 'select count(*) from orders'`.",
		Example: "  devstack psql\n  devstack psql orders\n  devstack psql orders --owner -- -At -c 'select 1'",
		Args: func(cmd *cobra.Command, args []string) error {
			if n := psqlPositional(cmd, args); len(n) > 1 {
				return fmt.Errorf("at most one database name before --, got %q", n)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			pos := psqlPositional(cmd, args)
			extra := args[len(pos):]
			cfg, pg, err := pgTarget(cmd.Context(), app)
			if err != nil {
				return err
			}
			db := "postgres"
			if len(pos) == 1 {
				db = pos[0]
			}
			if err := checkPostgresUp(cmd.Context(), pg); err != nil {
				return err
			}
			user, password := db, db
			if !asOwner {
				user = pg.User
				if password, err = pg.password(); err != nil {
					return err
				}
			}
			psql, err := postgres.FindTool(pgBinDir(cfg), "", "psql")
			if err != nil {
				return err
			}
			c := exec.Command(psql, extra...)
			c.Env = append(withoutPGVars(os.Environ()),
				"PGHOST="+pg.host(), "PGPORT="+strconv.Itoa(pg.Port), "PGUSER="+user, "PGSSLMODE="+pg.sslMode(),
				"PGPASSWORD="+password, "PGDATABASE="+db, "PGAPPNAME=devstack psql")
			c.Stdin, c.Stdout, c.Stderr = app.Stdin, app.Stdout, app.Stderr
			// psql shares the terminal: Ctrl-C reaches it directly (it cancels the running query) and the
			// signal devstack also receives only cancels a context psql does not depend on.
			if err := c.Run(); err != nil {
				var ee *exec.ExitError
				if errors.As(err, &ee) && ee.ExitCode() > 0 {
					return ExitCode(ee.ExitCode())
				}
				return fmt.Errorf("run %s: %w", psql, err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asOwner, "owner", false, "connect as the database's own role (password = its name) instead of the superuser")
	return cmd
}

// psqlPositional is the positional arguments before a "--".
func psqlPositional(cmd *cobra.Command, args []string) []string {
	if i := cmd.ArgsLenAtDash(); i >= 0 {
		return args[:i]
	}
	return args
}

// pgConn is how the CLI reaches the stack's PostgreSQL.
type pgConn struct {
	Port int
	User string
	opts postgres.Options   // what the stack runs: the superuser's password or the file with its secret
	ext  *postgres.ConnInfo // an external server (postgres.source: external): its admin URL
}

// password is the superuser's: postgres.password, or the secret the running stack generated.
func (p pgConn) password() (string, error) {
	if p.ext != nil {
		return p.ext.Password, nil
	}
	return postgres.ReadPassword(p.opts)
}

// pgTarget asks the stack of this devstack.yaml where its PostgreSQL listens (the port may not be
// postgres.port: `up --free-ports`), and takes the superuser and its secret from devstack.yaml and the
// stack's state directory.
func pgTarget(ctx context.Context, app *App) (*config.Config, pgConn, error) {
	cfg, err := app.Config()
	if err != nil {
		return nil, pgConn{}, err
	}
	if !cfg.PostgresEnabled() {
		return nil, pgConn{}, fmt.Errorf("PostgreSQL is not enabled in %s (no service has database: and postgres.databases is empty, or postgres.enabled is false)", cfg.Path)
	}
	if cfg.PostgresExternal() {
		pg, err := externalPG(cfg)
		return cfg, pg, err
	}
	ep, err := app.Endpoints(ctx)
	if err != nil {
		return nil, pgConn{}, err
	}
	if ep.Postgres == "" {
		return nil, pgConn{}, fmt.Errorf("the stack %s runs but its PostgreSQL is not ready; see `devstack status` and `devstack logs postgres`", ep.Name)
	}
	_, ps, err := net.SplitHostPort(ep.Postgres)
	port, perr := strconv.Atoi(ps)
	if err != nil || perr != nil {
		return nil, pgConn{}, fmt.Errorf("the stack reports PostgreSQL at %q, not host:port", ep.Postgres)
	}
	if ep.StateDir != "" {
		cfg.StateDir = ep.StateDir // where the stack keeps the generated superuser secret
	}
	o := stack.PostgresOptions(cfg)
	o.Port = port
	return cfg, pgConn{Port: port, User: o.User, opts: o}, nil
}

func pgBinDir(cfg *config.Config) string {
	d := cfg.Postgres.BinDir
	if d != "" && !filepath.IsAbs(d) {
		d = filepath.Join(cfg.Dir, d)
	}
	return d
}

// checkPostgresUp fails with a useful message when nothing listens on the configured port.
func checkPostgresUp(ctx context.Context, pg pgConn) error {
	if pg.ext != nil {
		return nil // not ours to start; connecting says what is wrong
	}
	d := net.Dialer{Timeout: 3 * time.Second}
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(pg.Port)))
	if err != nil {
		return fmt.Errorf("PostgreSQL of the running stack does not answer on 127.0.0.1:%d; see `devstack status` and `devstack logs postgres`", pg.Port)
	}
	return c.Close()
}

// pgAdmin connects to the running server as the superuser and checks the credentials.
func pgAdmin(ctx context.Context, cfg *config.Config, pg pgConn) (*postgres.Admin, error) {
	if err := checkPostgresUp(ctx, pg); err != nil {
		return nil, err
	}
	password, err := pg.password()
	if err != nil {
		return nil, err
	}
	ci := postgres.ConnInfo{Host: "127.0.0.1", Port: pg.Port, User: pg.User, Password: password}
	if pg.ext != nil {
		ci = *pg.ext
	}
	a := postgres.NewAdmin(ci)
	if p, err := postgres.FindTool(pgBinDir(cfg), "", "psql"); err == nil {
		a.PsqlPath = p
	}
	if err := a.Ping(ctx); err != nil {
		a.Close()
		if pg.ext != nil {
			return nil, fmt.Errorf("the external PostgreSQL at %s did not accept user %s: %v; check postgres.external.admin_url in %s", pg.addr(), pg.User, err, cfg.Path)
		}
		where := "postgres.user/password in devstack.yaml"
		if pg.opts.PasswordFile != "" {
			where = "postgres.user in devstack.yaml and the secret in " + pg.opts.PasswordFile + " (it belongs to the stack that created it)"
		}
		return nil, fmt.Errorf("PostgreSQL on 127.0.0.1:%d did not accept user %s: %v; check %s (or is another PostgreSQL using that port?)", pg.Port, pg.User, err, where)
	}
	return a, nil
}

// withoutPGVars drops PG* variables of the caller's environment so they cannot redirect psql.
func withoutPGVars(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PG") {
			out = append(out, kv)
		}
	}
	return out
}
