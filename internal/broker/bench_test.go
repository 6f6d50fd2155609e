package broker

import (
	"context"
	"math/rand"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/devstack-dev/devstack/internal/event"
)

// rssKiB reads this process's resident set (VmRSS) or its peak (VmHWM) from /proc.
func rssKiB(field string) float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return n
		}
	}
	return 0
}

// BenchmarkProduceRetained produces b.N uncompressed 1 KiB records (acks=all) into one partition of
// an ephemeral broker with the default retention (256 MiB per partition) and reports throughput and
// the process's RSS, which must stay flat however far b.N goes past the bound:
//
//	go test ./internal/broker -run '^$' -bench ProduceRetained -benchtime 1000000x
func BenchmarkProduceRetained(b *testing.B) {
	br, err := Start(context.Background(), Options{Topics: []TopicSpec{{Name: "bulk", Partitions: 1}}})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	val := make([]byte, 1024)
	rand.Read(val)
	ctx := context.Background()
	b.SetBytes(int64(len(val)))
	b.ResetTimer()
	produceRounds(ctx, b, cl, 5000, func() *kgo.Record { return &kgo.Record{Topic: "bulk", Value: val} })
	b.StopTimer()
	br.ApplyRetention()
	runtime.GC()
	b.ReportMetric(rssKiB("VmHWM")/1024, "peak-rss-MiB")
	b.ReportMetric(rssKiB("VmRSS")/1024, "rss-MiB")
}

// BenchmarkProduceSpans produces records without a traceparent header with the broker's spans off and
// on, uncompressed and snappy (franz-go's default): spans on should cost nothing measurable for them.
//
//	go test ./internal/broker -run '^$' -bench ProduceSpans -benchtime 200000x -count 5
func BenchmarkProduceSpans(b *testing.B) {
	for _, spans := range []string{"off", "on"} {
		for _, codec := range []string{"none", "snappy"} {
			b.Run(spans+"/"+codec, func(b *testing.B) {
				o := Options{Topics: []TopicSpec{{Name: "bulk", Partitions: 1}}, RetentionBytes: 64 << 20}
				if spans == "on" {
					o.Spans = func([]event.Span) {}
				}
				br, err := Start(context.Background(), o)
				if err != nil {
					b.Fatal(err)
				}
				defer br.Close()
				cc := kgo.NoCompression()
				if codec == "snappy" {
					cc = kgo.SnappyCompression()
				}
				cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr()), kgo.ProducerBatchCompression(cc))
				if err != nil {
					b.Fatal(err)
				}
				defer cl.Close()
				val := make([]byte, 256)
				rand.Read(val)
				ctx := context.Background()
				b.SetBytes(int64(len(val)))
				b.ResetTimer()
				produceRounds(ctx, b, cl, 2000, func() *kgo.Record {
					return &kgo.Record{Topic: "bulk", Value: val, Headers: []kgo.RecordHeader{{Key: "x-request-id", Value: []byte("abc")}}}
				})
			})
		}
	}
}

// produceRounds produces b.N records made by rec, round of them at a time with ProduceSync.
func produceRounds(ctx context.Context, b *testing.B, cl *kgo.Client, round int, rec func() *kgo.Record) {
	for i := 0; i < b.N; i += round {
		rs := make([]*kgo.Record, 0, round)
		for j := 0; j < round && i+j < b.N; j++ {
			rs = append(rs, rec())
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
}
