package cli

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/event"
)

func init() { register(newGroupsCmd) }

func newGroupsCmd(app *App) *cobra.Command {
	var (
		bf     brokerFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "groups",
		Short: "List consumer groups: members, committed offsets and lag per partition",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := bf.admin(cmd.Context(), app)
			if err != nil {
				return err
			}
			defer a.Close()
			gs, err := a.Groups(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(app, gs)
			}
			writeGroups(app, gs)
			return nil
		},
	}
	bf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print groups as JSON")
	cmd.AddCommand(newGroupsResetCmd(app))
	return cmd
}

func writeGroups(app *App, gs []event.GroupInfo) {
	if len(gs) == 0 {
		fmt.Fprintln(app.Stdout, "no consumer groups")
		return
	}
	p := painter{on: useColor(app.Stdout)}
	for i, g := range gs {
		if i > 0 {
			fmt.Fprintln(app.Stdout)
		}
		lag := fmt.Sprintf("lag %d", g.Lag)
		if g.Lag > 0 {
			lag = p.yellow(lag)
		}
		fmt.Fprintf(app.Stdout, "%s  %s, %d member%s, %s\n", p.color(36, g.Name), g.State, len(g.Members), brokerPlural(len(g.Members)), lag)
		owner := map[string]map[int32]string{}
		for _, m := range g.Members {
			for t, ps := range m.Assignment {
				if owner[t] == nil {
					owner[t] = map[int32]string{}
				}
				for _, pt := range ps {
					owner[t][pt] = m.ClientID + "@" + m.Host
				}
			}
		}
		tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  TOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tMEMBER")
		shown := map[string]map[int32]bool{}
		for _, o := range g.Offsets {
			committed := fmt.Sprint(o.Committed)
			if o.Committed < 0 {
				committed = "-"
			}
			member := owner[o.Topic][o.Partition]
			if member == "" {
				member = "-"
			}
			fmt.Fprintf(tw, "  %s\t%d\t%s\t%d\t%d\t%s\n", o.Topic, o.Partition, committed, o.End, o.Lag, member)
			if shown[o.Topic] == nil {
				shown[o.Topic] = map[int32]bool{}
			}
			shown[o.Topic][o.Partition] = true
		}
		// Assigned partitions without a commit yet.
		for t, ps := range owner {
			for pt, m := range ps {
				if !shown[t][pt] {
					fmt.Fprintf(tw, "  %s\t%d\t-\t-\t-\t%s\n", t, pt, m)
				}
			}
		}
		tw.Flush()
	}
}

func newGroupsResetCmd(app *App) *cobra.Command {
	var (
		bf       brokerFlags
		earliest bool
		latest   bool
		offset   int64
		topic    string
	)
	cmd := &cobra.Command{
		Use:   "reset GROUP (--to-earliest | --to-latest | --to-offset N) [--topic T]",
		Short: "Move a consumer group's committed offsets (the group must have no running members)",
		Example: "  devstack groups reset billing --to-earliest --topic orders   # replay orders\n" +
			"  devstack groups reset billing --to-latest                    # skip everything pending",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			group := args[0]
			toOffset := cmd.Flags().Changed("to-offset")
			n := 0
			to := ""
			for _, c := range []struct {
				set  bool
				name string
			}{{earliest, "earliest"}, {latest, "latest"}, {toOffset, "offset"}} {
				if c.set {
					n++
					to = c.name
				}
			}
			if n != 1 {
				return errors.New("give exactly one of --to-earliest, --to-latest, --to-offset N")
			}
			a, err := bf.admin(cmd.Context(), app)
			if err != nil {
				return err
			}
			defer a.Close()
			if err := a.ResetGroup(cmd.Context(), group, topic, to, offset); err != nil {
				return err
			}
			gs, err := a.Groups(cmd.Context())
			if err != nil {
				return err
			}
			for _, g := range gs {
				if g.Name == group {
					fmt.Fprintf(app.Stdout, "reset group %s to %s\n", group, to)
					writeGroups(app, []event.GroupInfo{g})
				}
			}
			return nil
		},
	}
	bf.add(cmd)
	cmd.Flags().BoolVar(&earliest, "to-earliest", false, "move to the earliest offset still kept")
	cmd.Flags().BoolVar(&latest, "to-latest", false, "move to the end (skip pending records)")
	cmd.Flags().Int64Var(&offset, "to-offset", 0, "move to this offset in every partition (clamped to what is kept)")
	cmd.Flags().StringVar(&topic, "topic", "", "only this topic (default: every topic the group has offsets for)")
	return cmd
}
