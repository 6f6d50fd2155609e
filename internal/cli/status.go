package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/event"
)

func init() { register(newStatusCmd) }

func newStatusCmd(app *App) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the running stack: components, services, instances",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := app.Client()
			if err != nil {
				return err
			}
			st, err := c.Snapshot(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(app, st)
			}
			writeStatus(app, st)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the state as JSON")
	return cmd
}

func writeStatus(app *App, st event.State) {
	p := painter{on: useColor(app.Stdout)}
	fmt.Fprintf(app.Stdout, "stack %s, up %s\n\n", st.Name, fmtDur(time.Since(st.StartedAt).Round(time.Second)))
	tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tSTATUS\tADDRESS\tDETAIL")
	for _, c := range st.Components {
		detail := c.Detail
		if c.Error != "" {
			detail = c.Error
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\n", c.Name, statusMark(p, c.Status), c.Status, c.Addr, detail)
	}
	tw.Flush()
	for _, c := range st.Components {
		for _, pr := range c.Problems {
			fmt.Fprintf(app.Stdout, "%s %s: %s\n", p.red("!"), c.Name, pr)
		}
	}
	fmt.Fprintln(app.Stdout)
	tw = tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tSTATUS\tREADY\tPORTS\tPIDS\tRESTARTS\tUPTIME\tCPU\tRSS\tLAST RELOAD")
	for _, s := range st.Services {
		ready, ports, pids := 0, []string{}, []string{}
		var cpu float64
		var rss uint64
		var oldest time.Time
		for _, in := range s.Instances {
			if in.Ready {
				ready++
			}
			if in.Port != 0 {
				ports = append(ports, fmt.Sprint(in.Port))
			}
			if in.PID != 0 {
				pids = append(pids, fmt.Sprint(in.PID))
			}
			cpu += in.CPU
			rss += in.RSS
			if !in.StartedAt.IsZero() && (oldest.IsZero() || in.StartedAt.Before(oldest)) {
				oldest = in.StartedAt
			}
		}
		uptime := "-"
		if !oldest.IsZero() {
			uptime = fmtDur(time.Since(oldest).Round(time.Second))
		}
		reload := "-"
		if r := s.LastReload; r != nil {
			if r.OK {
				reload = fmt.Sprintf("ok %s ago (%s)", fmtDur(time.Since(r.At).Round(time.Second)), fmtDur(r.Duration))
			} else {
				reload = p.red("build failed " + fmtDur(time.Since(r.At).Round(time.Second)) + " ago")
			}
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%d/%d\t%s\t%s\t%d\t%s\t%.0f%%\t%s\t%s\n", s.Name, statusMark(p, s.Status), s.Status,
			ready, s.Replicas, orDash(strings.Join(ports, ",")), orDash(strings.Join(pids, ",")), s.Restarts, uptime, cpu, fmtBytes(rss), reload)
	}
	tw.Flush()
	for _, s := range st.Services {
		if r := s.LastReload; r != nil && len(r.Timeline) > 0 {
			fmt.Fprintf(app.Stdout, "%s last reload (%s, %s): %s\n", s.Name, r.Trigger, fmtDur(r.Duration), event.FormatTimeline(r.Timeline))
		}
	}
	for _, s := range st.Services {
		if s.Error != "" {
			fmt.Fprintf(app.Stdout, "\n%s %s: %s\n", p.red("!"), s.Name, s.Error)
		}
		if r := s.LastReload; r != nil && !r.OK && r.Error != "" {
			fmt.Fprintf(app.Stdout, "\n%s %s build error:\n%s\n", p.red("!"), s.Name, r.Error)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
