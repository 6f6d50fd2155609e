package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/stack"
)

func init() { register(newTestCmd) }

type testFlags struct {
	junit        string
	readyTimeout time.Duration
	containers   bool
	logs         bool
	only         []string
	tailLines    int
	noIsolation  bool
}

func newTestCmd(app *App) *cobra.Command {
	var f testFlags
	cmd := &cobra.Command{
		Use:   "test [flags] [-- command args...]",
		Short: "Start the stack headless, run the tests: commands (or the command after --), stop, exit with their status",
		Long: `Start the stack without a UI, wait until every service is ready, then run each entry of tests:
in devstack.yaml (or the command given after --) with the stack's environment (GATEWAY_URL,
KAFKA_BROKERS, SCHEMA_REGISTRY_URL, DATABASE_URL of the superuser, DEVSTACK_STATE_DIR, and the
OTEL_* variables that send a test's OpenTelemetry spans to the stack as service "test"). Their output is streamed; when one
fails, the last log lines of every service are printed. Everything is stopped before devstack exits
with the tests' status. This is what CI runs.

The run is isolated: its own throwaway state directory (PostgreSQL data, broker, logs; removed
afterwards; its logs kept after a failure) and free ports for the control API, broker, PostgreSQL, gateway and telemetry,
so it runs beside a ` + "`devstack up`" + ` of the same checkout without touching its databases, topics or
consumer groups. --no-isolation uses devstack.yaml's ports and state directory instead.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			for _, w := range cfg.Warnings {
				fmt.Fprintln(app.Stderr, "warning:", w)
			}
			tests := cfg.Tests
			if len(args) > 0 {
				tests = []config.Test{{Name: strings.Join(args, " "), Command: shellJoin(args), Timeout: config.Duration(time.Hour)}}
			}
			if len(f.only) > 0 {
				var keep []config.Test
				for _, t := range tests {
					for _, o := range f.only {
						if t.Name == o {
							keep = append(keep, t)
						}
					}
				}
				if len(keep) == 0 {
					return fmt.Errorf("no test named %s in %s", strings.Join(f.only, ", "), cfg.Path)
				}
				tests = keep
			}
			if len(tests) == 0 {
				return fmt.Errorf("nothing to run: add a tests: list to %s or give a command after --", cfg.Path)
			}
			return app.runTests(cmd.Context(), cfg, tests, f)
		},
	}
	cmd.Flags().StringVar(&f.junit, "junit", "", "write a JUnit XML report to this file")
	cmd.Flags().DurationVar(&f.readyTimeout, "ready-timeout", 10*time.Minute, "fail if the stack is not ready within this time")
	cmd.Flags().BoolVar(&f.containers, "containers", false, "run real Kafka and PostgreSQL in containers (needs Docker)")
	cmd.Flags().BoolVar(&f.logs, "logs", false, "stream the services' logs too")
	cmd.Flags().StringSliceVar(&f.only, "run", nil, "run only the tests with these names")
	cmd.Flags().IntVar(&f.tailLines, "tail", 40, "log lines per service printed when a test fails")
	cmd.Flags().BoolVar(&f.noIsolation, "no-isolation", false, "run on devstack.yaml's ports and state dir (the data of `devstack up`) instead of a throwaway state dir and free ports")
	return cmd
}

type testResult struct {
	test     config.Test
	dir      string
	duration time.Duration
	err      error
	output   *tailBuffer
	capture  *testCapture // whole output and runner reports, for the JUnit report (junit.go)
}

func (a *App) runTests(ctx context.Context, cfg *config.Config, tests []config.Test, f testFlags) (err error) {
	if !f.noIsolation {
		cleanup, ierr := a.isolate(cfg)
		if ierr != nil {
			return ierr
		}
		defer func() { cleanup(err) }()
	}
	logger, closeLog, err := a.stackLogger(cfg, false)
	if err != nil {
		return err
	}
	defer closeLog()
	st, err := a.newStack(ctx, cfg, f.containers, logger)
	if err != nil {
		return err
	}
	p := painter{on: useColor(a.Stdout)}
	out := &lockedWriter{w: a.Stdout}
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	runErr := make(chan error, 1)
	t0 := time.Now()
	fmt.Fprintf(out, "%s starting %s for tests\n", p.dim("devstack test:"), cfg.Name)
	go func() { runErr <- st.Run(runCtx) }()

	var wg sync.WaitGroup
	pctx, stopPrinting := context.WithCancel(context.Background())
	wg.Add(1)
	go func() { defer wg.Done(); printProgress(pctx, out, p, st) }()
	if f.logs {
		wg.Add(1)
		go func() { defer wg.Done(); printLogs(pctx, out, p, st, cfg) }()
	}
	stop := func() {
		cancelRun()
		<-runErr
		stopPrinting()
		wg.Wait()
	}

	rctx, cancel := context.WithTimeout(ctx, f.readyTimeout)
	err = st.WaitReady(rctx)
	cancel()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("the stack was not ready after %s (--ready-timeout)", f.readyTimeout)
		}
		stopPrinting()
		wg.Wait()
		fmt.Fprintf(out, "%s %v\n", p.red("devstack test: stack failed to start:"), err)
		printServiceLogs(out, p, st, cfg, f.tailLines)
		cancelRun()
		<-runErr
		_ = writeJUnit(f.junit, cfg, []testResult{{test: config.Test{Name: "stack startup"}, err: err, output: newTailBuffer(1)}}, time.Since(t0), out)
		return ExitCode(1)
	}
	fmt.Fprintf(out, "%s stack ready in %s\n", p.green("devstack test:"), fmtDur(time.Since(t0)))

	env := testEnv(cfg, st)
	var results []testResult
	defer func() { removeCaptures(results) }()
	failed := 0
	for _, t := range tests {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(out, "%s %s: %s\n", p.dim("=== RUN"), t.Name, t.Command)
		r := runOneTest(ctx, cfg, t, env, out)
		results = append(results, r)
		if r.err != nil {
			failed++
			fmt.Fprintf(out, "%s %s (%s): %v\n", p.red("--- FAIL"), t.Name, fmtDur(r.duration), r.err)
			printServiceLogs(out, p, st, cfg, f.tailLines)
		} else {
			fmt.Fprintf(out, "%s %s (%s)\n", p.green("--- PASS"), t.Name, fmtDur(r.duration))
		}
	}
	stop()
	if err := writeJUnit(f.junit, cfg, results, time.Since(t0), out); err != nil {
		fmt.Fprintf(out, "devstack test: %v\n", err)
	}
	if ctx.Err() != nil {
		fmt.Fprintln(out, "devstack test: interrupted")
		return ExitCode(130)
	}
	fmt.Fprintf(out, "devstack: %d passed, %d failed\n", len(results)-failed, failed) // the plain closing line CI reads
	if failed > 0 {
		return ExitCode(testExitStatus(results))
	}
	return nil
}

func testEnv(cfg *config.Config, st *stack.Stack) []string {
	env := os.Environ()
	env = append(env, st.TestOTelEnv()...) // before the env file and env:, whose OTEL_* win
	for k, v := range cfg.DotEnv {
		env = append(env, k+"="+v)
	}
	for k, v := range cfg.Env {
		env = append(env, k+"="+v)
	}
	addrs := st.Addrs()
	if a, ok := addrs[stack.CompGateway]; ok {
		env = append(env, "GATEWAY_URL=http://"+a)
	}
	if a, ok := addrs[stack.CompBroker]; ok {
		env = append(env, "KAFKA_BROKERS="+a)
		env = append(env, stack.KafkaSecurityEnv(cfg)...)
	}
	if a, ok := addrs[stack.CompRegistry]; ok {
		env = append(env, "SCHEMA_REGISTRY_URL=http://"+a)
	}
	if u := st.DatabaseURL(""); u != "" {
		env = append(env, "DATABASE_URL="+u)
	}
	env = append(env, "DEVSTACK_STATE_DIR="+cfg.StateDirPath(), "DEVSTACK_CONFIG="+cfg.Path)
	return env
}

func runOneTest(ctx context.Context, cfg *config.Config, t config.Test, env []string, out io.Writer) testResult {
	r := testResult{test: t, output: newTailBuffer(200)}
	start := time.Now()
	timeout := t.Timeout.D()
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dir := cfg.Dir
	if t.Dir != "" {
		dir = t.Dir
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(cfg.Dir, dir)
		}
	}
	cmd := exec.Command("/bin/sh", "-c", t.Command)
	cmd.Dir = dir
	cmd.Env = append([]string(nil), env...)
	for k, v := range t.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	r.dir = dir
	capture, err := newTestCapture(out, r.output)
	if err != nil {
		r.err = err
		return r
	}
	r.capture = capture
	defer capture.done()
	cmd.Env = append(cmd.Env, "DEVSTACK_REPORT_DIR="+capture.reportDir)
	cmd.Stdout, cmd.Stderr = capture, capture
	cmd.SysProcAttr = testCmdSysProcAttr()
	if err := cmd.Start(); err != nil {
		r.err = fmt.Errorf("start %q in %s: %w", t.Command, dir, err)
		return r
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		r.err = err
	case <-tctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if ctx.Err() != nil {
			r.err = errors.New("interrupted")
		} else {
			r.err = testTimeoutError{timeout}
		}
	}
	// the test's own children must not outlive it
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	r.duration = time.Since(start)
	return r
}

func printServiceLogs(w io.Writer, p painter, st *stack.Stack, cfg *config.Config, n int) {
	if n <= 0 {
		return
	}
	sources := append([]string{"gateway", "postgres", "broker"}, cfg.ServiceSeq...)
	for _, src := range sources {
		lines := st.LogStore().Tail(n, event.SourceFilter(src))
		if len(lines) == 0 {
			continue
		}
		where := "" // only services have log files
		if _, ok := cfg.Services[src]; ok {
			where = fmt.Sprintf(" (full log: %s)", filepath.Join(cfg.StateDirPath(), "logs", src+".log"))
		}
		fmt.Fprintf(w, "%s\n", p.dim(fmt.Sprintf("---- last %d lines of %s%s ----", len(lines), src, where)))
		for _, l := range lines {
			fmt.Fprintln(w, p.formatLogLine(l, len(src)+1))
		}
	}
}

// tailBuffer keeps the last n lines written to it.
type tailBuffer struct {
	mu    sync.Mutex
	n     int
	lines []string
	part  bytes.Buffer
}

func newTailBuffer(n int) *tailBuffer { return &tailBuffer{n: n} }

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part.Write(b)
	for {
		line, err := t.part.ReadString('\n')
		if err != nil {
			t.part.Reset()
			t.part.WriteString(line)
			break
		}
		t.lines = append(t.lines, strings.TrimRight(line, "\n"))
		if len(t.lines) > t.n {
			t.lines = t.lines[len(t.lines)-t.n:]
		}
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.Join(t.lines, "\n")
	if t.part.Len() > 0 {
		s += "\n" + t.part.String()
	}
	return s
}

// shellJoin quotes args for sh -c.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r == '-' || r == '_' || r == '.' || r == '/' || r == '=' || r == ':' || r == ',' || r == '@' || r == '+' ||
				(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'))
		}) < 0 {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
