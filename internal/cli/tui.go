package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/tui"
)

func init() { register(newTUICmd) }

func newTUICmd(app *App) *cobra.Command {
	var noColor bool
	cmd := &cobra.Command{
		Use:   "tui",
		Short: "Open the terminal UI on the stack already running from this devstack.yaml",
		Long: "Attach the terminal UI (services, logs, topics, messages, consumer groups, gateway) to a stack\n" +
			"started by `devstack up` in another terminal. Quitting the UI leaves the stack running.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !isTerminal(app.Stdout) || !isTerminal(app.Stdin) {
				return errors.New("devstack tui needs an interactive terminal; in scripts use `devstack status` or `devstack logs -f`")
			}
			c, err := app.Client()
			if err != nil {
				return err
			}
			if _, err := c.Snapshot(cmd.Context()); err != nil {
				return fmt.Errorf("attach to the running stack: %w", err)
			}
			return tui.Run(cmd.Context(), c, tui.Options{NoColor: noColor, Version: Version})
		},
	}
	cmd.Flags().BoolVar(&noColor, "no-color", false, "plain text without colours (NO_COLOR=1 does the same)")
	return cmd
}
