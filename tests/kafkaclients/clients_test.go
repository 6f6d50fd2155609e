package kafkaclients

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DEVSTACK_REQUIRE_ALL=1 turns a missing Node or Python client into a failure instead of a skip.
const envRequireAll = "DEVSTACK_REQUIRE_ALL"

const (
	partitions   = 4                // of each pre-created topic
	phaseTimeout = 90 * time.Second // per driver phase
)

type client struct {
	name    string
	driver  driver
	missing string // why the client cannot run here; "" when it can
}

// clients lists every client the suite drives, with why it is unavailable where it is.
func clients(t *testing.T) []client {
	nodeDir, _ := filepath.Abs("node")
	pyDir, _ := filepath.Abs("python")
	py := filepath.Join(pyDir, ".venv", "bin", "python")
	const setup = "run tests/kafkaclients/setup.sh"

	nodeMissing := func(pkg string) string {
		if _, err := exec.LookPath("node"); err != nil {
			return "node is not on PATH (install Node.js 20 or newer)"
		}
		return pinnedNodeMissing(nodeDir, pkg, setup)
	}
	pyMissing := func(module, dist, reqFile, pythonPath string) string {
		return pinnedPythonMissing(py, pyDir, module, dist, reqFile, pythonPath, setup)
	}
	nodeDriver := func(name string) execDriver {
		return execDriver{name: name, argv: []string{"node", "driver.mjs", "--client", name}, dir: nodeDir}
	}
	pyDriver := func(name, lib string, env ...string) execDriver {
		return execDriver{name: name, argv: []string{py, "driver.py", "--client", lib}, dir: pyDir, env: env}
	}
	kp2 := filepath.Join(pyDir, ".venv", "kafka-python-2")
	return []client{
		{name: "franz-go", driver: franzDriver{}},
		{name: "sarama", driver: saramaDriver{}},
		{name: "kafkajs", driver: nodeDriver("kafkajs"), missing: nodeMissing("kafkajs")},
		{name: "nestjs", driver: nodeDriver("nestjs"), missing: nodeMissing("@nestjs/microservices")},
		{name: "confluent-kafka", driver: pyDriver("confluent-kafka", "confluent-kafka"), missing: pyMissing("confluent_kafka", "confluent-kafka", "requirements.txt", "")},
		{name: "kafka-python", driver: pyDriver("kafka-python", "kafka-python"), missing: pyMissing("kafka", "kafka-python", "requirements.txt", "")},
		{name: "kafka-python-2.0", driver: pyDriver("kafka-python-2.0", "kafka-python", "PYTHONPATH="+kp2), missing: pyMissing("kafka", "kafka-python", "requirements-kafka-python-2.txt", kp2)},
	}
}

// pinnedNodeMissing checks that node_modules holds pkg at the version package.json pins.
func pinnedNodeMissing(nodeDir, pkg, setup string) string {
	var manifest struct {
		Dependencies map[string]string `json:"dependencies"`
		Version      string            `json:"version"`
	}
	b, err := os.ReadFile(filepath.Join(nodeDir, "package.json"))
	if err != nil || json.Unmarshal(b, &manifest) != nil {
		return fmt.Sprintf("cannot read %s/package.json: %v", nodeDir, err)
	}
	want := manifest.Dependencies[pkg]
	installed := filepath.Join(nodeDir, "node_modules", pkg, "package.json")
	b, err = os.ReadFile(installed)
	if err != nil {
		return fmt.Sprintf("%s is not installed in %s/node_modules (%s)", pkg, nodeDir, setup)
	}
	manifest.Version = ""
	if json.Unmarshal(b, &manifest) != nil || manifest.Version != want {
		return fmt.Sprintf("%s %s is installed but package.json pins %s (%s)", pkg, manifest.Version, want, setup)
	}
	return ""
}

// pinnedPythonMissing checks that the venv imports module at the version reqFile pins for dist.
func pinnedPythonMissing(py, pyDir, module, dist, reqFile, pythonPath, setup string) string {
	b, err := os.ReadFile(filepath.Join(pyDir, reqFile))
	if err != nil {
		return fmt.Sprintf("cannot read %s: %v", reqFile, err)
	}
	want := pinnedVersion(string(b), dist)
	if want == "" {
		return fmt.Sprintf("%s pins no version of %s", reqFile, dist)
	}
	if _, err := os.Stat(py); err != nil {
		return fmt.Sprintf("no Python venv at %s (%s)", filepath.Dir(filepath.Dir(py)), setup)
	}
	cmd := exec.Command(py, "-c", "import importlib.metadata as m, "+module+"; print(m.version('"+dist+"'))")
	cmd.Env = os.Environ()
	if pythonPath != "" {
		if _, err := os.Stat(pythonPath); err != nil {
			return fmt.Sprintf("%s %s is not installed at %s (%s)", dist, want, pythonPath, setup)
		}
		cmd.Env = append(cmd.Env, "PYTHONPATH="+pythonPath)
	}
	out, err := cmd.Output()
	got := strings.TrimSpace(string(out))
	if err != nil {
		return fmt.Sprintf("the venv cannot import %s (%v; %s)", module, err, setup)
	}
	if got != want {
		return fmt.Sprintf("%s %s is installed but %s pins %s (%s)", dist, got, reqFile, want, setup)
	}
	return ""
}

// pinnedVersion is the version a requirements file pins dist to ("dist==v" or "dist[extras]==v"), or "".
func pinnedVersion(requirements, dist string) string {
	want := ""
	sc := bufio.NewScanner(strings.NewReader(requirements))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if name, rest, ok := strings.Cut(line, "["); ok && name == dist {
			if _, after, ok := strings.Cut(rest, "]"); ok {
				line = name + after
			}
		}
		if v, ok := strings.CutPrefix(line, dist+"=="); ok {
			want = v
		}
	}
	return want
}

// scenario is one client's run through the stages; a failed stage skips the client's later ones.
type scenario struct {
	client
	broker *brokerProc
	failed bool

	// What the broker must hold, by the clients' own account: records acknowledged per topic, its
	// partitions, and records consumed and committed per group (its committed offsets add up to that).
	acked     map[string]int
	parts     map[string]int
	committed map[[2]string]int // {group, topic}
}

func (s *scenario) note(topic, group string, parts, acked, committed int) {
	if s.acked == nil {
		s.acked, s.parts, s.committed = map[string]int{}, map[string]int{}, map[[2]string]int{}
	}
	s.acked[topic] += acked
	if parts > 0 {
		s.parts[topic] = parts
	}
	if group != "" {
		s.committed[[2]string{group, topic}] += committed
	}
}

// checkHeld asks the broker directly (kadm, no consumer group) whether it still holds every
// acknowledged record and every committed offset, so a loss shows as a count before any client runs.
func (s *scenario) checkHeld(t *testing.T) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.broker.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for topic, want := range s.acked {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			t.Errorf("%s: end offsets: %v", topic, err)
			continue
		}
		held, n := int64(0), 0
		ends.Each(func(o kadm.ListedOffset) { held += o.Offset; n++ })
		if n != s.parts[topic] {
			t.Errorf("%s has %d partitions, want %d", topic, n, s.parts[topic])
		}
		if held != int64(want) {
			t.Errorf("%s holds %d records, want the %d acknowledged with acks=all", topic, held, want)
		}
	}
	for gt, want := range s.committed {
		offs, err := adm.FetchOffsets(ctx, gt[0])
		if err == nil {
			err = offs.Error()
		}
		if err != nil {
			t.Errorf("group %s: committed offsets: %v", gt[0], err)
			continue
		}
		sum := int64(0)
		for _, o := range offs[gt[1]] {
			sum += o.At
		}
		if sum != int64(want) {
			t.Errorf("group %s: committed offsets on %s add up to %d, want %d (records consumed and committed)", gt[0], gt[1], sum, want)
		}
	}
}

func (s *scenario) run(t *testing.T, p phase) result {
	t.Helper()
	p.Brokers = s.broker.addr
	ctx, cancel := context.WithTimeout(context.Background(), phaseTimeout)
	defer cancel()
	start := time.Now()
	res, err := s.driver.run(ctx, t, p)
	t.Logf("%s %s %s %d..%d: %s", s.name, p.Kind, p.Topic, p.From, p.From+p.Count-1, time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("%s %s on %s (group %q, records %d..%d): %v%s", s.name, p.Kind, p.Topic, p.Group, p.From, p.From+p.Count-1, err, s.broker.exitReport())
	}
	return res
}

func (s *scenario) produce(t *testing.T, topic string, from, count int) {
	t.Helper()
	res := s.run(t, phase{Kind: "produce", Topic: topic, From: from, Count: count})
	if res.Acked != count {
		t.Fatalf("%s produced %d..%d to %s: %d acknowledged, want %d", s.name, from, from+count-1, topic, res.Acked, count)
	}
	s.note(topic, "", 0, count, 0)
}

// group checks that two members shared the partitions and together saw each new record exactly once.
func (s *scenario) group(t *testing.T, topic, group string, parts, from, count int) {
	t.Helper()
	res := s.run(t, phase{Kind: "group", Topic: topic, Group: group, Partitions: parts, From: from, Count: count})
	if probs := checkConsumed(res, 2, parts, from, count); len(probs) > 0 {
		t.Fatalf("%s group %s on %s, records %d..%d:\n  %s", s.name, group, topic, from, from+count-1, strings.Join(probs, "\n  "))
	}
	s.note(topic, group, parts, count, count)
}

// resume checks that a member resuming the group saw exactly the records produced since its last commit.
func (s *scenario) resume(t *testing.T, topic, group string, parts, from, count int) {
	t.Helper()
	res := s.run(t, phase{Kind: "resume", Topic: topic, Group: group, Partitions: parts, From: from, Count: count})
	if probs := checkConsumed(res, 1, parts, from, count); len(probs) > 0 {
		t.Fatalf("%s resuming group %s on %s, want exactly records %d..%d:\n  %s", s.name, group, topic, from, from+count-1, strings.Join(probs, "\n  "))
	}
	s.note(topic, group, parts, 0, count)
}

// checkConsumed lists what is wrong with a consume result: the members must have shared all partitions,
// consumed only from their own partitions in offset order, and together seen each wanted record once
// and nothing else.
func checkConsumed(res result, members, parts, from, count int) []string {
	var probs []string
	if len(res.Members) != members {
		return []string{fmt.Sprintf("%d members reported, want %d", len(res.Members), members)}
	}
	if !sharesAll(res.Members, parts) {
		probs = append(probs, fmt.Sprintf("members did not share the %d partitions, each at least one: %s", parts, describeAssigned(res.Members)))
	}
	want := map[string]bool{}
	for id := from; id < from+count; id++ {
		want[value(id)] = true
	}
	seen := map[string][]string{}
	for _, m := range res.Members {
		mine := map[int32]bool{}
		for _, p := range m.Assigned {
			mine[p] = true
		}
		last := map[int32]int64{}
		for _, r := range m.Records {
			where := fmt.Sprintf("%s p%d@%d", m.Name, r.P, r.O)
			seen[r.V] = append(seen[r.V], where)
			if !mine[r.P] {
				probs = append(probs, fmt.Sprintf("%s: %s got a record of partition %d, which was not assigned to it", r.V, m.Name, r.P))
			}
			if o, ok := last[r.P]; ok && r.O <= o {
				probs = append(probs, fmt.Sprintf("%s: %s got offset %d of partition %d after offset %d", r.V, m.Name, r.O, r.P, o))
			}
			last[r.P] = r.O
		}
	}
	var missing []string
	for id := from; id < from+count; id++ {
		v := value(id)
		switch n := len(seen[v]); {
		case n == 0:
			missing = append(missing, v)
		case n > 1:
			probs = append(probs, fmt.Sprintf("%s delivered %d times (%s)", v, n, strings.Join(seen[v], ", ")))
		}
	}
	if len(missing) > 0 {
		probs = append(probs, "never delivered: "+strings.Join(missing, " "))
	}
	var extra []string
	for v, where := range seen {
		if !want[v] {
			extra = append(extra, fmt.Sprintf("%s (%s)", v, strings.Join(where, ", ")))
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		probs = append(probs, "delivered but not expected (old records again, or records never produced): "+strings.Join(extra, "; "))
	}
	return probs
}

func summarize(ms []member) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, fmt.Sprintf("%s assigned %v, %d records", m.Name, m.Assigned, len(m.Records)))
	}
	return strings.Join(parts, "; ")
}

// stage runs fn for every scenario that has not failed yet, as subtests named after the clients.
func stage(t *testing.T, name string, ss []*scenario, fn func(t *testing.T, s *scenario)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		for _, s := range ss {
			t.Run(s.name, func(t *testing.T) {
				if s.failed {
					t.Skipf("%s failed an earlier stage", s.name)
				}
				defer func() {
					if t.Failed() {
						s.failed = true
					}
					if !s.broker.running() {
						t.Fatalf("the broker exited while %s ran%s", s.name, s.broker.exitReport())
					}
				}()
				fn(t, s)
			})
		}
	})
}

// createTopicsN creates the topics names with parts partitions each.
func createTopicsN(t *testing.T, addr string, parts int32, names ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resps, err := kadm.NewClient(cl).CreateTopics(ctx, parts, 1, nil, names...)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		t.Fatalf("create topics %v: %v", names, err)
	}
}

// isMissing says whether a client is missing (why in missing): a test error when envRequireAll=1
// requires every client, else a skipped subtest named for it.
func isMissing(t *testing.T, name, missing string) bool {
	t.Helper()
	if missing == "" {
		return false
	}
	if os.Getenv(envRequireAll) == "1" {
		t.Errorf("%s: %s (%s=1 requires every client)", name, missing, envRequireAll)
	} else {
		t.Run(name, func(t *testing.T) { t.Skipf("%s: %s", name, missing) })
	}
	return true
}

// TestRealClients runs every client through the scenario of issue 3 against a broker process:
//
//	fresh broker:   two members share a 4-partition topic and together consume 40 new records exactly
//	                once, committing; with no consumer running 20 more are produced and a member resuming
//	                the group gets exactly those; 20 more are produced and left unconsumed.
//	SIGTERM, start: the broker, asked directly, holds every acknowledged record and committed offset;
//	                resuming gets exactly the 20 unconsumed records; 20 more are produced.
//	SIGKILL, start: the same direct check; resuming gets exactly those 20 (acknowledged records and
//	                committed offsets survived the kill); two members share the topic again for 40 new
//	                records.
//
// Auto-created topics are covered by the kafka-python clients (2.0 sends Metadata v1, 3.x v4+): a topic
// created by producing to it before each restart must keep its records and offsets across both.
func TestRealClients(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker process and drives six client libraries; skipped with -short")
	}
	var full []*scenario
	for _, c := range clients(t) {
		if isMissing(t, c.name, c.missing) {
			continue
		}
		full = append(full, &scenario{client: c})
	}
	if t.Failed() {
		t.FailNow()
	}
	if len(full) == 0 {
		t.Skip("no client available")
	}

	b := startBroker(t)
	var auto []*scenario
	var topics []string
	for _, s := range full {
		s.broker = b
		topics = append(topics, "kc."+s.name)
		if strings.HasPrefix(s.name, "kafka-python") {
			a := *s
			auto = append(auto, &a)
		}
	}
	createTopicsN(t, b.addr, partitions, topics...)
	topic := func(s *scenario) string { return "kc." + s.name }
	grp := func(s *scenario) string { return "kc." + s.name + ".g" }
	// Auto-created topics: auto1 before the SIGTERM, auto2 after it (so only the SIGKILL stands
	// between its creation and the check). The broker creates them with 1 partition.
	auto1 := func(s *scenario) string { return "kc.auto1." + s.name }
	auto2 := func(s *scenario) string { return "kc.auto2." + s.name }

	everyone := append(append([]*scenario(nil), full...), auto...)
	held := func(t *testing.T, s *scenario) { s.checkHeld(t) }

	stage(t, "fresh", full, func(t *testing.T, s *scenario) {
		s.group(t, topic(s), grp(s), partitions, 0, 40)
		s.produce(t, topic(s), 40, 20)
		s.resume(t, topic(s), grp(s), partitions, 40, 20)
		s.produce(t, topic(s), 60, 20)
	})
	stage(t, "fresh-autocreate", auto, func(t *testing.T, s *scenario) {
		s.produce(t, auto1(s), 0, 20)
		s.resume(t, auto1(s), auto1(s)+".g", 1, 0, 20)
		s.produce(t, auto1(s), 20, 20)
	})

	b.restart(syscall.SIGTERM)
	stage(t, "held-after-sigterm", everyone, held)

	stage(t, "after-sigterm", full, func(t *testing.T, s *scenario) {
		s.resume(t, topic(s), grp(s), partitions, 60, 20)
		s.produce(t, topic(s), 80, 20)
	})
	stage(t, "after-sigterm-autocreate", auto, func(t *testing.T, s *scenario) {
		s.resume(t, auto1(s), auto1(s)+".g", 1, 20, 20)
		s.produce(t, auto1(s), 40, 20)
		s.produce(t, auto2(s), 0, 20)
		s.resume(t, auto2(s), auto2(s)+".g", 1, 0, 20)
		s.produce(t, auto2(s), 20, 10)
	})

	b.restart(syscall.SIGKILL)
	stage(t, "held-after-sigkill", everyone, held)

	stage(t, "after-sigkill", full, func(t *testing.T, s *scenario) {
		s.resume(t, topic(s), grp(s), partitions, 80, 20)
		s.group(t, topic(s), grp(s), partitions, 100, 40)
	})
	stage(t, "after-sigkill-autocreate", auto, func(t *testing.T, s *scenario) {
		s.resume(t, auto1(s), auto1(s)+".g", 1, 40, 20)
		s.resume(t, auto2(s), auto2(s)+".g", 1, 20, 10)
		// Producing to the same name again must append, not resurrect old records.
		s.produce(t, auto2(s), 30, 10)
		s.resume(t, auto2(s), auto2(s)+".g", 1, 30, 10)
	})
}
