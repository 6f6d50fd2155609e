package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/postgres"
	"github.com/devstack-dev/devstack/internal/stack"
)

// Version is set at build time with -ldflags "-X github.com/devstack-dev/devstack/internal/cli.Version=…"
// (the Makefile and .goreleaser.yaml do). Without it, `devstack version` reports the main module's
// version from the build info, which `go install …@v1.2.3` sets.
var Version = "dev"

// Commit may be set the same way (…/internal/cli.Commit=<sha>); without it the build info's vcs.revision
// is used, which go build records in a git checkout (not in a git worktree, nor with -buildvcs=false).
var Commit = ""

func init() { register(newVersionCmd) }

// versionInfo is what `devstack version --json` prints.
type versionInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Modified bool   `json:"modified,omitempty"` // built from a work tree with uncommitted changes
	Go       string `json:"go"`
	Platform string `json:"platform"`
	// Components are the modules devstack embeds, with the versions it was built with.
	Components []component `json:"components"`
	PostgreSQL pgInfo      `json:"postgresql"`
}

type component struct {
	Name    string `json:"name"`
	Module  string `json:"module"`
	Version string `json:"version"`
}

type pgInfo struct {
	Version string `json:"version,omitempty"`
	Source  string `json:"source"` // bin_dir, local, download, download (not yet)
	Dir     string `json:"dir,omitempty"`
	Error   string `json:"error,omitempty"`
}

// embedded are the modules whose versions `devstack version` reports.
var embedded = []struct{ name, module string }{
	{"franz-go", "github.com/twmb/franz-go"},
	{"kfake", "github.com/twmb/franz-go/pkg/kfake"},
	{"embedded-postgres", "github.com/fergusstrange/embedded-postgres"},
}

func newVersionCmd(app *App) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print devstack's version, commit and the versions of what it embeds",
		Long: `Print devstack's version (set at build time, or the module version go install records), the
commit it was built from, the Go version, the franz-go and kfake versions of the embedded broker, and
the PostgreSQL it runs: postgres.bin_dir, else a local install, else a download (cached, or the build it
would fetch). postgres.bin_dir and postgres.version come from devstack.yaml when one is found.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info := buildVersionInfo(cmd.Context(), app)
			if asJSON {
				return writeJSON(app, info)
			}
			printVersion(app, info)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func buildVersionInfo(ctx context.Context, app *App) versionInfo {
	info := versionInfo{Version: Version, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		info.Version = mainVersion(Version, bi)
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
		if Commit != "" && Commit != info.Commit {
			info.Commit, info.Modified = Commit, false
		}
		for _, e := range embedded {
			v := "(not in build info)"
			for _, d := range bi.Deps {
				if d.Path == e.module {
					v = d.Version
					if d.Replace != nil {
						v = d.Replace.Version + " (replaced by " + d.Replace.Path + ")"
					}
				}
			}
			info.Components = append(info.Components, component{Name: e.name, Module: e.module, Version: v})
		}
	}
	opts := postgres.Options{}
	if cfg, err := app.Config(); err == nil {
		opts = stack.PostgresOptions(cfg)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	b, err := postgres.Which(ctx, opts)
	info.PostgreSQL = pgInfo{Version: b.Version, Source: b.Source, Dir: b.Dir}
	if err != nil {
		info.PostgreSQL.Error = err.Error()
	}
	return info
}

// mainVersion is the version set with -ldflags, else the main module's version as go install records
// it ("v1.2.3", or a pseudo-version for a commit), else "dev" (go build in a checkout without VCS info).
func mainVersion(ldflags string, bi *debug.BuildInfo) string {
	if ldflags != "" && ldflags != "dev" {
		return ldflags
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	return "dev"
}

func printVersion(app *App, info versionInfo) {
	w := app.Stdout
	fmt.Fprintf(w, "devstack %s\n", info.Version)
	commit := info.Commit
	if commit == "" {
		commit = "unknown (built without VCS information)"
	}
	if info.Modified {
		commit += " (modified)"
	}
	fmt.Fprintf(w, "  commit      %s\n", commit)
	fmt.Fprintf(w, "  go          %s %s\n", info.Go, info.Platform)
	for _, c := range info.Components {
		fmt.Fprintf(w, "  %-11s %s\n", c.Name, c.Version)
	}
	pg := info.PostgreSQL
	switch {
	case pg.Error != "":
		fmt.Fprintf(w, "  postgresql  %s: %s\n", pg.Source, pg.Error)
	case pg.Dir != "":
		fmt.Fprintf(w, "  postgresql  %s (%s, %s)\n", pg.Version, pg.Source, pg.Dir)
	default:
		fmt.Fprintf(w, "  postgresql  %s (none installed: downloaded on first start)\n", pg.Version)
	}
}
