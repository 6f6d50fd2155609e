package broker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/devstack-dev/devstack/internal/event"
)

// idlePoll bounds one poll of a tap that is not following, so it can notice it reached the end even
// when the last offsets before the end are transaction markers that never show up as records.
const idlePoll = 2 * time.Second

// Messages reads a topic directly from its partitions, without joining or committing for any consumer
// group, starting where q says. Without q.Follow the channel closes once every partition reached the
// end offset it had when the call started (or after q.Limit records); with q.Follow it stays open for
// new records until ctx ends. Records of one partition arrive in offset order.
func (a *Admin) Messages(ctx context.Context, q event.MessageQuery) (<-chan event.Message, error) {
	if q.Topic == "" {
		return nil, errors.New("read messages: topic is empty")
	}
	details, err := a.adm.ListTopics(ctx, q.Topic)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", q.Topic, err)
	}
	d, ok := details[q.Topic]
	if !ok || d.Err != nil {
		return nil, fmt.Errorf("read %s: topic does not exist: %w", q.Topic, event.ErrNotFound)
	}
	parts := slices.Sorted(maps.Keys(d.Partitions))
	if q.Partition >= 0 {
		if _, ok := d.Partitions[q.Partition]; !ok {
			return nil, fmt.Errorf("read %s: partition %d does not exist (the topic has %d)", q.Topic, q.Partition, len(parts))
		}
		parts = []int32{q.Partition}
	}
	starts, err := a.adm.ListStartOffsets(ctx, q.Topic)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", q.Topic, err)
	}
	ends, err := a.adm.ListEndOffsets(ctx, q.Topic)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", q.Topic, err)
	}
	var after kadm.ListedOffsets
	if q.From == "time" {
		if after, err = a.adm.ListOffsetsAfterMilli(ctx, q.Since.UnixMilli(), q.Topic); err != nil {
			return nil, fmt.Errorf("read %s: %w", q.Topic, err)
		}
	}

	from := map[int32]int64{}
	end := map[int32]int64{}
	for _, p := range parts {
		s, _ := starts.Lookup(q.Topic, p)
		e, _ := ends.Lookup(q.Topic, p)
		end[p] = e.Offset
		var at int64
		switch q.From {
		case "", "beginning":
			at = s.Offset
		case "end":
			at = e.Offset
		case "offset":
			at = q.Offset
			if at < 0 { // negative: that many from the end
				at = e.Offset + at
			}
		case "time":
			at = e.Offset
			if o, ok := after.Lookup(q.Topic, p); ok && o.Err == nil && o.Offset >= 0 {
				at = o.Offset
			}
		case "last":
			n := int64(q.Limit)
			if n <= 0 {
				n = 10
			}
			at = e.Offset - n
		default:
			return nil, fmt.Errorf("read %s: from must be beginning, end, offset, time or last, not %q", q.Topic, q.From)
		}
		from[p] = min(max(at, s.Offset), e.Offset)
	}

	offsets := map[int32]kgo.Offset{}
	for p, at := range from {
		offsets[p] = kgo.NewOffset().At(at)
	}
	cl, err := kgo.NewClient(append(a.clientOpts(),
		kgo.ClientID("devstack-tap"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{q.Topic: offsets}),
		kgo.FetchMaxWait(500*time.Millisecond),
	)...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", q.Topic, err)
	}

	ch := make(chan event.Message, 256)
	go func() {
		defer close(ch)
		defer cl.Close()
		send := func(m event.Message) bool {
			select {
			case ch <- m:
				return true
			case <-ctx.Done():
				return false
			}
		}
		if q.From == "last" {
			if !a.tapLast(ctx, cl, q, from, end, send) || !q.Follow {
				return
			}
		}
		a.tapLoop(ctx, cl, q, from, end, send, nil)
	}()
	return ch, nil
}

// tapLast reads up to each partition's end, then sends the newest q.Limit records overall and any
// records that arrived meanwhile. It reports whether the caller may go on.
func (a *Admin) tapLast(ctx context.Context, cl *kgo.Client, q event.MessageQuery, pos, end map[int32]int64, send func(event.Message) bool) bool {
	var all, newer []event.Message
	a.tapLoop(ctx, cl, event.MessageQuery{Topic: q.Topic}, pos, end, func(m event.Message) bool {
		all = append(all, m)
		return true
	}, func(m event.Message) { newer = append(newer, m) })
	if ctx.Err() != nil {
		return false
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Timestamp.Before(all[j].Timestamp) })
	n := q.Limit
	if n <= 0 {
		n = 10
	}
	if len(all) > n {
		all = all[len(all)-n:]
	}
	for _, m := range append(all, newer...) {
		if !send(m) {
			return false
		}
	}
	return true
}

// tapLoop polls cl and sends records until ctx ends, q.Limit records were sent, or (without q.Follow)
// every partition reached its end. pos is updated with each partition's next offset. Without q.Follow,
// records at or past the end offsets go to overflow (nil: dropped).
func (a *Admin) tapLoop(ctx context.Context, cl *kgo.Client, q event.MessageQuery, pos, end map[int32]int64, send func(event.Message) bool, overflow func(event.Message)) {
	done := func() bool {
		for p, e := range end {
			if pos[p] < e {
				return false
			}
		}
		return true
	}
	sent := 0
	for {
		if !q.Follow && done() {
			return
		}
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if !q.Follow {
			pctx, cancel = context.WithTimeout(ctx, idlePoll)
		}
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if fs.IsClientClosed() {
			return
		}
		got := false
		fs.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			a.log.Warn("tap fetch", "topic", t, "partition", p, "err", err)
		})
		stop := false
		fs.EachRecord(func(r *kgo.Record) {
			got = true
			if stop {
				return
			}
			pos[r.Partition] = r.Offset + 1
			if !q.Follow {
				if e, ok := end[r.Partition]; ok && r.Offset >= e {
					if overflow != nil { // produced after the read started
						overflow(toMessage(r))
					}
					return
				}
			}
			if !send(toMessage(r)) {
				stop = true
				return
			}
			sent++
			if q.Limit > 0 && q.From != "last" && sent >= q.Limit {
				stop = true
			}
		})
		if stop {
			return
		}
		if !got && !q.Follow {
			// Nothing for a whole poll: whatever remains below the end offsets is not readable
			// (transaction markers, aborted records).
			return
		}
	}
}

func toMessage(r *kgo.Record) event.Message {
	m := event.Message{
		Topic:     r.Topic,
		Partition: r.Partition,
		Offset:    r.Offset,
		Timestamp: r.Timestamp,
		Key:       r.Key,
		Value:     r.Value,
	}
	for _, h := range r.Headers {
		m.Headers = append(m.Headers, event.Header{Key: h.Key, Value: h.Value})
	}
	return m
}

func toRecord(topic string, m event.Message) *kgo.Record {
	r := &kgo.Record{Topic: topic, Key: m.Key, Value: m.Value, Timestamp: m.Timestamp}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return r
}

// Produce writes msgs to topic with acks=all and waits until every record is acknowledged. The
// partition comes from the key (Kafka's default partitioner); msgs' Partition fields are ignored (see
// ProduceToPartition). An unknown topic is created if the cluster auto-creates topics.
func (a *Admin) Produce(ctx context.Context, topic string, msgs []event.Message) error {
	return produce(ctx, a.cl, topic, -1, msgs)
}

// ProduceToPartition is Produce into one partition.
func (a *Admin) ProduceToPartition(ctx context.Context, topic string, partition int32, msgs []event.Message) error {
	cl, err := kgo.NewClient(append(a.clientOpts(),
		kgo.AllowAutoTopicCreation(),
		kgo.ClientID("devstack-admin"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)...)
	if err != nil {
		return fmt.Errorf("produce to %s: %w", topic, err)
	}
	defer cl.Close()
	return produce(ctx, cl, topic, partition, msgs)
}

func produce(ctx context.Context, cl *kgo.Client, topic string, partition int32, msgs []event.Message) error {
	if err := ValidateTopicName(topic); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	if len(msgs) == 0 {
		return nil
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		fails int
	)
	for _, m := range msgs {
		r := toRecord(topic, m)
		if partition >= 0 {
			r.Partition = partition
		}
		wg.Add(1)
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				fails++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if first != nil {
		if errors.Is(first, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("produce to %s: topic does not exist and the broker does not auto-create it; create it first (devstack topic create %s)", topic, topic)
		}
		return fmt.Errorf("produce to %s: %d of %d records failed: %w", topic, fails, len(msgs), first)
	}
	return nil
}
