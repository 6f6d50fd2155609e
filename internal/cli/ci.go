package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/devstack-dev/devstack/internal/citemplate"
)

func init() { register(newCICmd) }

func newCICmd(app *App) *cobra.Command {
	var output, junit, version string
	var force bool
	cmd := &cobra.Command{
		Use:       "ci github|gitlab [--output PATH]",
		Short:     "Write a CI configuration that runs devstack test and publishes its JUnit report",
		ValidArgs: citemplate.Names(),
		Long: `Write a ready CI file for GitHub Actions (.github/workflows/devstack.yml) or GitLab CI
(.gitlab-ci.yml), next to devstack.yaml unless --output says where ("-" prints it). It installs this
devstack version with go install, caches Go modules, npm and pip downloads, runs
devstack test --junit, and publishes the report: GitLab's artifacts:reports:junit, GitHub's
job summary and annotations (mikepenz/action-junit-report) plus the XML as an artifact.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			host, err := citemplate.Get(args[0])
			if err != nil {
				return err
			}
			if version == "" {
				version = installVersion()
			}
			root := filepath.Dir(app.ConfigPath)
			o := citemplate.Options{Version: version, GoVersion: goMinor(), JUnit: junit}
			if base := filepath.Base(app.ConfigPath); base != "devstack.yaml" {
				o.Config = base
			}
			b, err := host.Render(o)
			if err != nil {
				return err
			}
			if output == "-" {
				_, err := app.Stdout.Write(b)
				return err
			}
			if output == "" {
				output = filepath.Join(root, host.Path)
			}
			if old, err := os.ReadFile(output); err == nil && !force {
				if bytes.Equal(old, b) {
					fmt.Fprintf(app.Stdout, "%s is up to date\n", output)
					return nil
				}
				return fmt.Errorf("%s exists; use --force to replace it, or --output - to see the new one", output)
			} else if err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(output), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(output, b, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "wrote %s (installs devstack %s)\n", output, version)
			if version == "latest" {
				fmt.Fprintln(app.Stderr, "warning: this devstack has no release version (a development build); the CI file installs the latest release: pass --version to pin one")
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", `file to write ("-" for stdout); default the host's usual path next to devstack.yaml`)
	cmd.Flags().StringVar(&junit, "junit", "devstack-junit.xml", "JUnit report file the CI job writes and publishes")
	cmd.Flags().StringVar(&version, "version", "", "devstack version to install (default: this one's)")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing file")
	return cmd
}

// installVersion is the version go install can fetch for this devstack: a release or pseudo-version
// ("v1.2.3", as the Makefile's git describe of a tag or go install set it), else "latest".
func installVersion() string {
	v := Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = mainVersion(Version, bi)
	}
	if !strings.HasPrefix(v, "v") || strings.HasSuffix(v, "+dirty") || strings.Contains(v, "-dirty") {
		return "latest"
	}
	return v
}

// goMinor is the Go this devstack was built with, as "1.26".
func goMinor() string {
	v := strings.TrimPrefix(runtime.Version(), "go")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) >= 2 {
		return parts[0] + "." + strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })
	}
	return v
}
