// Package cli implements devstack's command line: one file per command.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/control"
)

// App is what every command gets: global flags and helpers to reach the config and a running stack.
type App struct {
	ConfigPath string // --file/-c (env DEVSTACK_FILE), default devstack.yaml
	Verbose    bool
	Stdin      io.Reader
	Stdout     io.Writer
	Stderr     io.Writer
	// StopSignals stops listening for SIGINT/SIGTERM so a second Ctrl-C kills devstack at once.
	StopSignals func()
	// override re-applies to a reloaded devstack.yaml what up/test changed in the loaded one (free
	// ports, a test run's state dir); nil when nothing was.
	override func(*config.Config)
}

// addOverride records f (already applied to the loaded config) for the stack's reloads.
func (a *App) addOverride(f func(*config.Config)) {
	prev := a.override
	a.override = func(c *config.Config) {
		if prev != nil {
			prev(c)
		}
		f(c)
	}
}

// exitError carries a process exit code without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// ExitCode makes a command end the process with code (after its own output).
func ExitCode(code int) error { return exitError{code} }

// commands are added by each command's file in init, so commands live one per file.
var commands []func(*App) *cobra.Command

func register(f func(*App) *cobra.Command) { commands = append(commands, f) }

// Execute runs the command line and returns the process exit code.
func Execute(ctx context.Context, stopSignals func(), args []string) int {
	app := &App{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, StopSignals: stopSignals}
	root := newRoot(app)
	root.SetArgs(args)
	root.SetIn(app.Stdin)
	root.SetOut(app.Stdout)
	root.SetErr(app.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(app.Stderr, "devstack:", err)
	return 1
}

func newRoot(app *App) *cobra.Command {
	root := &cobra.Command{
		Use:           "devstack",
		Short:         "Your whole microservice platform — broker, database, gateway, services — in one command",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	def := os.Getenv("DEVSTACK_FILE")
	if def == "" {
		def = "devstack.yaml"
	}
	// -c, not -f: -f means --follow in logs and consume, as in docker compose and kubectl.
	root.PersistentFlags().StringVarP(&app.ConfigPath, "file", "c", def, "path to devstack.yaml (env DEVSTACK_FILE)")
	root.PersistentFlags().BoolVarP(&app.Verbose, "verbose", "v", false, "debug logging")
	for _, c := range commands {
		root.AddCommand(c(app))
	}
	return root
}

// Config loads and validates the stack's devstack.yaml. Inside a `devstack test` run (its test
// commands get DEVSTACK_CONFIG and DEVSTACK_STATE_DIR), the state directory of that devstack.yaml is the
// run's own, so `devstack status`, `topics`, `token` … there reach the stack under test.
func (a *App) Config() (*config.Config, error) {
	cfg, err := config.Load(a.ConfigPath)
	if err != nil {
		return nil, err
	}
	if d := os.Getenv("DEVSTACK_STATE_DIR"); d != "" && filepath.IsAbs(d) && os.Getenv("DEVSTACK_CONFIG") == cfg.Path {
		cfg.StateDir = d
	}
	return cfg, nil
}

// StateDir returns the stack's state directory without fully validating the config when it cannot
// be loaded (so `status` still finds a running stack): <dir of devstack.yaml>/.devstack by default.
func (a *App) StateDir() string {
	if cfg, err := a.Config(); err == nil {
		return cfg.StateDirPath()
	}
	abs, err := filepath.Abs(a.ConfigPath)
	if err != nil {
		abs = a.ConfigPath
	}
	return filepath.Join(filepath.Dir(abs), ".devstack")
}

// Client connects to the control API of the stack started from this devstack.yaml: the endpoint file
// in its state directory, else the registry of running stacks. Another checkout's stack is never used.
// Without one, the error is one line that says which directory has no running stack.
func (a *App) Client() (*control.Client, error) {
	stateDir := a.StateDir()
	c, err := control.Dial(stateDir)
	if err == nil || !errors.Is(err, control.ErrNotRunning) {
		return c, err
	}
	cfgPath, _ := filepath.Abs(a.ConfigPath)
	entries, _ := control.Running()
	for _, e := range entries {
		if e.Config == cfgPath && e.StateDir != stateDir {
			if c, err := control.Dial(e.StateDir); err == nil {
				return c, nil
			}
		}
	}
	return nil, fmt.Errorf("%w for %s: start it there with `devstack up` (`devstack ls` lists the running stacks)", control.ErrNotRunning, filepath.Dir(cfgPath))
}

// endpointsOr is Endpoints; when no stack runs its error also says to pass orPass (the flag that
// names another target) instead.
func (a *App) endpointsOr(ctx context.Context, orPass string) (control.Endpoints, error) {
	ep, err := a.Endpoints(ctx)
	if errors.Is(err, control.ErrNotRunning) {
		return ep, fmt.Errorf("%w; or pass %s", err, orPass)
	}
	return ep, err
}

// Endpoints asks the stack of this devstack.yaml where its broker, database and gateway listen.
func (a *App) Endpoints(ctx context.Context) (control.Endpoints, error) {
	c, err := a.Client()
	if err != nil {
		return control.Endpoints{}, err
	}
	return c.Endpoints(ctx)
}

// Logger returns a text logger on stderr (debug level with --verbose).
func (a *App) Logger() *slog.Logger {
	lvl := slog.LevelInfo
	if a.Verbose {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(a.Stderr, &slog.HandlerOptions{Level: lvl}))
}

// writeJSON writes v to app.Stdout as JSON indented by two spaces, ending in a newline: what every
// command's --json prints.
func writeJSON(app *App, v any) error {
	enc := json.NewEncoder(app.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
