package broker

import (
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// KIP-848 ("consumer" protocol) groups are not covered by DescribeGroups; Groups and ResetGroup
// must still see them.
func TestGroupsKIP848(t *testing.T) {
	b := startBroker(t, Options{Topics: []TopicSpec{{Name: "x", Partitions: 2}}})
	ctx := testCtx(t)
	produceN(t, ctx, newClient(t, b.Addr()), "x", 0, 10)
	cl := newClient(t, b.Addr(), kgo.ConsumerGroup("g848"), kgo.ConsumeTopics("x"), kgo.ServerSideBalancer(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	for n := 0; n < 10; {
		n += cl.PollFetches(ctx).NumRecords()
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	gs, err := b.Admin().Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 || gs[0].Name != "g848" || len(gs[0].Members) != 1 || !slices.Equal(gs[0].Members[0].Assignment["x"], []int32{0, 1}) {
		t.Fatalf("groups = %+v", gs)
	}
	var committed int64
	for _, o := range gs[0].Offsets {
		committed += o.Committed
	}
	if committed != 10 || gs[0].Lag != 0 {
		t.Fatalf("committed %d lag %d, want 10 and 0", committed, gs[0].Lag)
	}
	if err := b.Admin().ResetGroup(ctx, "g848", "x", "earliest", 0); err == nil || !strings.Contains(err.Error(), "active member") {
		t.Fatalf("reset of an active KIP-848 group: %v", err)
	}
}
