package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/devstack-dev/devstack/internal/event"
)

// ErrStop, returned by a ConsumeGroup handler, ends consumption after committing that record.
var ErrStop = errors.New("stop consuming")

// GroupConsumeOptions tunes ConsumeGroup.
type GroupConsumeOptions struct {
	// FromBeginning starts partitions without a committed offset at the earliest offset, else at the end.
	FromBeginning bool
	// Follow keeps consuming until ctx ends; without it ConsumeGroup returns once every partition
	// assigned to it reached the end offset it had at the start.
	Follow bool
}

// ConsumeGroup joins group as a member (like kcat -G), reads topic and calls handle for each record
// (in order within a partition). A record whose handle returned nil (or ErrStop) is committed: on
// rebalance, periodically, and before ConsumeGroup returns. This is the one Admin call that joins a
// group; the tap (Messages) never does.
func (a *Admin) ConsumeGroup(ctx context.Context, group, topic string, o GroupConsumeOptions, handle func(event.Message) error) error {
	if group == "" {
		return errors.New("consume: group name is empty")
	}
	ends, err := a.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("consume %s: %w", topic, err)
	}
	if ps, ok := ends[topic]; !ok || len(ps) == 0 || ps[-1].Err != nil {
		return fmt.Errorf("consume %s: topic does not exist", topic)
	}
	starts, err := a.adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("consume %s: %w", topic, err)
	}

	var (
		mu       sync.Mutex
		assigned = map[int32]bool{}
		pos      = map[int32]int64{}
		unknown  = map[int32]bool{} // assigned, position not yet looked up
	)
	reset := kgo.NewOffset().AtEnd()
	if o.FromBeginning {
		reset = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append(a.clientOpts(),
		kgo.ClientID("devstack-consume"),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(reset),
		kgo.AutoCommitMarks(),
		kgo.AutoCommitInterval(time.Second),
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			mu.Lock()
			defer mu.Unlock()
			for _, p := range m[topic] {
				assigned[p] = true
				unknown[p] = true
			}
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
			if err := cl.CommitMarkedOffsets(ctx); err != nil {
				a.log.Warn("commit on revoke", "group", group, "err", err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, p := range m[topic] {
				delete(assigned, p)
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			mu.Lock()
			defer mu.Unlock()
			for _, p := range m[topic] {
				delete(assigned, p)
			}
		}),
	)...)
	if err != nil {
		return fmt.Errorf("consume %s: %w", topic, err)
	}
	defer cl.Close() // leaves the group

	// caughtUp reports whether every assigned partition reached its end offset of the start.
	caughtUp := func() (bool, error) {
		mu.Lock()
		var look []int32
		for p := range unknown {
			look = append(look, p)
		}
		mu.Unlock()
		if len(look) > 0 {
			committed, err := a.adm.FetchOffsetsForTopics(ctx, group, topic)
			if err != nil {
				return false, err
			}
			mu.Lock()
			for _, p := range look {
				at := int64(-1)
				if c, ok := committed.Lookup(topic, p); ok && c.Err == nil {
					at = c.At
				}
				if at < 0 {
					if o.FromBeginning {
						at = starts[topic][p].Offset
					} else {
						at = ends[topic][p].Offset
					}
				}
				if pos[p] < at {
					pos[p] = at
				}
				delete(unknown, p)
			}
			mu.Unlock()
		}
		mu.Lock()
		defer mu.Unlock()
		if len(assigned) == 0 {
			return false, nil
		}
		for p := range assigned {
			if pos[p] < ends[topic][p].Offset {
				return false, nil
			}
		}
		return true, nil
	}

	commit := func() error {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := cl.CommitMarkedOffsets(cctx); err != nil {
			return fmt.Errorf("consume %s: commit offsets for group %s: %w", topic, group, err)
		}
		return nil
	}

	idleUnassigned := 0
	for {
		if !o.Follow {
			done, err := caughtUp()
			if err != nil {
				return errors.Join(fmt.Errorf("consume %s: %w", topic, err), commit())
			}
			if done {
				return commit()
			}
		}
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if !o.Follow {
			pctx, cancel = context.WithTimeout(ctx, idlePoll)
		}
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil || fs.IsClientClosed() {
			return commit()
		}
		if !o.Follow && fs.NumRecords() == 0 {
			mu.Lock()
			idle := len(assigned) > 0 && len(unknown) == 0
			none := len(assigned) == 0
			mu.Unlock()
			if none {
				// Joining takes a moment (Kafka delays a new group's first rebalance by 3s), but a
				// member that holds nothing for this long gets nothing: other members have it all.
				if idleUnassigned++; idleUnassigned >= 15 {
					return errors.Join(fmt.Errorf("consume %s: group %s assigned no partition to this consumer in %s (other members hold them all?)", topic, group, 15*idlePoll), commit())
				}
			}
			if idle {
				// A whole poll without records while assigned: what remains below the end offsets
				// is not readable (transaction markers).
				return commit()
			}
		}
		fs.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			a.log.Warn("consume fetch", "topic", t, "partition", p, "err", err)
		})
		var herr error
		fs.EachRecord(func(r *kgo.Record) {
			if herr != nil {
				return
			}
			err := handle(toMessage(r))
			if err != nil && !errors.Is(err, ErrStop) {
				herr = err
				return
			}
			cl.MarkCommitRecords(r)
			mu.Lock()
			pos[r.Partition] = r.Offset + 1
			mu.Unlock()
			herr = err
		})
		if herr != nil {
			if cerr := commit(); cerr != nil {
				return cerr
			}
			if errors.Is(herr, ErrStop) {
				return nil
			}
			return herr
		}
	}
}
