package broker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"

	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A client that declares a huge request must not make the broker allocate it: the connection is
// closed as soon as the 4-byte size arrives (real Kafka: socket.request.max.bytes).
func TestOversizedRequestClosesConnection(t *testing.T) {
	const limit = 100 << 20
	b := startBroker(t, Options{MaxRequestBytes: limit})
	tests := []struct {
		name string
		size uint32 // the 4-byte size field as sent
	}{
		{"200 MB", 200_000_000},
		{"limit plus one", limit + 1},
		{"4 GiB (negative as int32)", 0xFFFFFFFF},
		{"most negative int32", 0x80000000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			c, err := net.Dial("tcp", b.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write(binary.BigEndian.AppendUint32(nil, tc.size)); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := c.Read(make([]byte, 1))
			if n != 0 || !(errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)) {
				t.Fatalf("read after a %d-byte size field: n=%d err=%v, want the connection closed by the broker", tc.size, n, err)
			}
			runtime.ReadMemStats(&after)
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
				t.Fatalf("the broker allocated %d MiB for a request it should have refused", grew>>20)
			}
		})
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "read" && !op.Timeout()
}

// Requests below the limit, including one record close to it, work as usual with a real client.
func TestRequestsBelowLimit(t *testing.T) {
	const limit = 2 << 20
	b := startBroker(t, Options{MaxRequestBytes: limit, AutoCreate: true})
	ctx := testCtx(t)
	cl := newClient(t, b.Addr(), kgo.ProducerBatchMaxBytes(limit), kgo.ConsumeTopics("big"), kgo.AllowAutoTopicCreation(),
		kgo.FetchMaxBytes(4<<20), kgo.FetchMaxPartitionBytes(4<<20))
	big := bytes.Repeat([]byte("x"), limit-4096) // the request adds headers and the batch
	recs := []*kgo.Record{{Topic: "big", Value: []byte("small")}, {Topic: "big", Value: big}}
	for _, r := range recs {
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d bytes under a %d-byte limit: %v", len(r.Value), limit, err)
		}
	}
	var got [][]byte
	for len(got) < len(recs) {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(got), len(recs), err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, r.Value) })
	}
	if !bytes.Equal(got[0], recs[0].Value) || !bytes.Equal(got[1], big) {
		t.Fatalf("consumed records differ from the produced ones (lengths %d, %d)", len(got[0]), len(got[1]))
	}
}
