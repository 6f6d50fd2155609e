package cli

import (
	"bufio"
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/postgres"
)

func init() { register(newDBCmd) }

func newDBCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "List and reset the databases of the running stack's PostgreSQL",
	}
	cmd.AddCommand(newDBListCmd(app), newDBResetCmd(app))
	return cmd
}

func newDBListCmd(app *App) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Databases with owner, size, open sessions and the services that use them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, pg, err := pgTarget(cmd.Context(), app)
			if err != nil {
				return err
			}
			a, err := pgAdmin(cmd.Context(), cfg, pg)
			if err != nil {
				return err
			}
			defer a.Close()
			dbs, err := a.Databases(cmd.Context())
			if err != nil {
				return err
			}
			users := dbUsers(cfg)
			if asJSON {
				type row struct {
					postgres.DatabaseInfo
					Services []string `json:"services,omitempty"`
				}
				rows := make([]row, 0, len(dbs))
				for _, d := range dbs {
					rows = append(rows, row{d, users[d.Name]})
				}
				return writeJSON(app, rows)
			}
			tw := tabwriter.NewWriter(app.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "DATABASE\tOWNER\tSIZE\tSESSIONS\tUSED BY")
			for _, d := range dbs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", d.Name, d.Owner, pgSize(d.SizeBytes), d.Connections, strings.Join(users[d.Name], ", "))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newDBResetCmd(app *App) *cobra.Command {
	var yes, noRestart bool
	cmd := &cobra.Command{
		Use:   "reset DB",
		Short: "Drop a database and create it again empty (running its init SQL), then restart the services using it",
		Long: "Drops database DB (closing its sessions), creates it again owned by its role, runs the init\n" +
			"files devstack.yaml lists for it (postgres.databases[].init), and restarts the services whose\n" +
			"database it is, so their migrations run again. Asks for confirmation unless --yes.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := postgres.ValidateName(name); err != nil {
				return err
			}
			cfg, pg, err := pgTarget(cmd.Context(), app)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			a, err := pgAdmin(ctx, cfg, pg)
			if err != nil {
				return err
			}
			defer a.Close()
			dbs, err := a.Databases(ctx)
			if err != nil {
				return err
			}
			declared, initSQL := declaredDB(cfg, name)
			exists := false
			var names []string
			for _, d := range dbs {
				names = append(names, d.Name)
				exists = exists || d.Name == name
			}
			if !exists && !declared {
				return fmt.Errorf("no database %q on %s and none declared in %s (databases: %s)", name, pg.addr(), cfg.Path, strings.Join(names, ", "))
			}
			if !yes {
				if !isTerminal(app.Stdin) {
					return fmt.Errorf("refusing to reset database %q on %s without confirmation: stdin is not a terminal; pass --yes", name, pg.describe())
				}
				fmt.Fprintf(app.Stderr, "Drop database %q on %s and create it again? All its data is lost. [y/N] ", name, pg.describe())
				line, _ := bufio.NewReader(app.Stdin).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
					return fmt.Errorf("database %q not reset", name)
				}
			}
			if err := a.ResetDatabase(ctx, name, initSQL); err != nil {
				return fmt.Errorf("reset database %s: %w", name, err)
			}
			msg := fmt.Sprintf("database %s reset", name)
			if len(initSQL) > 0 {
				msg += fmt.Sprintf(" (%d init file(s) run)", len(initSQL))
			}
			fmt.Fprintln(app.Stdout, msg)
			if !noRestart {
				restartDBUsers(ctx, app, dbUsers(cfg)[name])
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&noRestart, "no-restart", false, "do not restart the services that use the database")
	return cmd
}

// restartDBUsers restarts services through the control API so their migrations run on the empty database.
func restartDBUsers(ctx context.Context, app *App, services []string) {
	if len(services) == 0 {
		return
	}
	c, err := app.Client()
	if err != nil {
		fmt.Fprintf(app.Stderr, "note: could not reach the stack to restart %s (%v); restart them yourself\n", strings.Join(services, ", "), err)
		return
	}
	for _, s := range services {
		if err := c.Restart(ctx, s); err != nil {
			fmt.Fprintf(app.Stderr, "note: restart %s: %v\n", s, err)
			continue
		}
		fmt.Fprintf(app.Stdout, "%s restarted\n", s)
	}
}

// dbUsers maps database name to the services that have it as their database.
func dbUsers(cfg *config.Config) map[string][]string {
	m := map[string][]string{}
	for name, s := range cfg.Services {
		if s == nil || s.Disabled || s.Database == "" {
			continue
		}
		db := s.Database
		if db == "true" {
			db = config.DatabaseNameFor(name)
		}
		m[db] = append(m[db], name)
	}
	for _, v := range m {
		sort.Strings(v)
	}
	return m
}

// declaredDB reports whether devstack.yaml declares database name, and its init files (absolute).
func declaredDB(cfg *config.Config, name string) (bool, []string) {
	for _, d := range cfg.Postgres.Databases {
		if d.Name != name {
			continue
		}
		var files []string
		for _, f := range d.Init {
			if !filepath.IsAbs(f) {
				f = filepath.Join(cfg.Dir, f)
			}
			files = append(files, f)
		}
		return true, files
	}
	_, ok := dbUsers(cfg)[name]
	return ok, nil
}

func pgSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
