package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// actionlint checks the generated GitHub workflow (pinned; built once into the Go build cache).
const actionlint = "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"

func TestCIGitHubWorkflowPassesActionlint(t *testing.T) {
	dir, _ := stackDir(t, bareStack)
	out, code := run(t, dir, "ci", "github", "--version", "v1.2.3")
	if code != 0 {
		t.Fatalf("devstack ci github: exit %d:\n%s", code, out)
	}
	wf := filepath.Join(dir, ".github", "workflows", "devstack.yml")
	b, err := os.ReadFile(wf)
	if err != nil {
		t.Fatalf("no workflow written: %v\n%s", err, out)
	}
	for _, want := range []string{
		"go install github.com/devstack-dev/devstack/cmd/devstack@v1.2.3",
		"devstack test --junit devstack-junit.xml",
		"cache: npm", "cache: pip", "cache-dependency-path: \"**/go.sum\"",
		"mikepenz/action-junit-report@v5", "report_paths: devstack-junit.xml",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("workflow lacks %q:\n%s", want, b)
		}
	}
	cmd := exec.Command("go", "run", actionlint, "-no-color", wf)
	cmd.Dir = dir
	if lint, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("actionlint: %v\n%s\n%s", err, lint, b)
	}

	// a second run does not overwrite a changed file without --force
	if err := os.WriteFile(wf, []byte("# mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := run(t, dir, "ci", "github"); code == 0 || !strings.Contains(out, "--force") {
		t.Errorf("overwrote an existing workflow: exit %d:\n%s", code, out)
	}
	if out, code := run(t, dir, "ci", "circleci"); code == 0 || !strings.Contains(out, "github, gitlab") {
		t.Errorf("unknown host: exit %d:\n%s", code, out)
	}
}

func TestCIGitLabFileShape(t *testing.T) {
	dir, _ := stackDir(t, bareStack)
	out, code := run(t, dir, "ci", "gitlab", "--version", "v1.2.3", "--junit", "reports/junit.xml", "--output", "ci.yml")
	if code != 0 {
		t.Fatalf("devstack ci gitlab: exit %d:\n%s", code, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "ci.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Stages []string `yaml:"stages"`
		Job    struct {
			Stage        string   `yaml:"stage"`
			Image        string   `yaml:"image"`
			BeforeScript []string `yaml:"before_script"`
			Script       []string `yaml:"script"`
			Cache        struct {
				Key   string   `yaml:"key"`
				Paths []string `yaml:"paths"`
			} `yaml:"cache"`
			Artifacts struct {
				When    string `yaml:"when"`
				Reports struct {
					JUnit string `yaml:"junit"`
				} `yaml:"reports"`
			} `yaml:"artifacts"`
		} `yaml:"devstack-test"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("not the expected GitLab CI shape: %v\n%s", err, b)
	}
	j := doc.Job
	problems := []string{}
	check := func(ok bool, what string) {
		if !ok {
			problems = append(problems, what)
		}
	}
	check(len(doc.Stages) == 1 && j.Stage == doc.Stages[0], "the job's stage is one of stages")
	check(strings.HasPrefix(j.Image, "golang:"), "a Go image")
	check(strings.Contains(strings.Join(j.BeforeScript, "\n"), "go install github.com/devstack-dev/devstack/cmd/devstack@v1.2.3"), "go install at the version")
	check(len(j.Script) == 1 && j.Script[0] == "devstack test --junit reports/junit.xml", "script runs devstack test --junit")
	check(j.Cache.Key != "" && strings.Contains(strings.Join(j.Cache.Paths, " "), ".cache/go/pkg/mod") &&
		strings.Contains(strings.Join(j.Cache.Paths, " "), ".cache/npm") && strings.Contains(strings.Join(j.Cache.Paths, " "), ".cache/pip"), "Go, npm and pip caches")
	check(j.Artifacts.When == "always" && j.Artifacts.Reports.JUnit == "reports/junit.xml", "artifacts:reports:junit always")
	if len(problems) > 0 {
		t.Errorf("GitLab CI file: %s\n%s", strings.Join(problems, "; "), b)
	}
}
