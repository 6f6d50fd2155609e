package cli

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/control"
)

func init() { register(newLogsCmd) }

func newLogsCmd(app *App) *cobra.Command {
	var follow bool
	var tail int
	cmd := &cobra.Command{
		Use:   "logs [SERVICE]",
		Short: "Print the logs of all services or one (from the running stack, else from .devstack/logs)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			source := ""
			if len(args) == 1 {
				source = args[0]
			}
			p := painter{on: useColor(app.Stdout)}
			c, err := app.Client()
			if errors.Is(err, control.ErrNotRunning) && !follow {
				return printLogFile(app, source, tail)
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
			for _, l := range past {
				fmt.Fprintln(w, p.formatLogLine(l, width))
			}
			w.Flush()
			if ch == nil {
				return nil
			}
			for l := range ch {
				fmt.Fprintln(w, p.formatLogLine(l, width))
				if len(ch) == 0 {
					w.Flush()
				}
			}
			w.Flush()
			if cmd.Context().Err() != nil {
				return nil
			}
			return errors.New("the stack stopped")
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines")
	cmd.Flags().IntVarP(&tail, "tail", "n", 200, "how many recent lines (0: all that are kept)")
	return cmd
}

// printLogFile prints the tail of .devstack/logs/<service>.log when no stack runs.
func printLogFile(app *App, source string, tail int) error {
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
	for _, l := range lines {
		fmt.Fprintln(app.Stdout, l)
	}
	return sc.Err()
}
