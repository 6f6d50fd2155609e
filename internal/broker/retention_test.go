package broker

import (
	"bytes"
	"context"
	"io/fs"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceBytes writes total bytes of 1 KiB records to topic in ProduceSync rounds.
func produceBytes(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, total int) {
	t.Helper()
	val := bytes.Repeat([]byte("x"), 1024)
	const round = 1000
	for sent := 0; sent < total; {
		rs := make([]*kgo.Record, 0, round)
		for i := 0; i < round && sent < total; i++ {
			rs = append(rs, &kgo.Record{Topic: topic, Value: val})
			sent += len(val)
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func dirSize(t *testing.T, dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func TestRetentionBoundsBytes(t *testing.T) {
	const bound = 1 << 20     // per partition
	const produced = 48 << 20 // far over the bound
	tests := []struct {
		name    string
		dataDir bool
	}{
		{"ephemeral", false},
		{"data-dir", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{RetentionBytes: bound, Topics: []TopicSpec{
				{Name: "bulk", Partitions: 1},
				{Name: "keep", Partitions: 1, Configs: map[string]string{"retention.bytes": "-1"}},
			}}
			if tc.dataDir {
				o.DataDir = t.TempDir()
			}
			b := startBroker(t, o)
			ctx := testCtx(t)
			// Uncompressed, so log bytes (what retention.bytes counts) match the values produced.
			cl := newClient(t, b.Addr(), kgo.ProducerBatchMaxBytes(64<<10), kgo.ProducerBatchCompression(kgo.NoCompression()))

			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)

			produceBytes(t, ctx, cl, "bulk", produced)
			produceBytes(t, ctx, cl, "keep", 4*bound)

			// The broker sweeps on its own once enough bytes arrived.
			deadline := time.Now().Add(30 * time.Second)
			for b.sweeps.Load() == 0 {
				if time.Now().After(deadline) {
					t.Fatal("retention never ran while producing")
				}
				time.Sleep(10 * time.Millisecond)
			}
			b.ApplyRetention()

			ts, err := b.Admin().Topics(ctx)
			if err != nil {
				t.Fatal(err)
			}
			bulk, _ := findTopic(ts, "bulk")
			p := bulk.Partitions[0]
			if p.StartOffset == 0 || p.EndOffset != produced/1024 {
				t.Fatalf("bulk: start %d end %d: retention did not move the start offset", p.StartOffset, p.EndOffset)
			}
			if kept := (p.EndOffset - p.StartOffset) * 1024; kept > bound {
				t.Fatalf("bulk keeps %d bytes of values, bound is %d", kept, bound)
			}
			keep, _ := findTopic(ts, "keep")
			if keep.Partitions[0].StartOffset != 0 {
				t.Fatalf("topic with its own retention.bytes=-1 was trimmed to %d", keep.Partitions[0].StartOffset)
			}

			var after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&after)
			grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			t.Logf("produced %d MiB, heap grew %.1f MiB", (produced+4*bound)>>20, float64(grown)/(1<<20))
			// Everything retained (keep: 4 MiB; bulk: 1 MiB + its active segment) plus slack; without
			// retention the in-memory broker would hold all 52 MiB.
			if !tc.dataDir && grown > 16<<20 {
				t.Fatalf("heap grew by %d MiB after producing %d MiB: memory is not bounded", grown>>20, produced>>20)
			}
			if tc.dataDir {
				size := dirSize(t, filepath.Join(o.DataDir, "partitions"))
				if limit := int64(4*bound + 2*bound + 2*minSegmentBytes + (1 << 20)); size > limit {
					t.Fatalf("data dir holds %d bytes, want at most %d", size, limit)
				}
			}
		})
	}
}

func TestRetentionTime(t *testing.T) {
	b := startBroker(t, Options{RetentionTime: time.Hour, Topics: []TopicSpec{{Name: "t", Partitions: 1}}})
	ctx := testCtx(t)
	cl := newClient(t, b.Addr())
	old := time.Now().Add(-2 * time.Hour)
	var rs []*kgo.Record
	for range 10 {
		rs = append(rs, &kgo.Record{Topic: "t", Value: []byte("old"), Timestamp: old})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("new")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	b.ApplyRetention()
	ts, err := b.Admin().Topics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ti, _ := findTopic(ts, "t")
	if p := ti.Partitions[0]; p.StartOffset != 10 || p.EndOffset != 11 {
		t.Fatalf("start %d end %d, want records older than the 1h retention gone (start 10, end 11)", p.StartOffset, p.EndOffset)
	}
}

// RetentionTime 0 keeps records forever and RetentionBytes 0 sets no byte limit (devstack.yaml's
// broker.retention: {time: 0, bytes: 0}): a record from 30 days ago survives a retention pass, and a
// client sees both limits as -1 (Kafka's "none").
func TestRetentionZeroMeansNone(t *testing.T) {
	b := startBroker(t, Options{RetentionTime: 0, RetentionBytes: 0, Topics: []TopicSpec{{Name: "t", Partitions: 1}}})
	ctx := testCtx(t)
	cl := newClient(t, b.Addr())
	old := time.Now().Add(-30 * 24 * time.Hour)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("old"), Timestamp: old}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("new")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	b.ApplyRetention()
	ts, err := b.Admin().Topics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ti, _ := findTopic(ts, "t")
	if p := ti.Partitions[0]; p.StartOffset != 0 || p.EndOffset != 2 {
		t.Errorf("start %d end %d, want the 30-day-old record kept (start 0, end 2)", p.StartOffset, p.EndOffset)
	}
	rcs, err := kadm.NewClient(cl).DescribeBrokerConfigs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Value != nil {
				got[c.Key] = *c.Value
			}
		}
	}
	for _, k := range []string{"log.retention.ms", "log.retention.bytes"} {
		if got[k] != "-1" {
			t.Errorf("%s = %q, want -1 (none)", k, got[k])
		}
	}
}
