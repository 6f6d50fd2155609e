package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/devstack-dev/devstack/internal/config"
)

// isolate points a `devstack test` run at a throwaway state directory (its own PostgreSQL data,
// broker log, service logs and control endpoint) and free ports for every component, so it runs beside
// a `devstack up` of the same checkout and leaves that stack's databases, topics and consumer groups
// alone. The returned cleanup removes the directory once the stack has stopped; after a failed run it
// keeps only its logs/ (they explain the failure) and prints where.
func (a *App) isolate(cfg *config.Config) (cleanup func(error), err error) {
	dir, err := os.MkdirTemp("", "devstack-test-"+safeName(cfg.Name)+"-")
	if err != nil {
		return nil, fmt.Errorf("create the test run's state dir: %w (pass --no-isolation to use %s)", err, cfg.StateDirPath())
	}
	cfg.StateDir = dir
	a.addOverride(func(c *config.Config) { c.StateDir = dir })
	if _, err := a.useFreePorts(cfg); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return func(runErr error) {
		if runErr != nil {
			// the services' full logs explain the failure: kept, the data goes
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if e.Name() != "logs" {
					os.RemoveAll(filepath.Join(dir, e.Name()))
				}
			}
			if logs, _ := os.ReadDir(filepath.Join(dir, "logs")); len(logs) > 0 {
				fmt.Fprintf(a.Stderr, "devstack test: the run's logs are kept in %s; remove it when done\n", filepath.Join(dir, "logs"))
				return
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintf(a.Stderr, "devstack test: remove %s: %v\n", dir, err)
		}
	}, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func safeName(s string) string {
	s = unsafeName.ReplaceAllString(s, "_")
	if len(s) > 32 {
		s = s[:32]
	}
	return s
}
