package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// goreleaserConfig is the part of .goreleaser.yaml checked here.
type goreleaserConfig struct {
	Version int `yaml:"version"`
	Builds  []struct {
		Main    string   `yaml:"main"`
		Binary  string   `yaml:"binary"`
		Env     []string `yaml:"env"`
		GOOS    []string `yaml:"goos"`
		GOARCH  []string `yaml:"goarch"`
		Flags   []string `yaml:"flags"`
		LDFlags []string `yaml:"ldflags"`
	} `yaml:"builds"`
	Archives []struct {
		Formats []string `yaml:"formats"`
		Files   []string `yaml:"files"`
	} `yaml:"archives"`
	Checksum struct {
		NameTemplate string `yaml:"name_template"`
		Algorithm    string `yaml:"algorithm"`
	} `yaml:"checksum"`
}

// TestGoReleaserConfig is the check `make test` runs instead of `goreleaser check` when the pinned
// GoReleaser is not built (building it takes most of an hour on a fresh machine, see the Makefile):
// .goreleaser.yaml is GoReleaser v2 config with strict fields for what it sets, builds
// linux/darwin × amd64/arm64 with the version and commit ldflags, archives as tar.gz with checksums,
// and each of the four targets compiles with those flags.
func TestGoReleaserConfig(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, ".goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c goreleaserConfig
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf(".goreleaser.yaml: %v", err)
	}
	if c.Version != 2 {
		t.Errorf("version: %d, want 2 (GoReleaser v2)", c.Version)
	}
	if len(c.Builds) != 1 {
		t.Fatalf("%d builds, want 1", len(c.Builds))
	}
	bd := c.Builds[0]
	slices.Sort(bd.GOOS)
	slices.Sort(bd.GOARCH)
	if bd.Main != "./cmd/devstack" || bd.Binary != "devstack" ||
		!slices.Equal(bd.GOOS, []string{"darwin", "linux"}) || !slices.Equal(bd.GOARCH, []string{"amd64", "arm64"}) {
		t.Errorf("build: main %q binary %q goos %v goarch %v", bd.Main, bd.Binary, bd.GOOS, bd.GOARCH)
	}
	ld := strings.Join(bd.LDFlags, " ")
	for _, want := range []string{modulePath + "/internal/cli.Version={{ .Version }}", modulePath + "/internal/cli.Commit={{ .FullCommit }}"} {
		if !strings.Contains(ld, "-X "+want) {
			t.Errorf("ldflags lack -X %s: %s", want, ld)
		}
	}
	if len(c.Archives) == 0 || !slices.Equal(c.Archives[0].Formats, []string{"tar.gz"}) {
		t.Errorf("archives: %+v, want tar.gz", c.Archives)
	}
	for _, a := range c.Archives {
		for _, f := range a.Files {
			if m, _ := filepath.Glob(filepath.Join(root, f)); len(m) == 0 {
				t.Errorf("archives.files %q matches nothing", f)
			}
		}
	}
	if c.Checksum.Algorithm != "sha256" || c.Checksum.NameTemplate == "" {
		t.Errorf("checksum: %+v", c.Checksum)
	}
	if testing.Short() {
		return
	}
	// the four targets compile with the release's flags (templates filled in)
	ldflags := strings.NewReplacer("{{ .Version }}", "v0.0.0-check", "{{ .FullCommit }}", "0000000").Replace(ld)
	for _, goos := range bd.GOOS {
		for _, goarch := range bd.GOARCH {
			args := append([]string{"build", "-o", os.DevNull}, bd.Flags...)
			cmd := exec.Command("go", append(args, "-ldflags", ldflags, bd.Main)...)
			cmd.Dir = root
			cmd.Env = append(append(os.Environ(), bd.Env...), "GOOS="+goos, "GOARCH="+goarch)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s/%s: go build: %v\n%s", goos, goarch, err, out)
			}
		}
	}
}
