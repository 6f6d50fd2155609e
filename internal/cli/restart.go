package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func init() { register(newRestartCmd) }

func newRestartCmd(app *App) *cobra.Command {
	var rebuild bool
	cmd := &cobra.Command{
		Use:   "restart SERVICE...",
		Short: "Restart services of the running stack (with --build: rebuild first)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := app.Client()
			if err != nil {
				return err
			}
			for _, name := range args {
				if rebuild {
					err = c.Rebuild(cmd.Context(), name)
				} else {
					err = c.Restart(cmd.Context(), name)
				}
				if err != nil {
					return fmt.Errorf("restart %s: %w", name, err)
				}
				fmt.Fprintf(app.Stdout, "%s restarted\n", name)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&rebuild, "build", false, "run the build step first and replace the instances (like a file change)")
	return cmd
}
