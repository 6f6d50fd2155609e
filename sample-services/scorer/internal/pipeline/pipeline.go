// Package pipeline consumes orders.placed in a consumer group, scores each order and produces
// orders.scored with an idempotent producer; records that can't be scored go to orders.dlq.
// orders.placed and orders.scored carry Avro through the schema registry (package codec); the dead
// letters stay JSON (sample-services/schemas/orders.dlq.schema.json).
package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kotel"
	"go.opentelemetry.io/otel/trace"

	"github.com/devstack-dev/devstack/sample-services/scorer/internal/codec"
	"github.com/devstack-dev/devstack/sample-services/scorer/internal/events"
	"github.com/devstack-dev/devstack/sample-services/scorer/internal/risk"
)

// Options configure a Pipeline.
type Options struct {
	Brokers []string     // seed brokers, host:port
	Group   string       // consumer group (default "scorer")
	Scorer  *risk.Scorer // required
	Codec   *codec.Codec // required: Avro through the schema registry
	Metrics *Metrics     // nil: not recorded
	Logger  *slog.Logger // nil: discard
	// Tracer traces the Kafka hop (franz-go's kotel): a receive span per consumed record continuing the
	// traceparent it carries, a process span under it, and the produced record's publish span under
	// that, its traceparent header written so the consumer downstream continues the same trace.
	// nil: no spans, no trace headers.
	Tracer *kotel.Tracer
	// Now is the clock (default time.Now); tests pin it.
	Now func() time.Time
}

// Pipeline is the scorer's Kafka loop. Delivery is at least once: offsets are committed only after
// the records they cover were produced (to orders.scored or orders.dlq) and acknowledged, so a crash
// replays the uncommitted tail and consumers downstream dedupe by order_id.
type Pipeline struct {
	opts Options
	cl   *kgo.Client
	log  *slog.Logger
}

// New connects lazily: it validates options and builds the client without touching the network.
func New(opts Options) (*Pipeline, error) {
	if len(opts.Brokers) == 0 {
		return nil, errors.New("pipeline: no brokers (set KAFKA_BROKERS)")
	}
	if opts.Scorer == nil {
		return nil, errors.New("pipeline: Scorer is required")
	}
	if opts.Codec == nil {
		return nil, errors.New("pipeline: Codec is required")
	}
	if opts.Group == "" {
		opts.Group = "scorer"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p := &Pipeline{opts: opts, log: log}
	var hooks []kgo.Opt
	if opts.Tracer != nil {
		hooks = append(hooks, kgo.WithHooks(kotel.NewKotel(kotel.WithTracer(opts.Tracer)).Hooks()...))
	}
	cl, err := kgo.NewClient(append(hooks,
		kgo.SeedBrokers(opts.Brokers...),
		kgo.ClientID("scorer"),
		kgo.ConsumerGroup(opts.Group),
		kgo.ConsumeTopics(events.TopicPlaced),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		// Between a poll and its commit no rebalance may move partitions away, so offsets are never
		// committed for partitions this member no longer owns.
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsRevoked(p.onRevoked),
		kgo.OnPartitionsLost(p.onLost),
		// Producing is idempotent by default in franz-go (acks=all, sequence numbers per partition);
		// say so explicitly so nobody "optimises" it away.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// franz-go compresses with snappy by default, which kafkajs (the users service, and any Node
		// consumer) cannot read without a codec plugin. Small records on a local broker gain
		// nothing from compression, so send them as they are and stay readable by every client.
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.AllowAutoTopicCreation(),
		kgo.WithLogger(kgoLogger{log}),
	)...)
	if err != nil {
		return nil, fmt.Errorf("pipeline: create kafka client: %w", err)
	}
	p.cl = cl
	return p, nil
}

// Ping checks that a broker answers.
func (p *Pipeline) Ping(ctx context.Context) error { return p.cl.Ping(ctx) }

// Close leaves the group and closes the client; safe to call more than once.
func (p *Pipeline) Close() { p.cl.Close() }

// Run polls, scores, produces and commits until ctx ends (then it returns nil) or producing fails
// for good (then it returns the error and the process should exit so the supervisor restarts it).
func (p *Pipeline) Run(ctx context.Context) error {
	p.log.Info("consuming", "topic", events.TopicPlaced, "group", p.opts.Group, "brokers", strings.Join(p.opts.Brokers, ","))
	for {
		fetches := p.cl.PollRecords(ctx, 500)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			p.cl.AllowRebalance()
			return nil
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			p.log.Warn("fetch failed", "topic", topic, "partition", partition, "err", err)
		})
		recs := fetches.Records()
		if len(recs) == 0 {
			p.cl.AllowRebalance()
			continue
		}
		start := time.Now()
		out := make([]*kgo.Record, 0, len(recs))
		spans := make([]trace.Span, 0, len(recs))
		endSpans := func() {
			for _, s := range spans {
				s.End()
			}
		}
		for _, r := range recs {
			rctx := ctx
			if p.opts.Tracer != nil {
				_, span := p.opts.Tracer.WithProcessSpan(r)
				rctx = trace.ContextWithSpan(ctx, span) // ctx's cancellation, the record's trace
				spans = append(spans, span)
			}
			rec, err := p.handleRetrying(rctx, r)
			if err != nil { // ctx ended while the registry was unreachable: replayed at the next start
				endSpans()
				p.cl.AllowRebalance()
				return nil
			}
			if p.opts.Tracer != nil {
				rec.Context = rctx // its publish span is a child of this record's process span
			}
			out = append(out, rec)
		}
		err := p.finishBatch(ctx, out, recs)
		endSpans()
		if err != nil {
			return err
		}
		p.opts.Metrics.observeBatch(len(recs), time.Since(start))
	}
}

// finishBatch produces out and commits recs. A shutdown (ctx done) lets the batch in flight finish
// within a grace period, so stopping the scorer does not make the next start score it again.
func (p *Pipeline) finishBatch(ctx context.Context, out, recs []*kgo.Record) error {
	defer p.cl.AllowRebalance()
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchGrace)
	defer cancel()
	for _, r := range out {
		if r.Context != nil { // traced: keep the record's span, bounded by the batch's grace period
			r.Context = trace.ContextWithSpan(bctx, trace.SpanFromContext(r.Context))
		}
	}
	if err := p.cl.ProduceSync(bctx, out...).FirstErr(); err != nil {
		return fmt.Errorf("produce %d records: %w", len(out), err)
	}
	if err := p.cl.CommitRecords(bctx, recs...); err != nil {
		// Not fatal: the records are redelivered and scored again; downstream dedupes by order_id.
		p.log.Warn("commit offsets failed", "records", len(recs), "err", err)
	}
	return nil
}

// batchGrace bounds producing and committing one batch, also during shutdown.
const batchGrace = 15 * time.Second

// handleRetrying is handle, retried while the schema registry can't be reached (a record is never
// dead-lettered for that); it fails only when ctx ends.
func (p *Pipeline) handleRetrying(ctx context.Context, r *kgo.Record) (*kgo.Record, error) {
	wait := 200 * time.Millisecond
	for {
		rec, err := p.handle(ctx, r)
		if err == nil {
			return rec, nil
		}
		p.log.Warn("schema registry unavailable, retrying", "partition", r.Partition, "offset", r.Offset, "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// handle turns one orders.placed record into the record to produce: a score or a dead letter. It
// fails only when the schema registry can't be reached.
func (p *Pipeline) handle(ctx context.Context, r *kgo.Record) (*kgo.Record, error) {
	corr := header(r, events.HeaderCorrelationID)
	log := p.log.With("partition", r.Partition, "offset", r.Offset, "correlation_id", corr)

	order, err := p.opts.Codec.DecodePlaced(ctx, r.Value)
	if errors.Is(err, codec.ErrUndecodable) {
		log.Warn("poison message: not an Avro order", "err", err)
		p.opts.Metrics.deadLetter("undecodable")
		return p.deadLetter(r, fmt.Errorf("decode Avro: %w", err)), nil
	}
	if err != nil {
		return nil, err
	}
	if err := order.Validate(); err != nil {
		log.Warn("poison message: invalid order", "err", err)
		p.opts.Metrics.deadLetter("invalid_order")
		return p.deadLetter(r, fmt.Errorf("invalid order: %w", err)), nil
	}

	scored := p.opts.Scorer.Score(order, p.opts.Now())
	value, err := p.opts.Codec.EncodeScored(ctx, scored)
	if err != nil {
		return nil, fmt.Errorf("encode orders.scored: %w", err)
	}
	p.opts.Metrics.scored(scored)
	log.Info("order scored", "order_id", scored.OrderID, "user_id", scored.UserID, "score", scored.Score, "decision", scored.Decision)
	return &kgo.Record{
		Topic:   events.TopicScored,
		Key:     []byte(order.UserID),
		Value:   value,
		Headers: outHeaders(corr),
	}, nil
}

func (p *Pipeline) deadLetter(r *kgo.Record, cause error) *kgo.Record {
	dl := events.DeadLetter{
		SourceTopic:   r.Topic,
		Partition:     r.Partition,
		Offset:        r.Offset,
		ConsumerGroup: p.opts.Group,
		Error:         cause.Error(),
		Value:         strings.ToValidUTF8(string(r.Value), "\uFFFD"),
		ValueBase64:   r.Value,
		FailedAt:      p.opts.Now().UTC(),
	}
	if r.Key != nil {
		k := strings.ToValidUTF8(string(r.Key), "\uFFFD")
		dl.Key = &k
	}
	if dl.ValueBase64 == nil {
		dl.ValueBase64 = []byte{}
	}
	value, _ := json.Marshal(dl) // plain types only
	hdrs := append([]kgo.RecordHeader(nil), r.Headers...)
	hdrs = append(hdrs, kgo.RecordHeader{Key: events.HeaderDLQError, Value: []byte(cause.Error())})
	return &kgo.Record{Topic: events.TopicDLQ, Key: r.Key, Value: value, Headers: hdrs}
}

func (p *Pipeline) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	// Every polled batch is committed before a rebalance may run (BlockRebalanceOnPoll), so nothing is
	// left to commit. The users on these partitions are scored by another member from now on, so
	// the windows kept here go stale: drop them (simple and safe; it costs the other users' history).
	p.log.Info("partitions revoked", "partitions", revoked)
	p.opts.Scorer.Forget()
}

func (p *Pipeline) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	p.log.Warn("partitions lost", "partitions", lost)
	p.opts.Scorer.Forget()
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if strings.EqualFold(h.Key, key) {
			return string(h.Value)
		}
	}
	return ""
}

func outHeaders(corr string) []kgo.RecordHeader {
	h := []kgo.RecordHeader{{Key: events.HeaderContentType, Value: []byte(events.ContentTypeAvro)}}
	if corr != "" {
		h = append(h, kgo.RecordHeader{Key: events.HeaderCorrelationID, Value: []byte(corr)})
	}
	return h
}

// kgoLogger adapts slog to franz-go's logger; franz-go's info level is chatty, so it logs at debug.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	if k.l.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelDebug
	}
	return kgo.LogLevelWarn
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lvl := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		lvl = slog.LevelError
	case kgo.LogLevelWarn:
		lvl = slog.LevelWarn
	}
	k.l.Log(context.Background(), lvl, "kafka: "+msg, keyvals...)
}
