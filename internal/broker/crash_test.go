package broker

import (
	"context"
	"fmt"
	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/testkit"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const childEnv = "DEVSTACK_BROKER_CHILD_DIR"

// TestBrokerChild is not a test: it is the broker process the crash tests start (a re-exec of the
// test binary) and kill.
func TestBrokerChild(t *testing.T) {
	dir := os.Getenv(childEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashRecovery")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	port, _ := strconv.Atoi(os.Getenv(childEnv + "_PORT"))
	b, err := Start(ctx, Options{Port: port, DataDir: filepath.Join(dir, "kafka"), AutoCreate: true, DefaultPartitions: 3})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child start:", err)
		os.Exit(3)
	}
	tmp := filepath.Join(dir, "addr.tmp")
	if err := os.WriteFile(tmp, []byte(b.Addr()), 0o644); err != nil {
		os.Exit(4)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "addr")); err != nil {
		os.Exit(4)
	}
	<-ctx.Done()
	if err := b.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "child close:", err)
		os.Exit(5)
	}
	os.Exit(0)
}

type child struct {
	cmd    *exec.Cmd
	addr   string
	stderr *testkit.SyncBuffer
}

// startChild starts a broker process on dir, on port (0: any free port).
func startChild(t *testing.T, dir string, port int) *child {
	t.Helper()
	os.Remove(filepath.Join(dir, "addr"))
	cmd := exec.Command(os.Args[0], "-test.run=^TestBrokerChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+dir, fmt.Sprintf("%s_PORT=%d", childEnv, port))
	stderr := &testkit.SyncBuffer{}
	cmd.Stderr = stderr
	cmd.Stdout = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stderr: stderr}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "addr")); err == nil {
			c.addr = string(b)
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("child broker did not start: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *child) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	err := c.cmd.Wait()
	if sig == syscall.SIGTERM && err != nil {
		t.Fatalf("child exit after SIGTERM: %v\n%s", err, c.stderr.String())
	}
	if sig == syscall.SIGKILL && c.cmd.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed: %v", c.cmd.ProcessState)
	}
}

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts broker processes")
	}
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			ctx := testCtx(t)
			const topic, group, n, more = "payments", "ledger", 300, 50

			c1 := startChild(t, dir, 0)
			// Produce with acks=all (kgo's default) to a topic the broker auto-creates on first use.
			// The producer (idempotent, kgo's default) stays up across the broker restart, as a
			// service's would; the restarted broker listens on the same port.
			prod, err := kgo.NewClient(kgo.SeedBrokers(c1.addr), kgo.AllowAutoTopicCreation(), kgo.RequiredAcks(kgo.AllISRAcks()))
			if err != nil {
				t.Fatal(err)
			}
			defer prod.Close()
			var want []string
			for i := range n {
				v := fmt.Sprintf("payment-%d", i)
				want = append(want, v)
				if err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(i % 11)), Value: []byte(v)}).FirstErr(); err != nil {
					t.Fatalf("produce %d: %v", i, err)
				}
			}

			// A group consumes everything and commits.
			cons, err := kgo.NewClient(kgo.SeedBrokers(c1.addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
			if err != nil {
				t.Fatal(err)
			}
			for got := 0; got < n; {
				fs := cons.PollFetches(ctx)
				if ctx.Err() != nil {
					t.Fatalf("consumed %d of %d", got, n)
				}
				got += fs.NumRecords()
			}
			if err := cons.CommitUncommittedOffsets(ctx); err != nil {
				t.Fatal(err)
			}
			cons.Close()

			c1.stop(t, sig)
			_, portStr, _ := net.SplitHostPort(c1.addr)
			port, _ := strconv.Atoi(portStr)
			c2 := startChild(t, dir, port)
			a, err := NewAdmin([]string{c2.addr}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()

			// The auto-created topic and every acknowledged record survived.
			ts, err := a.Topics(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ti, ok := findTopic(ts, topic)
			if !ok {
				t.Fatalf("topic %s lost after %v; topics: %+v\nbroker output:\n%s", topic, sig, ts, c2.stderr.String())
			}
			if len(ti.Partitions) != 3 || ti.Messages != n {
				t.Fatalf("after %v: %d partitions, %d messages; want 3 and %d", sig, len(ti.Partitions), ti.Messages, n)
			}
			ch, err := a.Messages(ctx, event.MessageQuery{Topic: topic, Partition: -1, From: "beginning"})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for m := range ch {
				got = append(got, string(m.Value))
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("after %v read %d records, want the %d acknowledged ones", sig, len(got), len(want))
			}

			// The committed offsets survived, under the topic's name.
			gs, err := a.Groups(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var committed int64
			for _, g := range gs {
				for _, o := range g.Offsets {
					if g.Name == group {
						if o.Topic != topic {
							t.Fatalf("offset kept under topic %q, want %q", o.Topic, topic)
						}
						committed += o.Committed
					}
				}
			}
			if committed != n {
				t.Fatalf("after %v: committed offsets sum to %d, want %d (groups %+v)", sig, committed, n, gs)
			}

			// Producing more (with the producer that lived through the restart) and resuming the
			// group yields exactly the new records.
			var wantNew []string
			for i := range more {
				v := fmt.Sprintf("after-%d", i)
				wantNew = append(wantNew, v)
				if err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(i % 11)), Value: []byte(v)}).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			cons2, err := kgo.NewClient(kgo.SeedBrokers(c2.addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				t.Fatal(err)
			}
			defer cons2.Close()
			var resumed []string
			for len(resumed) < more {
				fs := cons2.PollFetches(ctx)
				if ctx.Err() != nil {
					t.Fatalf("resumed %d: %v", len(resumed), resumed)
				}
				fs.EachError(func(t2 string, p int32, err error) { t.Errorf("fetch %s/%d: %v", t2, p, err) })
				fs.EachRecord(func(r *kgo.Record) { resumed = append(resumed, string(r.Value)) })
			}
			slices.Sort(resumed)
			slices.Sort(wantNew)
			if !slices.Equal(resumed, wantNew) {
				t.Fatalf("after %v the group resumed with %v, want exactly %v", sig, resumed, wantNew)
			}
			if strings.Contains(c2.stderr.String(), "lost records") {
				t.Fatalf("broker reported lost records:\n%s", c2.stderr.String())
			}
			c2.stop(t, syscall.SIGTERM)
		})
	}
}

// TestCrashRecoveryLiveClients: a service's producer and group consumer stay up while the broker
// is stopped and restarted on the same port; the consumer then gets the records produced after the
// restart and none from before. After SIGTERM that is exact. After SIGKILL kfake has lost the group's
// members (it writes them only on clean shutdown), so the consumer rejoins: its first commit may fail
// and a record may come again (at-least-once, as after any rebalance), but committed offsets hold.
func TestCrashRecoveryLiveClients(t *testing.T) {
	if testing.Short() {
		t.Skip("starts broker processes")
	}
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			ctx := testCtx(t)
			const topic, group = "live", "svc"
			c1 := startChild(t, dir, 0)
			prod, err := kgo.NewClient(kgo.SeedBrokers(c1.addr), kgo.AllowAutoTopicCreation())
			if err != nil {
				t.Fatal(err)
			}
			defer prod.Close()
			cons, err := kgo.NewClient(kgo.SeedBrokers(c1.addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
			if err != nil {
				t.Fatal(err)
			}
			defer cons.Close()

			produce := func(prefix string, n int) []string {
				var vs []string
				for i := range n {
					v := fmt.Sprintf("%s-%d", prefix, i)
					vs = append(vs, v)
					if err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(i)), Value: []byte(v)}).FirstErr(); err != nil {
						t.Fatalf("produce %s: %v", v, err)
					}
				}
				return vs
			}
			// consume polls until every value in want was seen and commits; it returns every record
			// received (with repeats) and whether a commit failed on the way.
			consume := func(want []string) (got []string, commitFailed bool) {
				seen := map[string]bool{}
				for len(seen) < len(want) {
					fs := cons.PollFetches(ctx)
					if ctx.Err() != nil {
						t.Fatalf("consumed %d of %d: %v", len(seen), len(want), got)
					}
					fs.EachRecord(func(r *kgo.Record) {
						got = append(got, string(r.Value))
						seen[string(r.Value)] = true
					})
					if err := cons.CommitUncommittedOffsets(ctx); err != nil {
						commitFailed = true
					}
				}
				return got, commitFailed
			}

			before := produce("before", 100)
			if got, failed := consume(before); failed || !slices.Equal(sorted(got), sorted(before)) {
				t.Fatalf("before the restart consumed %v (commit failed: %v)", got, failed)
			}
			c1.stop(t, sig)
			_, portStr, _ := net.SplitHostPort(c1.addr)
			port, _ := strconv.Atoi(portStr)
			c2 := startChild(t, dir, port)
			after := produce("after", 40)
			got, failed := consume(after)
			for _, v := range got {
				if strings.HasPrefix(v, "before-") {
					t.Fatalf("after %v the live consumer got %s again: committed offsets were not honored", sig, v)
				}
			}
			if sig == syscall.SIGTERM && (failed || len(got) != len(after)) {
				t.Fatalf("after SIGTERM: got %d records for %d produced, commit failed: %v", len(got), len(after), failed)
			}
			if len(got) > len(after) {
				t.Logf("after %v: %d records redelivered by the rejoin", sig, len(got)-len(after))
			}
			// Whatever was redelivered, the consumer (still polling and committing, as a service does)
			// ends committed at the end.
			a, err := NewAdmin([]string{c2.addr}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			for {
				gs, err := a.Groups(ctx)
				if err == nil && len(gs) == 1 && gs[0].Lag == 0 && len(gs[0].Offsets) > 0 {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("group never caught up: %+v %v", gs, err)
				}
				pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				cons.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
					if strings.HasPrefix(string(r.Value), "before-") {
						t.Errorf("after %v the live consumer got %s again", sig, r.Value)
					}
				})
				cancel()
				cons.CommitUncommittedOffsets(ctx)
			}
			c2.stop(t, syscall.SIGTERM)
		})
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
