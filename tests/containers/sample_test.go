// Package containers runs the sample stack's test suite with `devstack test --containers`: real Apache Kafka
// and PostgreSQL in Docker (testcontainers-go) instead of the embedded ones, on a copy of the sample stack
// (internal/stackcopy) with its own name and free ports, so it runs beside other stacks.
//
// It needs a Docker engine and the sample services' dependencies (make test-deps), and runs only with
// DEVSTACK_REQUIRE_CONTAINERS=1 (make test-containers, which starts an engine with scripts/docker-engine.sh
// and builds the local images of images/build.sh; without an engine it then fails). DEVSTACK_KAFKA_IMAGE and
// DEVSTACK_POSTGRES_IMAGE name the images (default: devstack.yaml's defaults, the official ones).
package containers

import (
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/containers"
	"github.com/devstack-dev/devstack/internal/stackcopy"
	"github.com/devstack-dev/devstack/internal/testkit"
)

func root(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// edit replaces old (which must occur once) by new in the copy's devstack.yaml text.
func edit(t *testing.T, s *string, old, new string) {
	t.Helper()
	if strings.Count(*s, old) != 1 {
		t.Fatalf("the sample's devstack.yaml no longer has exactly one %q; update this test", old)
	}
	*s = strings.Replace(*s, old, new, 1)
}

type junit struct {
	Suites []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Errors   int    `xml:"errors,attr"`
	} `xml:"testsuite"`
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
}

// TestSampleSuiteWithContainers: `devstack test --containers` on the sample stack is green, with the broker
// and the database being the containers (their data volumes are there afterwards).
func TestSampleSuiteWithContainers(t *testing.T) {
	if os.Getenv("DEVSTACK_REQUIRE_CONTAINERS") != "1" {
		t.Skip("runs the whole sample suite against containers: make test-containers runs it (DEVSTACK_REQUIRE_CONTAINERS=1)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := containers.Available(ctx); err != nil {
		t.Fatalf("DEVSTACK_REQUIRE_CONTAINERS=1: %v", err)
	}
	bin := testkit.DevstackBinary(t)
	src := root(t)
	dir := t.TempDir()
	if _, err := stackcopy.Copy(src, dir, "sample-services", "schemas"); err != nil {
		t.Fatal(err)
	}

	// the copy: its own name (the containers' and volumes' names), the images under test, and the e2e suite
	// of this tree (the copy's e2e/ is empty: the suite is a package of this module). The hot-reload test is
	// left out: it starts a third stack, with the embedded infrastructure, and edits sources.
	cfgPath := filepath.Join(dir, "devstack.yaml")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	name := fmt.Sprintf("devstack-ctr-%d", testkit.FreePort(t))
	edit(t, &cfg, "\nname: devstack-sample\n", "\nname: "+name+"\n")
	if img := os.Getenv("DEVSTACK_KAFKA_IMAGE"); img != "" {
		edit(t, &cfg, "\nbroker:\n", "\nbroker:\n  image: "+img+"\n")
	}
	if img := os.Getenv("DEVSTACK_POSTGRES_IMAGE"); img != "" {
		edit(t, &cfg, "\npostgres:\n", "\npostgres:\n  image: "+img+"\n")
	}
	edit(t, &cfg, "    dir: e2e\n    command: go test -tags e2e -count=1 -v -timeout 25m ./...\n",
		"    dir: "+filepath.Join(src, "e2e")+"\n    command: go test -tags e2e -count=1 -v -timeout 25m -skip TestHotReload ./...\n")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		if err := containers.RemoveVolumes(cctx, name); err != nil {
			t.Error(err)
		}
	})

	report := filepath.Join(dir, "junit.xml")
	cmd := exec.CommandContext(ctx, bin, "test", "--containers", "--junit", report)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	for _, k := range []string{"GATEWAY_PORT", "GATEWAY_HTTPS_PORT", "BROKER_PORT", "POSTGRES_PORT", "CONTROL_PORT", "REGISTRY_PORT", "TELEMETRY_PORT", "OTLP_GRPC_PORT"} {
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", k, testkit.FreePort(t)))
	}
	cmd.Env = append(cmd.Env, "GATEWAY_URL=", "KAFKA_BROKERS=", "DATABASE_URL=")
	cmd.WaitDelay = time.Minute
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("devstack test --containers took %s", time.Since(start).Round(time.Second))
	if err != nil {
		t.Fatalf("devstack test --containers: %v\n%s", err, out)
	}

	rb, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("no JUnit report: %v\n%s", err, out)
	}
	var r junit
	if err := xml.Unmarshal(rb, &r); err != nil {
		t.Fatalf("JUnit report: %v\n%s", err, rb)
	}
	tests, failures := r.Tests, r.Failures+r.Errors
	for _, s := range r.Suites {
		t.Logf("suite %s: %d tests, %d failed", s.Name, s.Tests, s.Failures+s.Errors)
		if r.Tests == 0 {
			tests += s.Tests
			failures += s.Failures + s.Errors
		}
	}
	if tests < 2 || failures != 0 {
		t.Fatalf("JUnit report: %d tests, %d failed; want the sample's suites, all passing\n%s\n%s", tests, failures, rb, out)
	}

	// the suite ran against the containers: their data volumes are there
	vols, err := exec.CommandContext(ctx, "docker", "volume", "ls", "--format", "{{.Name}}").Output()
	if err != nil {
		t.Logf("docker volume ls: %v (the docker CLI is needed for this check only)", err)
		return
	}
	for _, v := range []string{"devstack-" + name + "-kafka-data", "devstack-" + name + "-pgdata"} {
		if !strings.Contains("\n"+string(vols), "\n"+v+"\n") {
			t.Errorf("no volume %s after the run: the stack did not use the containers (volumes: %s)", v, vols)
		}
	}
}
