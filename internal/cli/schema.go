package cli

import (
	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/config"
)

func init() { register(newSchemaCmd) }

func newSchemaCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of devstack.yaml (for editor completion)",
		Long: "Print the JSON Schema of devstack.yaml. The same schema is committed as\n" +
			"schemas/devstack.schema.json; point your editor's YAML support at it, e.g. with the first line\n" +
			"# yaml-language-server: $schema=./schemas/devstack.schema.json",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			b, err := config.Schema()
			if err != nil {
				return err
			}
			_, err = app.Stdout.Write(b)
			return err
		},
	}
}
