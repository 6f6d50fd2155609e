package cli

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/control"
	"github.com/devstack-dev/devstack/internal/event"
)

func init() { register(newLogsCmd) }

func newLogsCmd(app *App) *cobra.Command {
	var follow, asJSON bool
	var tail int
	cmd := &cobra.Command{
		Use:   "logs [SERVICE]",
		Short: "Print the logs of all services or one (from the running stack, else from .devstack/logs)",
		Long: `Print the logs of all services or one (from the running stack, else from .devstack/logs).

A service line that is JSON or logfmt prints as its level, message and fields. With --json every
line is one JSON document a line (NDJSON) in the Elastic Common Schema: @timestamp, log.level,
message, service.name, service.node.name, trace.id, span.id, the line's fields under labels
(see docs/logs.md).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			source := ""
			if len(args) == 1 {
				source = args[0]
			}
			p := painter{on: useColor(app.Stdout)}
			c, err := app.Client()
			if errors.Is(err, control.ErrNotRunning) && !follow {
				return printLogFile(app, source, tail, asJSON)
			}
			if err != nil {
				return err
			}
			past, ch, err := c.Logs(cmd.Context(), control.LogQuery{Source: source, Tail: tail, Follow: follow})
			if err != nil {
				return err
			}
			w := bufio.NewWriter(app.Stdout)
			width := 10
			ecs := newECSWriter(w)
			print := func(l event.LogLine) error {
				if asJSON {
					return ecs.write(l)
				}
				_, err := fmt.Fprintln(w, p.formatLogLine(l, width))
				return err
			}
			for _, l := range past {
				if err := print(l); err != nil {
					return err
				}
			}
			if err := w.Flush(); err != nil || ch == nil {
				return err
			}
			for l := range ch {
				if err := print(l); err != nil {
					return err
				}
				if len(ch) == 0 {
					if err := w.Flush(); err != nil {
						return err
					}
				}
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if cmd.Context().Err() != nil {
				return nil
			}
			return errors.New("the stack stopped")
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines")
	cmd.Flags().IntVarP(&tail, "tail", "n", 200, "how many recent lines (0: all that are kept)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "write NDJSON in the Elastic Common Schema (for Filebeat, Logstash, Loki)")
	return cmd
}

// printLogFile prints the tail of .devstack/logs/<service>.log when no stack runs.
func printLogFile(app *App, source string, tail int, asJSON bool) error {
	if source == "" {
		return fmt.Errorf("%w: name a service to read its log file from %s", control.ErrNotRunning, filepath.Join(app.StateDir(), "logs"))
	}
	path := filepath.Join(app.StateDir(), "logs", source+".log")
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("no running stack and no log file for %q (%v)", source, err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if tail > 0 && len(lines) > tail {
			lines = lines[1:]
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	w := bufio.NewWriter(app.Stdout)
	ecs := newECSWriter(w)
	for _, l := range lines {
		if !asJSON {
			fmt.Fprintln(w, l)
			continue
		}
		line, ok := parseLogFileLine(source, l)
		if !ok {
			continue // not a line devstack wrote
		}
		if err := ecs.write(event.Structure(line)); err != nil {
			return err
		}
	}
	return w.Flush()
}

// parseLogFileLine reads a line of .devstack/logs/<service>.log: "<RFC 3339 time> <stream> r<replica> | <text>".
func parseLogFileLine(source, s string) (event.LogLine, bool) {
	head, text, ok := strings.Cut(s, " | ")
	if !ok {
		return event.LogLine{}, false
	}
	f := strings.Fields(head)
	if len(f) != 3 || !strings.HasPrefix(f[2], "r") {
		return event.LogLine{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, f[0])
	if err != nil {
		return event.LogLine{}, false
	}
	replica, err := strconv.Atoi(f[2][1:])
	if err != nil {
		return event.LogLine{}, false
	}
	return event.LogLine{Time: t, Source: source, Replica: replica, Stream: f[1], Text: text}, true
}
