package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/config"
)

func init() { register(newValidateCmd) }

func newValidateCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "validate [FILE]",
		Short: "Check devstack.yaml and print every problem with its line and column",
		Long: "Check devstack.yaml (or FILE, or the file given with --file) the way `devstack up` loads it: syntax, unknown\n" +
			"keys, types, references between services, dependency cycles, ports, globs, auth keys.\n" +
			"Prints \"FILE: ok (N services)\" and exits 0, or one line per problem and exits 1.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			path := app.ConfigPath
			if len(args) == 1 {
				path = args[0]
			}
			cfg, err := config.Load(path)
			if err != nil {
				fmt.Fprintln(app.Stderr, err)
				return ExitCode(1)
			}
			for _, w := range cfg.Warnings {
				fmt.Fprintln(app.Stderr, "warning:", w)
			}
			n := len(cfg.Services)
			noun := "services"
			if n == 1 {
				noun = "service"
			}
			fmt.Fprintf(app.Stdout, "%s: ok (%d %s)\n", path, n, noun)
			return nil
		},
	}
}
