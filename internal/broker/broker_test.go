package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/devstack-dev/devstack/internal/event"
)

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("DEVSTACK_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

func startBroker(t *testing.T, o Options) *Broker {
	t.Helper()
	if o.Logger == nil {
		o.Logger = testLogger(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Start(ctx, o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func findTopic(ts []event.TopicInfo, name string) (event.TopicInfo, bool) {
	for _, t := range ts {
		if t.Name == name {
			return t, true
		}
	}
	return event.TopicInfo{}, false
}

func produceN(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, from, n int) {
	t.Helper()
	var rs []*kgo.Record
	for i := from; i < from+n; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("k%d", i%7)), Value: []byte(fmt.Sprintf("v%d", i))})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func TestDeclaredTopics(t *testing.T) {
	dir := t.TempDir()
	specs := []TopicSpec{
		{Name: "orders", Partitions: 3, Configs: map[string]string{"cleanup.policy": "compact", "retention.ms": "3600000"}},
		{Name: "audit"},
	}
	b := startBroker(t, Options{DataDir: dir, Topics: specs})
	ctx := testCtx(t)
	ts, err := b.Admin().Topics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		parts   int
		configs map[string]string
	}{
		{"orders", 3, map[string]string{"cleanup.policy": "compact", "retention.ms": "3600000"}},
		{"audit", 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ti, ok := findTopic(ts, tc.name)
			if !ok {
				t.Fatalf("topic %s missing from %+v", tc.name, ts)
			}
			if len(ti.Partitions) != tc.parts {
				t.Errorf("partitions = %d, want %d", len(ti.Partitions), tc.parts)
			}
			for k, v := range tc.configs {
				if ti.Configs[k] != v {
					t.Errorf("config %s = %q, want %q (all: %v)", k, ti.Configs[k], v, ti.Configs)
				}
			}
		})
	}

	// Restart on the same data dir with a grown declaration: partitions are added, configs updated.
	b.Close()
	specs[0].Partitions = 5
	specs[0].Configs = map[string]string{"cleanup.policy": "compact", "retention.ms": "60000"}
	b2 := startBroker(t, Options{DataDir: dir, Topics: specs})
	ts, err = b2.Admin().Topics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ti, _ := findTopic(ts, "orders")
	if len(ti.Partitions) != 5 || ti.Configs["retention.ms"] != "60000" {
		t.Fatalf("after restart: partitions %d configs %v; want 5 and retention.ms=60000", len(ti.Partitions), ti.Configs)
	}
}

// metadataRaw sends one Metadata request of the given version on a plain TCP connection, framed by
// hand the way kafka-python does, and returns the decoded response.
func metadataRaw(t *testing.T, addr string, version int16, topics ...string) *kmsg.MetadataResponse {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := kmsg.NewPtrMetadataRequest()
	req.Version = version
	for _, tp := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(tp)
		req.Topics = append(req.Topics, rt)
	}
	if len(topics) == 0 {
		req.Topics = []kmsg.MetadataRequestTopic{}
	}
	var body []byte
	body = binary.BigEndian.AppendUint16(body, uint16(kmsg.Metadata))
	body = binary.BigEndian.AppendUint16(body, uint16(version))
	body = binary.BigEndian.AppendUint32(body, 7) // correlation id
	cid := "kafka-python-2.0.2"
	body = binary.BigEndian.AppendUint16(body, uint16(len(cid)))
	body = append(body, cid...)
	body = req.AppendTo(body)
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	if _, err := conn.Write(append(frame, body...)); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		t.Fatalf("read response: %v", err)
	}
	buf := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		t.Fatal(err)
	}
	if corr := binary.BigEndian.Uint32(buf); corr != 7 {
		t.Fatalf("correlation id %d", corr)
	}
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	resp.Version = version
	if err := resp.ReadFrom(buf[4:]); err != nil {
		t.Fatalf("decode metadata v%d: %v", version, err)
	}
	return resp
}

func TestAutoCreate(t *testing.T) {
	tests := []struct {
		name       string
		autoCreate bool
		// how the client asks for the topic's metadata
		ask     func(t *testing.T, addr, topic string) int16 // returns the topic's error code
		created bool
	}{
		{"v1 like kafka-python, on", true, rawAsk(1), true},
		{"v0, on", true, rawAsk(0), true},
		{"v3, on", true, rawAsk(3), true},
		{"v1, off", false, rawAsk(1), false},
		{"latest with allow flag, on", true, kgoAsk(true), true},
		{"latest without allow flag, on", true, kgoAsk(false), false},
		{"latest with allow flag, off", false, kgoAsk(true), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := startBroker(t, Options{AutoCreate: tc.autoCreate, DefaultPartitions: 2, DataDir: t.TempDir()})
			topic := "auto-" + strings.NewReplacer(" ", "-", ",", "").Replace(tc.name)
			code := tc.ask(t, b.Addr(), topic)
			want := kerr.UnknownTopicOrPartition.Code
			if tc.created {
				want = 0
			}
			if code != want {
				t.Fatalf("metadata error code = %d, want %d", code, want)
			}
			ts, err := b.Admin().Topics(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			ti, ok := findTopic(ts, topic)
			if ok != tc.created {
				t.Fatalf("topic exists = %v, want %v", ok, tc.created)
			}
			if ok && len(ti.Partitions) != 2 {
				t.Fatalf("auto-created with %d partitions, want DefaultPartitions 2", len(ti.Partitions))
			}
		})
	}
}

func rawAsk(version int16) func(t *testing.T, addr, topic string) int16 {
	return func(t *testing.T, addr, topic string) int16 {
		resp := metadataRaw(t, addr, version, topic)
		if len(resp.Topics) != 1 {
			t.Fatalf("v%d: %d topics in response", version, len(resp.Topics))
		}
		if resp.Topics[0].ErrorCode == 0 && len(resp.Topics[0].Partitions) == 0 {
			t.Fatalf("v%d: topic without partitions", version)
		}
		return resp.Topics[0].ErrorCode
	}
}

func kgoAsk(allow bool) func(t *testing.T, addr, topic string) int16 {
	return func(t *testing.T, addr, topic string) int16 {
		cl := newClient(t, addr)
		req := kmsg.NewPtrMetadataRequest()
		req.AllowAutoTopicCreation = allow
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(testCtx(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].ErrorCode
	}
}

func TestMetadataV0ListsAllTopics(t *testing.T) {
	b := startBroker(t, Options{Topics: []TopicSpec{{Name: "a"}, {Name: "b"}}})
	resp := metadataRaw(t, b.Addr(), 0)
	var names []string
	for _, tp := range resp.Topics {
		names = append(names, *tp.Topic)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"a", "b"}) {
		t.Fatalf("v0 empty topic list returned %v, want all topics [a b]", names)
	}
}

func TestGroupConsumeCommitResume(t *testing.T) {
	b := startBroker(t, Options{AutoCreate: true, Topics: []TopicSpec{{Name: "jobs", Partitions: 4}}})
	ctx := testCtx(t)
	prod := newClient(t, b.Addr())
	produceN(t, ctx, prod, "jobs", 0, 100)

	// Two members of one group share the four partitions.
	type got struct {
		member int
		value  string
	}
	gotCh := make(chan got, 1000)
	var members []*kgo.Client
	for i := range 2 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumerGroup("workers"), kgo.ConsumeTopics("jobs"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.ClientID(fmt.Sprintf("member-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, cl)
		go func() {
			for {
				fs := cl.PollFetches(ctx)
				if fs.IsClientClosed() || ctx.Err() != nil {
					return
				}
				fs.EachRecord(func(r *kgo.Record) { gotCh <- got{i, string(r.Value)} })
				if err := cl.CommitUncommittedOffsets(ctx); err != nil && !errors.Is(err, context.Canceled) {
					t.Logf("commit: %v", err)
				}
			}
		}()
	}
	seen := map[string]bool{}
	for len(seen) < 100 {
		select {
		case g := <-gotCh:
			seen[g.value] = true
		case <-ctx.Done():
			t.Fatalf("consumed %d of 100", len(seen))
		}
	}
	// Both members hold partitions: poll Groups until the group is stable with two assigned members.
	deadline := time.Now().Add(30 * time.Second)
	for {
		gs, err := b.Admin().Groups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var assigned int
		var lag int64 = -1
		for _, g := range gs {
			if g.Name == "workers" {
				for _, m := range g.Members {
					if len(m.Assignment["jobs"]) > 0 {
						assigned++
					}
				}
				lag = g.Lag
			}
		}
		if assigned == 2 && lag == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group never had 2 assigned members with lag 0: %+v", gs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, m := range members {
		m.Close()
	}

	produceN(t, ctx, prod, "jobs", 100, 20)
	cl := newClient(t, b.Addr(), kgo.ConsumerGroup("workers"), kgo.ConsumeTopics("jobs"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var resumed []string
	for len(resumed) < 20 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("resumed with %d records: %v", len(resumed), resumed)
		}
		fs.EachRecord(func(r *kgo.Record) { resumed = append(resumed, string(r.Value)) })
	}
	slices.Sort(resumed)
	var want []string
	for i := 100; i < 120; i++ {
		want = append(want, fmt.Sprintf("v%d", i))
	}
	slices.Sort(want)
	if !slices.Equal(resumed, want) {
		t.Fatalf("resumed with %v, want exactly the 20 new records %v", resumed, want)
	}
}

func TestTapDoesNotTouchGroups(t *testing.T) {
	b := startBroker(t, Options{Topics: []TopicSpec{{Name: "events", Partitions: 2}}})
	ctx := testCtx(t)
	a := b.Admin()
	msgs := []event.Message{
		{Key: []byte("user-1"), Value: []byte(`{"n":1}`), Headers: []event.Header{{Key: "trace", Value: []byte("abc")}}},
		{Key: []byte("user-2"), Value: []byte(`{"n":2}`)},
		{Key: []byte("user-3"), Value: []byte(`{"n":3}`)},
	}
	if err := a.Produce(ctx, "events", msgs); err != nil {
		t.Fatal(err)
	}
	before, err := a.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		q    event.MessageQuery
		want int
	}{
		{"beginning", event.MessageQuery{Topic: "events", Partition: -1, From: "beginning"}, 3},
		{"limit", event.MessageQuery{Topic: "events", Partition: -1, From: "beginning", Limit: 2}, 2},
		{"end", event.MessageQuery{Topic: "events", Partition: -1, From: "end"}, 0},
		{"last 2", event.MessageQuery{Topic: "events", Partition: -1, From: "last", Limit: 2}, 2},
		{"time", event.MessageQuery{Topic: "events", Partition: -1, From: "time", Since: time.Now().Add(-time.Hour)}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := a.Messages(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []event.Message
			for m := range ch {
				got = append(got, m)
			}
			if len(got) != tc.want {
				t.Fatalf("got %d messages, want %d: %+v", len(got), tc.want, got)
			}
			for _, m := range got {
				if string(m.Key) == "user-1" && (len(m.Headers) != 1 || string(m.Headers[0].Value) != "abc") {
					t.Errorf("headers lost: %+v", m)
				}
			}
		})
	}

	// Follow: a live tail sees a record produced after it started.
	fctx, cancel := context.WithCancel(ctx)
	ch, err := a.Messages(fctx, event.MessageQuery{Topic: "events", Partition: -1, From: "end", Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(30 * time.Second)
	produced := false
	for !produced {
		// Produce until the tail (whose start position is only taken once it runs) sees one.
		if err := a.Produce(ctx, "events", []event.Message{{Value: []byte("live")}}); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-ch:
			if string(m.Value) != "live" {
				t.Fatalf("tail got %q", m.Value)
			}
			produced = true
		case <-time.After(time.Second):
		case <-deadline:
			t.Fatal("live tail saw nothing")
		}
	}
	cancel()
	for range ch {
	}

	after, err := a.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != 0 || len(after) != 0 {
		t.Fatalf("tap created groups: before %+v after %+v", before, after)
	}

	if _, err := a.Messages(ctx, event.MessageQuery{Topic: "nope", Partition: -1}); err == nil {
		t.Fatal("tap of a missing topic succeeded")
	}
	if ts, _ := a.Topics(ctx); func() bool { _, ok := findTopic(ts, "nope"); return ok }() {
		t.Fatal("tap created the topic it was asked to read")
	}
}

func TestResetGroup(t *testing.T) {
	b := startBroker(t, Options{Topics: []TopicSpec{{Name: "r", Partitions: 2}}})
	ctx := testCtx(t)
	a := b.Admin()
	prod := newClient(t, b.Addr(), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	produceN(t, ctx, prod, "r", 0, 20) // 10 per partition

	cl := newClient(t, b.Addr(), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("r"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	n := 0
	for n < 20 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		n += fs.NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	err := a.ResetGroup(ctx, "g", "r", "earliest", 0)
	if err == nil || !strings.Contains(err.Error(), "active member") {
		t.Fatalf("reset with an active member: err = %v, want a refusal", err)
	}
	cl.Close()

	tests := []struct {
		to     string
		offset int64
		want   int64 // per partition
	}{
		{"earliest", 0, 0},
		{"latest", 0, 10},
		{"offset", 4, 4},
		{"offset", 99, 10}, // clamped to the end
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s-%d", tc.to, tc.offset), func(t *testing.T) {
			if err := a.ResetGroup(ctx, "g", "", tc.to, tc.offset); err != nil {
				t.Fatal(err)
			}
			gs, err := a.Groups(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var offs []event.GroupOffset
			for _, g := range gs {
				if g.Name == "g" {
					offs = g.Offsets
				}
			}
			if len(offs) != 2 {
				t.Fatalf("offsets %+v", offs)
			}
			for _, o := range offs {
				if o.Committed != tc.want || o.Lag != 10-tc.want {
					t.Fatalf("partition %d committed %d lag %d, want %d and %d", o.Partition, o.Committed, o.Lag, tc.want, 10-tc.want)
				}
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	_, err = Start(context.Background(), Options{Port: port})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("port %d is in use", port)) || !strings.Contains(err.Error(), "broker.port") {
		t.Fatalf("port in use: err = %v", err)
	}

	dir := t.TempDir()
	startBroker(t, Options{DataDir: dir})
	_, err = Start(context.Background(), Options{DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), "in use by another devstack") {
		t.Fatalf("shared data dir: err = %v", err)
	}
}

func TestCloseIdempotent(t *testing.T) {
	b := startBroker(t, Options{})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestProduceUnknownTopic(t *testing.T) {
	tests := []struct {
		autoCreate bool
		wantErr    string
	}{
		{true, ""},
		{false, "does not auto-create it"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint("autocreate=", tc.autoCreate), func(t *testing.T) {
			b := startBroker(t, Options{AutoCreate: tc.autoCreate})
			err := b.Admin().Produce(testCtx(t), "fresh", []event.Message{{Value: []byte("x")}})
			if tc.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestEphemeralDataDir(t *testing.T) {
	// A dir left by a killed broker (its lock is free) is removed by the next Start; a fresh one or
	// one whose owner still runs is kept.
	stale, err := os.MkdirTemp("", tempDirPrefix)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(stale+"/devstack.lock", []byte("1"), 0o644)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(stale, old, old)

	b := startBroker(t, Options{})
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale ephemeral dir %s was not removed: %v", stale, err)
	}
	dir := b.tempDir
	if dir == "" {
		t.Fatal("no ephemeral data dir")
	}
	os.Chtimes(dir, old, old)
	b2 := startBroker(t, Options{}) // must not remove the running broker's dir
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("a running broker's dir was removed: %v", err)
	}
	b2.Close()
	b.Close()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("Close left %s: %v", dir, err)
	}
}

func TestTopicRates(t *testing.T) {
	b := startBroker(t, Options{Topics: []TopicSpec{{Name: "rated", Partitions: 2}}})
	ctx := testCtx(t)
	a := b.Admin()
	ts, err := a.Topics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ti, _ := findTopic(ts, "rated"); ti.RateIn != 0 || ti.RateOut != 0 {
		t.Fatalf("first sample has rates: %+v", ti)
	}
	prod := newClient(t, b.Addr())
	produceN(t, ctx, prod, "rated", 0, 50)
	// A group commits its progress in two steps; its first commit is a baseline, the second a rate.
	if err := a.ResetGroup(ctx, "rg", "rated", "offset", 10); err != nil {
		t.Fatal(err)
	}
	ts, err = a.Topics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ti, _ := findTopic(ts, "rated"); ti.Messages != 50 || ti.RateIn <= 0 || ti.RateOut != 0 {
		t.Fatalf("after producing 50: %+v", ti)
	}
	if err := a.ResetGroup(ctx, "rg", "rated", "latest", 0); err != nil {
		t.Fatal(err)
	}
	ts, err = a.Topics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ti, _ := findTopic(ts, "rated"); ti.RateOut <= 0 {
		t.Fatalf("after the group committed more: %+v", ti)
	}
}
