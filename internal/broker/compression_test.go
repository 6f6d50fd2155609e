package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/devstack-dev/devstack/internal/event"
)

// What `devstack produce` and the TUI produce must be readable by every client: kafkajs, for one, has no
// snappy codec, which is franz-go's default. So the admin writes uncompressed batches.
func TestAdminProducesUncompressed(t *testing.T) {
	b := startBroker(t, Options{Port: 0, AutoCreate: true, Topics: []TopicSpec{{Name: "plain", Partitions: 1}}})
	ctx := testCtx(t)
	a, err := NewAdmin([]string{b.Addr()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	msgs := make([]event.Message, 20)
	for i := range msgs {
		msgs[i] = event.Message{Value: []byte(`{"hello":"world","padding":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}`)}
	}
	if err := a.Produce(ctx, "plain", msgs); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, b.Addr(), kgo.ConsumeTopics("plain"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := 0
	for got < len(msgs) {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got++
			if c := r.Attrs.CompressionType(); c != 0 {
				t.Errorf("record %d is in a batch compressed with codec %d, want none", r.Offset, c)
			}
		})
	}
}
