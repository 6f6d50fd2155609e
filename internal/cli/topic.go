package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/broker"
)

func init() { register(newTopicCmd) }

func newTopicCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topic",
		Short: "Create or delete a topic",
	}
	cmd.AddCommand(newTopicCreateCmd(app), newTopicDeleteCmd(app))
	return cmd
}

func newTopicCreateCmd(app *App) *cobra.Command {
	var (
		bf         brokerFlags
		partitions int
		configs    []string
	)
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a topic",
		Example: "  devstack topic create orders --partitions 6\n" +
			"  devstack topic create users --config cleanup.policy=compact --config retention.ms=-1",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec := broker.TopicSpec{Name: args[0], Partitions: partitions}
			if partitions < 1 {
				return fmt.Errorf("--partitions must be at least 1, not %d", partitions)
			}
			if err := broker.ValidateTopicName(spec.Name); err != nil {
				return err
			}
			for _, kv := range configs {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return fmt.Errorf("--config %q: want key=value, e.g. retention.ms=3600000", kv)
				}
				if spec.Configs == nil {
					spec.Configs = map[string]string{}
				}
				spec.Configs[k] = v
			}
			a, err := bf.admin(cmd.Context(), app)
			if err != nil {
				return err
			}
			defer a.Close()
			if err := a.CreateTopic(cmd.Context(), spec); err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "created topic %s (%d partition%s)\n", spec.Name, partitions, brokerPlural(partitions))
			return nil
		},
	}
	bf.add(cmd)
	cmd.Flags().IntVarP(&partitions, "partitions", "p", 1, "number of partitions")
	cmd.Flags().StringArrayVar(&configs, "config", nil, "topic config key=value (repeatable)")
	return cmd
}

func newTopicDeleteCmd(app *App) *cobra.Command {
	var bf brokerFlags
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a topic and all its records",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := bf.admin(cmd.Context(), app)
			if err != nil {
				return err
			}
			defer a.Close()
			if err := a.DeleteTopic(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "deleted topic %s\n", args[0])
			return nil
		},
	}
	bf.add(cmd)
	return cmd
}

func brokerPlural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
