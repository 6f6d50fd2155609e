package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/stack"
	"github.com/devstack-dev/devstack/internal/tui"
)

func init() { register(newUpCmd) }

type upFlags struct {
	noTUI      bool
	noColor    bool
	containers bool
	timeout    time.Duration
	freePorts  bool
}

func newUpCmd(app *App) *cobra.Command {
	var f upFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the stack in the foreground (broker, postgres, gateway, services)",
		Long: `Start everything devstack.yaml describes and keep it running until Ctrl-C.

With a terminal, the TUI opens; with --no-tui or when output is not a terminal, progress and
colour-prefixed service logs are printed instead. A second Ctrl-C stops at once.

When a port of devstack.yaml is taken (say by the stack of another checkout or worktree), up says who
holds it and, on a terminal, offers free ports for every component; --free-ports takes them without
asking. Services get the real addresses through KAFKA_BROKERS, DATABASE_URL, GATEWAY_URL,
SCHEMA_REGISTRY_URL and OTEL_EXPORTER_OTLP_ENDPOINT, and the CLI (topics, psql, status…) asks the running stack where it listens. ` + "`devstack ls`" + ` lists the running stacks.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			for _, w := range cfg.Warnings {
				fmt.Fprintln(app.Stderr, "warning:", w)
			}
			useTUI := !f.noTUI && isTerminal(app.Stdout) && isTerminal(app.Stdin)
			if err := app.checkPorts(cfg, f.freePorts, isTerminal(app.Stdin) && isTerminal(app.Stderr)); err != nil {
				return err
			}
			defer app.register(cfg)()
			return app.up(cmd.Context(), cfg, f, useTUI)
		},
	}
	cmd.Flags().BoolVar(&f.noTUI, "no-tui", false, "print progress and logs instead of opening the TUI")
	cmd.Flags().BoolVar(&f.noColor, "no-color", false, "no colours in the TUI or the log output (also NO_COLOR=1)")
	cmd.Flags().BoolVar(&f.containers, "containers", false, "run real Kafka and PostgreSQL in containers instead of the embedded ones (needs Docker; components with source: external stay external)")
	cmd.Flags().BoolVar(&f.freePorts, "free-ports", false, "when a port of devstack.yaml is taken (say by the stack of another checkout), run every component on free ports instead of failing")
	cmd.Flags().DurationVar(&f.timeout, "ready-timeout", 0, "exit with an error if the stack is not ready within this time or a service fails to start (default: keep running so the service can be fixed)")
	return cmd
}

// openLog opens <state>/devstack.log for devstack's own log (kept short: truncated at start).
func openLog(cfg *config.Config) (io.WriteCloser, error) {
	dir := cfg.StateDirPath()
	// private to the owner (the stack makes the rest of the dir private when it starts)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("make %s private: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "devstack.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil { // left 0644 by an older devstack
		f.Close()
		return nil, err
	}
	return f, nil
}

// stackLogger logs to the state dir's devstack.log, and warnings also to stderr when asked.
func (a *App) stackLogger(cfg *config.Config, alsoStderr bool) (*slog.Logger, func(), error) {
	f, err := openLog(cfg)
	if err != nil {
		return nil, nil, err
	}
	lvl := slog.LevelInfo
	if a.Verbose {
		lvl = slog.LevelDebug
	}
	var h slog.Handler = slog.NewTextHandler(f, &slog.HandlerOptions{Level: lvl})
	if alsoStderr {
		// errors only: warnings (a failing instance, say) already show in the progress and log lines
		h = teeHandler{h, slog.NewTextHandler(a.Stderr, &slog.HandlerOptions{Level: slog.LevelError})}
	}
	return slog.New(h), func() { f.Close() }, nil
}

func (a *App) newStack(ctx context.Context, cfg *config.Config, containers bool, logger *slog.Logger) (*stack.Stack, error) {
	o := stack.Options{Config: cfg, Logger: logger, Override: a.override}
	infra, err := a.sourceInfra(ctx, cfg, containers, logger)
	if err != nil {
		return nil, err
	}
	o.Infra = infra
	return stack.New(o)
}

func (a *App) up(ctx context.Context, cfg *config.Config, f upFlags, useTUI bool) error {
	logger, closeLog, err := a.stackLogger(cfg, !useTUI)
	if err != nil {
		return err
	}
	defer closeLog()
	st, err := a.newStack(ctx, cfg, f.containers, logger)
	if err != nil {
		return err
	}
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	runErr := make(chan error, 1)
	go func() { runErr <- st.Run(runCtx) }()

	if useTUI {
		uiErr := tui.Run(ctx, st, tui.Options{Version: Version, NoColor: f.noColor})
		cancelRun()
		err := <-runErr
		if uiErr != nil {
			return uiErr
		}
		return err
	}

	p := painter{on: useColor(a.Stdout) && !f.noColor}
	out := &lockedWriter{w: a.Stdout}
	fmt.Fprintf(out, "%s starting %s from %s\n", p.dim("devstack"), cfg.Name, cfg.Path)
	var wg sync.WaitGroup
	pctx, stopPrinting := context.WithCancel(context.Background())
	wg.Add(2)
	go func() { defer wg.Done(); printProgress(pctx, out, p, st) }()
	go func() { defer wg.Done(); printLogs(pctx, out, p, st, cfg) }()
	readyErr := make(chan error, 1)
	go func() {
		rctx := ctx
		if f.timeout > 0 {
			var cancel context.CancelFunc
			rctx, cancel = context.WithTimeout(ctx, f.timeout)
			defer cancel()
		}
		readyErr <- st.WaitReady(rctx)
	}()
	var result error
	select {
	case err := <-readyErr:
		if err != nil {
			switch {
			case ctx.Err() != nil:
			case st.StartErr() == nil && f.timeout == 0:
				// A service failed but the stack runs: keep it up so the user can fix the code (a watched
				// service reloads on save) or restart the service, as with docker compose up.
				fmt.Fprintf(out, "%s %v\n%s\n", p.red("devstack: not ready:"), err,
					p.dim("devstack: the rest of the stack keeps running; fix the service and save (watched services reload) or run `devstack restart NAME`; Ctrl-C to stop"))
			default:
				result = fmt.Errorf("stack not ready: %w", err)
				fmt.Fprintf(out, "%s %v\n", p.red("devstack: not ready:"), err)
				cancelRun()
			}
		} else {
			fmt.Fprintf(out, "%s %s\n", p.green("devstack: all ready in "+fmtDur(time.Since(st.Bus().Snapshot().StartedAt))), readyBanner(st))
		}
	case err := <-runErr:
		stopPrinting()
		wg.Wait()
		if err != nil {
			return err
		}
		return nil
	}
	if result == nil && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case err := <-runErr:
			stopPrinting()
			wg.Wait()
			return err
		}
	}
	// First Ctrl-C: stop gracefully. A second one kills devstack at once (children die with it).
	if a.StopSignals != nil {
		a.StopSignals()
	}
	if ctx.Err() != nil {
		fmt.Fprintln(out, p.dim("devstack: stopping (Ctrl-C again to kill)…"))
	}
	cancelRun()
	err = <-runErr
	stopPrinting()
	wg.Wait()
	fmt.Fprintln(out, p.dim("devstack: stopped"))
	if result != nil {
		return result
	}
	return err
}

func readyBanner(st *stack.Stack) string {
	var parts []string
	addrs := st.Addrs()
	if a, ok := addrs[stack.CompGateway]; ok {
		parts = append(parts, "gateway http://"+a)
	}
	if a, ok := addrs[stack.CompBroker]; ok {
		parts = append(parts, "kafka "+a)
	}
	if a, ok := addrs[stack.CompRegistry]; ok {
		parts = append(parts, "schema registry http://"+a)
	}
	if a, ok := addrs[stack.CompPostgres]; ok {
		parts = append(parts, "postgres "+a)
	}
	if a, ok := addrs[stack.CompTelemetry]; ok {
		parts = append(parts, "otlp http://"+a)
	}
	parts = append(parts, "Ctrl-C to stop")
	return "— " + strings.Join(parts, " · ")
}

// printProgress prints one line each time a component or service changes status.
func printProgress(ctx context.Context, w io.Writer, p painter, st *stack.Stack) {
	last := map[string]string{}
	show := func(kind, name string, status event.Status, detail string) {
		key := string(status) + detail
		if last[kind+name] == key {
			return
		}
		last[kind+name] = key
		fmt.Fprintf(w, "  %s %-10s %-10s %s\n", statusMark(p, status), name, status, detail)
	}
	handle := func(ev event.Event) {
		switch {
		case ev.Kind == event.KindComponent && ev.Component != nil:
			c := ev.Component
			d := c.Addr
			if c.StartedIn > 0 {
				d += "  " + p.dim(fmtDur(c.StartedIn))
			}
			if c.Error != "" {
				d = p.red(c.Error)
			}
			show("c", c.Name, c.Status, d)
		case ev.Kind == event.KindService && ev.Service != nil:
			s := ev.Service
			d := ""
			var ports []string
			for _, in := range s.Instances {
				if in.Port != 0 {
					ports = append(ports, fmt.Sprintf(":%d", in.Port))
				}
			}
			if len(ports) > 0 {
				d = strings.Join(ports, " ")
			}
			if s.Status == event.StatusReady {
				if s.StartedIn == 0 && s.LastReload == nil {
					return // the supervisor publishes the start-up time right after; print once, with it
				}
				d += "  " + p.dim(fmtDur(s.StartedIn))
			}
			if s.Error != "" {
				d = p.red(s.Error)
			}
			if s.LastReload != nil && s.Status == event.StatusReady {
				r := s.LastReload
				if r.OK {
					d += "  " + p.dim("reloaded in "+fmtDur(r.Duration))
				} else {
					d += "  " + p.red("reload failed: build error (running instance kept)")
				}
			}
			show("s", s.Name, s.Status, d)
		case ev.Kind == event.KindStack && ev.Level == "error":
			fmt.Fprintf(w, "  %s %s\n", p.red("!"), ev.Message)
		}
	}
	st.Bus().Follow(ctx, 4096, handle)
}

// printLogs prints every log line, prefixed with its coloured source.
func printLogs(ctx context.Context, w io.Writer, p painter, st *stack.Stack, cfg *config.Config) {
	width := 8
	for name := range cfg.Services {
		if len(name)+2 > width {
			width = len(name) + 2
		}
	}
	var lastSeq uint64
	emit := func(l event.LogLine) {
		if l.Seq <= lastSeq {
			return // already printed before a resubscribe
		}
		if lastSeq != 0 && l.Seq > lastSeq+1 {
			fmt.Fprintln(w, p.yellow(fmt.Sprintf("devstack: %d log lines skipped (output fell behind); %s", l.Seq-lastSeq-1, logFilesNote(cfg))))
		}
		lastSeq = l.Seq
		fmt.Fprintln(w, p.formatLogLine(l, width))
	}
	for ctx.Err() == nil {
		// after the first subscription, catch up from the ring on what was missed while falling behind
		backlog := 0
		if lastSeq != 0 {
			backlog = 16384
		}
		past, ch, cancel := st.LogStore().Subscribe(backlog, 16384, nil)
		for _, l := range past {
			emit(l)
		}
		for open := true; open; {
			select {
			case <-ctx.Done():
				cancel()
				for l := range ch { // what is already queued, so the last lines are not lost
					emit(l)
				}
				return
			case l, ok := <-ch:
				if ok {
					emit(l)
				}
				open = ok
			}
		}
		cancel()
	}
}

// logFilesNote says where services' output is kept on disk and how much of it.
func logFilesNote(cfg *config.Config) string {
	dir := filepath.Join(cfg.StateDirPath(), "logs")
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, dir); err == nil && !strings.HasPrefix(r, "..") {
			dir = r
		}
	}
	keep := "never rotated"
	if m := cfg.Logs.MaxSize; m > 0 {
		keep = fmt.Sprintf("rotated at %s, %d older files kept; a line there says what rotation deleted", fmtBytes(uint64(m)), cfg.Logs.MaxFiles)
	}
	return fmt.Sprintf("services' output is in %s/<service>.log (%s)", dir, keep)
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// teeHandler sends records to two handlers.
type teeHandler struct{ a, b slog.Handler }

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t.a.Enabled(ctx, l) || t.b.Enabled(ctx, l)
}

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	if t.a.Enabled(ctx, r.Level) {
		errs = append(errs, t.a.Handle(ctx, r.Clone()))
	}
	if t.b.Enabled(ctx, r.Level) {
		errs = append(errs, t.b.Handle(ctx, r))
	}
	return errors.Join(errs...)
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{t.a.WithAttrs(as), t.b.WithAttrs(as)}
}

func (t teeHandler) WithGroup(n string) slog.Handler {
	return teeHandler{t.a.WithGroup(n), t.b.WithGroup(n)}
}
