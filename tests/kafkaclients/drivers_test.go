package kafkaclients

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A phase is one step of the scenario, run by a client's driver.
//
//	produce: write values m-From .. m-(From+Count-1) (keys k-<id>) with acks=all.
//	group:   two members join Group, wait until they share all Partitions, then produce the Count records
//	         with acks=all and consume until together they have every one, committing, then leave.
//	resume:  one member resumes Group from its committed offsets and consumes until it saw the Count
//	         records from From on (anything else it sees is reported), commits and leaves.
type phase struct {
	Kind       string
	Brokers    string
	Topic      string
	Group      string
	Partitions int
	From       int
	Count      int
}

type record struct {
	V string `json:"v"`
	P int32  `json:"p"`
	O int64  `json:"o"`
}

type member struct {
	Name     string   `json:"name"`
	Assigned []int32  `json:"assigned"`
	Records  []record `json:"records"`
}

// result is what a driver reports; the Node and Python drivers print it as JSON.
type result struct {
	Acked   int      `json:"acked"`
	Members []member `json:"members"`
	Error   string   `json:"error"`
}

// A driver runs phases with one client library.
type driver interface {
	run(ctx context.Context, t *testing.T, p phase) (result, error)
}

func value(id int) string { return "m-" + strconv.Itoa(id) }
func key(id int) string   { return "k-" + strconv.Itoa(id) }

// ---- shared in-process consumer bookkeeping ----

type liveMember struct {
	mu       sync.Mutex
	name     string
	assigned map[int32]bool
	records  []record
}

func newLiveMember(name string) *liveMember {
	return &liveMember{name: name, assigned: map[int32]bool{}}
}

func (m *liveMember) setAssigned(ps []int32, on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range ps {
		if on {
			m.assigned[p] = true
		} else {
			delete(m.assigned, p)
		}
	}
}

func (m *liveMember) clearAssigned() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.assigned = map[int32]bool{}
}

func (m *liveMember) add(r record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records = append(m.records, r)
}

func (m *liveMember) snapshot() member {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := member{Name: m.name, Records: append([]record(nil), m.records...)}
	for p := range m.assigned {
		out.Assigned = append(out.Assigned, p)
	}
	sort.Slice(out.Assigned, func(i, j int) bool { return out.Assigned[i] < out.Assigned[j] })
	return out
}

// waitShared polls until the members hold all partitions between them, each at least one, none twice.
func waitShared(ctx context.Context, ms []*liveMember, partitions int) ([]member, error) {
	for {
		snaps := make([]member, len(ms))
		for i, m := range ms {
			snaps[i] = m.snapshot()
		}
		if sharesAll(snaps, partitions) {
			return snaps, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %d members to share %d partitions: %w (assignments now: %s)", len(ms), partitions, ctx.Err(), describeAssigned(snaps))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func sharesAll(ms []member, partitions int) bool {
	seen := map[int32]int{}
	for _, m := range ms {
		if len(m.Assigned) == 0 {
			return false
		}
		for _, p := range m.Assigned {
			seen[p]++
		}
	}
	if len(seen) != partitions {
		return false
	}
	for p, n := range seen {
		if p < 0 || int(p) >= partitions || n != 1 {
			return false
		}
	}
	return true
}

func describeAssigned(ms []member) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, fmt.Sprintf("%s=%v", m.Name, m.Assigned))
	}
	return strings.Join(parts, " ")
}

// waitAllSeen polls until the members together saw every wanted value.
func waitAllSeen(ctx context.Context, ms []*liveMember, from, count int) error {
	for {
		seen := map[string]bool{}
		for _, m := range ms {
			for _, r := range m.snapshot().Records {
				seen[r.V] = true
			}
		}
		have := 0
		for id := from; id < from+count; id++ {
			if seen[value(id)] {
				have++
			}
		}
		if have == count {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d records: have %d: %w", count, have, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// consumeWith runs the group or resume phase with in-process members built by start; start runs a
// member until ctx ends (committing as it goes) and returns once it has left the group.
func consumeWith(ctx context.Context, p phase, produce func(context.Context) error, start func(ctx context.Context, m *liveMember) error) (result, error) {
	names := []string{"a", "b"}
	if p.Kind == "resume" {
		names = names[:1]
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var ms []*liveMember
	errs := make(chan error, len(names))
	for _, n := range names {
		m := newLiveMember(n)
		ms = append(ms, m)
		go func() { errs <- start(runCtx, m) }()
	}
	stopAll := func() error {
		stop()
		var all []error
		for range ms {
			if err := <-errs; err != nil && !errors.Is(err, context.Canceled) {
				all = append(all, err)
			}
		}
		return errors.Join(all...)
	}
	assigned, err := waitShared(ctx, ms, p.Partitions)
	if err != nil {
		return result{}, errors.Join(err, stopAll())
	}
	if p.Kind == "group" {
		if err := produce(ctx); err != nil {
			return result{}, errors.Join(fmt.Errorf("produce after the group formed: %w", err), stopAll())
		}
	}
	if err := waitAllSeen(ctx, ms, p.From, p.Count); err != nil {
		var seen []member
		for _, m := range ms {
			seen = append(seen, m.snapshot())
		}
		return result{}, errors.Join(fmt.Errorf("%w; seen: %s", err, summarize(seen)), stopAll())
	}
	if err := stopAll(); err != nil {
		return result{}, err
	}
	var res result
	for i, m := range ms {
		s := m.snapshot()
		s.Assigned = assigned[i].Assigned // the assignment the records were consumed under
		res.Members = append(res.Members, s)
	}
	return res, nil
}

// ---- franz-go ----

type franzDriver struct{}

func (franzDriver) run(ctx context.Context, t *testing.T, p phase) (result, error) {
	produce := func(ctx context.Context) error {
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(p.Brokers),
			kgo.ClientID("kc-franz-go-producer"),
			kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.DefaultProduceTopic(p.Topic),
			kgo.AllowAutoTopicCreation(),
		)
		if err != nil {
			return err
		}
		defer cl.Close()
		var recs []*kgo.Record
		for id := p.From; id < p.From+p.Count; id++ {
			recs = append(recs, &kgo.Record{Key: []byte(key(id)), Value: []byte(value(id))})
		}
		return cl.ProduceSync(ctx, recs...).FirstErr()
	}
	if p.Kind == "produce" {
		if err := produce(ctx); err != nil {
			return result{}, err
		}
		return result{Acked: p.Count}, nil
	}
	return consumeWith(ctx, p, produce, func(ctx context.Context, m *liveMember) error {
		onAssign := func(on bool) func(context.Context, *kgo.Client, map[string][]int32) {
			return func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { m.setAssigned(ps[p.Topic], on) }
		}
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(p.Brokers),
			kgo.ClientID("kc-franz-go-"+m.name),
			kgo.ConsumerGroup(p.Group),
			kgo.ConsumeTopics(p.Topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.DisableAutoCommit(),
			kgo.SessionTimeout(10*time.Second),
			kgo.HeartbeatInterval(500*time.Millisecond),
			kgo.OnPartitionsAssigned(onAssign(true)),
			kgo.OnPartitionsRevoked(onAssign(false)),
			kgo.OnPartitionsLost(onAssign(false)),
		)
		if err != nil {
			return err
		}
		defer cl.Close() // leaves the group
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				return nil
			}
			var ferr error
			fs.EachError(func(topic string, part int32, err error) {
				ferr = errors.Join(ferr, fmt.Errorf("fetch %s/%d: %w", topic, part, err))
			})
			if ferr != nil {
				return ferr
			}
			recs := fs.Records()
			if len(recs) == 0 {
				continue
			}
			// Commit first, then count the records as seen: the harness stops the members once every
			// record is seen, and a commit still in flight then would be cancelled, so the resuming
			// member would get these records again.
			if err := cl.CommitRecords(ctx, recs...); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("commit: %w", err)
			}
			for _, r := range recs {
				m.add(record{V: string(r.Value), P: r.Partition, O: r.Offset})
			}
		}
	})
}

// ---- IBM/sarama ----

type saramaDriver struct{}

func saramaConfig(clientID string) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = clientID
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Retry.Max = 10
	cfg.Producer.Retry.Backoff = 200 * time.Millisecond
	cfg.Metadata.Retry.Max = 20
	cfg.Metadata.Retry.Backoff = 200 * time.Millisecond
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	cfg.Consumer.Group.Session.Timeout = 10 * time.Second
	cfg.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	return cfg
}

type saramaHandler struct {
	topic string
	m     *liveMember
}

func (h saramaHandler) Setup(s sarama.ConsumerGroupSession) error {
	h.m.clearAssigned()
	h.m.setAssigned(s.Claims()[h.topic], true)
	return nil
}

func (h saramaHandler) Cleanup(sarama.ConsumerGroupSession) error {
	h.m.clearAssigned()
	return nil
}

func (h saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for {
		select {
		case msg, ok := <-c.Messages():
			if !ok {
				return nil
			}
			s.MarkMessage(msg, "")
			s.Commit() // synchronous; before the record counts as seen (see the franz-go driver)
			h.m.add(record{V: string(msg.Value), P: msg.Partition, O: msg.Offset})
		case <-s.Context().Done():
			return nil
		}
	}
}

func (saramaDriver) run(ctx context.Context, t *testing.T, p phase) (result, error) {
	brokers := strings.Split(p.Brokers, ",")
	produce := func(ctx context.Context) error {
		pr, err := sarama.NewSyncProducer(brokers, saramaConfig("kc-sarama-producer"))
		if err != nil {
			return fmt.Errorf("sarama producer: %w", err)
		}
		defer pr.Close()
		var msgs []*sarama.ProducerMessage
		for id := p.From; id < p.From+p.Count; id++ {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: p.Topic, Key: sarama.StringEncoder(key(id)), Value: sarama.StringEncoder(value(id))})
		}
		return pr.SendMessages(msgs)
	}
	if p.Kind == "produce" {
		if err := produce(ctx); err != nil {
			return result{}, err
		}
		return result{Acked: p.Count}, nil
	}
	return consumeWith(ctx, p, produce, func(ctx context.Context, m *liveMember) error {
		cg, err := sarama.NewConsumerGroup(brokers, p.Group, saramaConfig("kc-sarama-"+m.name))
		if err != nil {
			return fmt.Errorf("sarama consumer group: %w", err)
		}
		defer cg.Close() // leaves the group
		errc := cg.Errors()
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{p.Topic}, saramaHandler{topic: p.Topic, m: m}); err != nil && ctx.Err() == nil {
				return fmt.Errorf("consume: %w", err)
			}
			select {
			case err := <-errc:
				if err != nil && ctx.Err() == nil {
					return fmt.Errorf("consumer group: %w", err)
				}
			default:
			}
		}
		return nil
	})
}

// ---- Node and Python drivers: one child process per phase ----

type execDriver struct {
	name string
	argv []string // command and leading args; phase flags are appended
	env  []string // extra environment
	dir  string
}

func (d execDriver) run(ctx context.Context, t *testing.T, p phase) (result, error) {
	args := append(append([]string(nil), d.argv[1:]...),
		"--phase", p.Kind, "--brokers", p.Brokers, "--topic", p.Topic,
		"--from", strconv.Itoa(p.From), "--count", strconv.Itoa(p.Count))
	if p.Group != "" {
		args = append(args, "--group", p.Group)
	}
	if p.Partitions > 0 {
		args = append(args, "--partitions", strconv.Itoa(p.Partitions))
	}
	// The driver gives up a little before we would kill it, so its own error says what it waited for.
	if dl, ok := ctx.Deadline(); ok {
		args = append(args, "--timeout-ms", strconv.FormatInt(time.Until(dl).Milliseconds()-5000, 10))
	}
	return runDriver[result](ctx, t, d.name, p.Kind, d.dir, d.env, d.argv[0], args)
}

// driverResult is what a Node or Python driver reports on a RESULT line.
type driverResult interface {
	result | regResult
	errorText() string
}

func (r result) errorText() string    { return r.Error }
func (r regResult) errorText() string { return r.Error }

// runDriver runs a driver child process (command with args, in dir, with env added to ours; its
// process group is killed when ctx ends) and reads its report from the RESULT line on its stdout
// (its stderr goes to a log file named for name and kind). An error, with the ends of its stdout and
// of that log, when there is no RESULT line, the result has an error or the process failed.
func runDriver[R driverResult](ctx context.Context, t *testing.T, name, kind, dir string, env []string, command string, args []string) (R, error) {
	var zero R
	cmd := exec.CommandContext(ctx, command, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout bytes.Buffer
	logPath := filepath.Join(t.TempDir(), name+"-"+kind+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return zero, err
	}
	defer logf.Close()
	cmd.Stdout = &stdout
	cmd.Stderr = logf
	runErr := cmd.Run()

	var res R
	found := false
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
			found = true
			if err := json.Unmarshal([]byte(line), &res); err != nil {
				return zero, fmt.Errorf("%s: bad result line %q: %w", name, line, err)
			}
		}
	}
	if !found || res.errorText() != "" || runErr != nil {
		msg := res.errorText()
		if !found {
			msg = "no RESULT line on stdout"
		}
		return zero, fmt.Errorf("%s %s: %s (exit: %v)\n--- stdout ---\n%s\n%s", name, strings.Join(args, " "), msg, runErr, tail(stdout.String(), 30), tailFile(logPath, 40))
	}
	return res, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return "--- stderr " + path + " (tail) ---\n" + tail(string(b), n)
}
