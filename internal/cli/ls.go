package cli

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/control"
)

func init() { register(newLsCmd) }

func newLsCmd(app *App) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List your running stacks (every checkout and worktree) with their directories and ports",
		Long: "List the stacks `devstack up` runs for you on this machine, from the per-user registry\n" +
			"($XDG_RUNTIME_DIR/devstack/stacks, else the user cache dir): name, directory, pid, uptime and the\n" +
			"ports of the control API, broker, PostgreSQL and gateway. Entries of a devstack that died are\n" +
			"dropped.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			entries, err := control.Running()
			if err != nil {
				return err
			}
			if asJSON {
				if entries == nil {
					entries = []control.Entry{}
				}
				return writeJSON(app, entries)
			}
			if len(entries) == 0 {
				fmt.Fprintln(app.Stdout, "no running stacks")
				return nil
			}
			tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tDIRECTORY\tPID\tUP\tPORTS")
			for _, e := range entries {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", e.Name, e.Dir, e.PID, fmtDur(time.Since(e.Started).Round(time.Second)), fmtPorts(e.Ports))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the stacks as JSON")
	return cmd
}

// fmtPorts prints control.port 7477 as control 7477, in a fixed order.
func fmtPorts(ports map[string]int) string {
	order := map[string]int{"control.port": 0, "broker.port": 1, "postgres.port": 2, "gateway.http_port": 3, "gateway.https_port": 4}
	keys := make([]string, 0, len(ports))
	for k := range ports {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return order[keys[i]] < order[keys[j]] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		name := strings.TrimSuffix(k, ".port")
		switch k {
		case "gateway.http_port":
			name = "gateway"
		case "gateway.https_port":
			name = "https"
		}
		parts[i] = fmt.Sprintf("%s %d", name, ports[k])
	}
	return strings.Join(parts, ", ")
}
