package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X github.com/devstack-dev/devstack/internal/cli.Version=…".
var Version = "dev"

func init() { register(newVersionCmd) }

func newVersionCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print devstack's version and the versions of what it embeds",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Fprintf(app.Stdout, "devstack %s (%s, %s/%s)\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, d := range bi.Deps {
					switch d.Path {
					case "github.com/twmb/franz-go/pkg/kfake", "github.com/twmb/franz-go", "github.com/fergusstrange/embedded-postgres":
						fmt.Fprintf(app.Stdout, "  %s %s\n", d.Path, d.Version)
					}
				}
			}
		},
	}
}
