// Package schemareg is devstack's schema registry: Confluent Schema Registry's v1 REST API, with the
// schemas kept in the broker's _schemas topic (compacted, one partition) so they survive restarts and
// work the same on any broker. Compatibility rules come from internal/schemas.
//
// Every change is a record produced to the topic (acks=all, idempotent, one writer at a time); one reader
// applies the topic's records to the in-memory state, at start from the beginning to the end and then
// as they arrive. A change is acknowledged once the broker has it and it is applied in memory (by the
// writer itself when its records directly follow what was applied, else by the reader).
package schemareg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/devstack-dev/devstack/internal/schemas"
)

// Options configure a registry. Every field is required except Logger.
type Options struct {
	// Addr is the host:port the REST API listens on (port 0: a free one).
	Addr string
	// Kafka says how to reach the broker (seed brokers, SASL, TLS); the registry adds its own options.
	Kafka []kgo.Opt
	// Topic keeps the schemas ("_schemas"); it is created compacted with one partition when missing.
	Topic string
	// Compatibility is the global level until PUT /config changes it.
	Compatibility schemas.Level
	Logger        *slog.Logger
}

// Registry is a running schema registry.
type Registry struct {
	opts Options
	log  *slog.Logger
	cl   *kgo.Client
	ln   net.Listener
	srv  *http.Server

	mu      sync.RWMutex // guards st, applied, notify
	st      *state
	applied int64                  // the offset after the last applied record
	notify  chan struct{}          // closed (and replaced) whenever applied moves
	imu     sync.Mutex             // one index() at a time
	pmu     sync.Mutex             // guards parsed
	parsed  map[int]schemas.Parsed // by id

	wmu sync.Mutex // one writer at a time: versions and ids are dense

	panics  atomic.Int64 // requests that panicked (tests assert none)
	refused atomic.Int64 // registrations refused (invalid or incompatible schemas, bad subjects, read-only mode)

	failed    chan error
	readerErr atomic.Pointer[error]
	readDone  chan struct{}
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// maxBody bounds a request body.
const maxBody = 16 << 20

// Start reads the topic to its end (so every id and version registered before is back), then listens.
// It returns when the API answers; ctx bounds the start only.
func Start(ctx context.Context, o Options) (*Registry, error) {
	if o.Topic == "" {
		return nil, errors.New("schema registry: no topic to keep the schemas in (Options.Topic)")
	}
	if o.Addr == "" {
		return nil, errors.New("schema registry: no listen address (Options.Addr)")
	}
	if _, err := schemas.ParseLevel(string(o.Compatibility)); err != nil {
		return nil, fmt.Errorf("schema registry: global compatibility: %w", err)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Registry{
		opts:     o,
		log:      log,
		st:       newState(),
		notify:   make(chan struct{}),
		parsed:   map[int]schemas.Parsed{},
		failed:   make(chan error, 1),
		readDone: make(chan struct{}),
	}
	opts := append([]kgo.Opt{}, o.Kafka...)
	opts = append(opts,
		kgo.ClientID("devstack-schema-registry"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{o.Topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.FetchMaxWait(time.Second),
		// Reading the topic at start is a few large fetches rather than one per MiB.
		kgo.FetchMaxBytes(64<<20),
		kgo.FetchMaxPartitionBytes(64<<20),
	)
	// The topic exists before the reading client starts: a client that asked for an unknown topic's
	// metadata backs off before asking again, which would delay the first write.
	acl, err := kgo.NewClient(append(append([]kgo.Opt{}, o.Kafka...), kgo.ClientID("devstack-schema-registry-admin"))...)
	if err != nil {
		return nil, fmt.Errorf("schema registry: kafka client: %w", err)
	}
	end, err := r.ensureTopic(ctx, kadm.NewClient(acl))
	acl.Close()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schema registry: kafka client: %w", err)
	}
	r.cl = cl
	rctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(2)
	go r.read(rctx)
	go r.watch(rctx)
	if err := r.waitStart(ctx, end); err != nil {
		r.Close()
		return nil, fmt.Errorf("schema registry: read topic %s to its end (offset %d): %w", o.Topic, end, err)
	}

	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("schema registry: listen on %s: %w (is another registry running? change registry.port in devstack.yaml)", o.Addr, err)
	}
	r.ln = ln
	r.srv = &http.Server{
		Handler:           r.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.fail(fmt.Errorf("schema registry: listener on %s: %w", ln.Addr(), err))
		}
	}()
	r.mu.RLock()
	n := len(r.st.byID)
	r.mu.RUnlock()
	log.Info("schema registry started", "addr", ln.Addr().String(), "topic", o.Topic, "schemas", n)
	return r, nil
}

// ensureTopic creates the topic when missing and returns its end offset (the high watermark).
func (r *Registry) ensureTopic(ctx context.Context, adm *kadm.Client) (int64, error) {
	topic := r.opts.Topic
	brokers, err := adm.ListBrokers(ctx)
	if err != nil {
		return 0, fmt.Errorf("schema registry: reach the broker: %w", err)
	}
	rf := int16(min(len(brokers), 3))
	if rf < 1 {
		rf = 1
	}
	resp, err := adm.CreateTopic(ctx, 1, rf, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, topic)
	switch {
	case err == nil && resp.Err == nil:
		r.log.Info("schema registry: created topic", "topic", topic, "replication", rf)
		return 0, nil // a new topic is empty (asking for its end now would wait for the metadata)
	case errors.Is(err, kerr.TopicAlreadyExists) || errors.Is(resp.Err, kerr.TopicAlreadyExists):
		r.checkTopic(ctx, adm)
	case err != nil:
		return 0, fmt.Errorf("schema registry: create topic %s: %w", topic, err)
	default:
		return 0, fmt.Errorf("schema registry: create topic %s: %w", topic, resp.Err)
	}
	// A topic just created may take a moment to show in the metadata.
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return 0, fmt.Errorf("schema registry: end of topic %s: %w", topic, err)
		}
		o, ok := ends.Lookup(topic, 0)
		switch {
		case ok && o.Err == nil:
			return o.Offset, nil
		case ok && !errors.Is(o.Err, kerr.UnknownTopicOrPartition) && !errors.Is(o.Err, kerr.LeaderNotAvailable) && !errors.Is(o.Err, kerr.NotLeaderForPartition):
			return 0, fmt.Errorf("schema registry: end of topic %s: %w", topic, o.Err)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("schema registry: topic %s has no partition 0 (%w)", topic, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// checkTopic logs an existing topic's settings that differ from what the registry creates.
func (r *Registry) checkTopic(ctx context.Context, adm *kadm.Client) {
	topic := r.opts.Topic
	if td, err := adm.ListTopics(ctx, topic); err == nil {
		if d, ok := td[topic]; ok && len(d.Partitions) != 1 {
			r.log.Warn("schema registry: topic has more than one partition; only partition 0 is used", "topic", topic, "partitions", len(d.Partitions))
		}
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		return
	}
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && c.MaybeValue() != "compact" {
			r.log.Warn("schema registry: topic is not compacted; deleted schemas stay in it and retention may drop live ones (set cleanup.policy=compact)", "topic", topic, "cleanup.policy", c.MaybeValue())
		}
	}
}

// read applies the topic's records until ctx ends.
func (r *Registry) read(ctx context.Context) {
	defer r.wg.Done()
	defer close(r.readDone)
	var failingSince time.Time
	for {
		fs := r.cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			if failingSince.IsZero() {
				failingSince = time.Now()
			}
			r.log.Warn("schema registry: reading topic", "topic", r.opts.Topic, "err", ferr)
			if time.Since(failingSince) > readerGiveUp {
				err := fmt.Errorf("schema registry: cannot read topic %s for %s: %w", r.opts.Topic, readerGiveUp, ferr)
				r.readerErr.Store(&err)
				r.fail(err)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		failingSince = time.Time{}
		r.mu.Lock()
		fs.EachRecord(func(rec *kgo.Record) {
			if rec.Offset < r.applied {
				return // applied by the writer that wrote it
			}
			if err := r.st.apply(rec.Key, rec.Value); err != nil {
				r.log.Warn("schema registry: skipped a record of the topic", "topic", r.opts.Topic, "offset", rec.Offset, "err", err)
			}
			r.applied = rec.Offset + 1
		})
		close(r.notify)
		r.notify = make(chan struct{})
		r.mu.Unlock()
	}
}

// watch asks for the topic's end every watchEvery: the client retries a lost broker quietly, so this is
// how the registry learns that its topic cannot be read, and reports itself failed after readerGiveUp.
func (r *Registry) watch(ctx context.Context) {
	defer r.wg.Done()
	adm := kadm.NewClient(r.cl)
	var failingSince time.Time
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		qctx, cancel := context.WithTimeout(ctx, watchEvery)
		ends, err := adm.ListEndOffsets(qctx, r.opts.Topic)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			if o, ok := ends.Lookup(r.opts.Topic, 0); !ok {
				err = fmt.Errorf("topic %s has no partition 0", r.opts.Topic)
			} else {
				err = o.Err
			}
		}
		if err == nil {
			failingSince = time.Time{}
			continue
		}
		if failingSince.IsZero() {
			failingSince = time.Now()
		}
		r.log.Warn("schema registry: cannot reach its topic", "topic", r.opts.Topic, "err", err)
		if time.Since(failingSince) >= readerGiveUp {
			r.fail(fmt.Errorf("schema registry: cannot read topic %s for %s: %w", r.opts.Topic, readerGiveUp, err))
			return
		}
	}
}

// watchEvery is how often watch checks the topic.
var watchEvery = 5 * time.Second

// readerGiveUp is how long the topic may fail to read before the registry reports itself failed.
var readerGiveUp = 30 * time.Second

// waitApplied waits until the reader has applied every record before offset.
func (r *Registry) waitApplied(ctx context.Context, offset int64) error {
	for {
		r.mu.RLock()
		done, ch := r.applied >= offset, r.notify
		r.mu.RUnlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-r.readDone:
			if p := r.readerErr.Load(); p != nil {
				return *p
			}
			return errors.New("the topic reader stopped")
		}
	}
}

// waitStart waits until the reader has applied the topic up to end. The records just before end may be
// gone (compacted away, or transaction markers, which a consumer never sees): when the reader makes no
// progress for startStall, a marker record is written and read back instead.
func (r *Registry) waitStart(ctx context.Context, end int64) error {
	for {
		r.mu.RLock()
		before := r.applied
		r.mu.RUnlock()
		sctx, cancel := context.WithTimeout(ctx, startStall)
		err := r.waitApplied(sctx, end)
		cancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		r.mu.RLock()
		stalled := r.applied == before
		r.mu.RUnlock()
		if !stalled {
			continue
		}
		marker := keyStartMarker
		res := r.cl.ProduceSync(ctx, &kgo.Record{Topic: r.opts.Topic, Partition: 0, Key: mustJSON(recordKey{KeyType: keyNoop, Subject: &marker})})
		if err := res.FirstErr(); err != nil {
			return fmt.Errorf("write a marker to find the end: %w", err)
		}
		r.log.Info("schema registry: the topic's last offsets hold no records; reading to a marker", "topic", r.opts.Topic, "end", end)
		return r.waitApplied(ctx, res[0].Record.Offset+1)
	}
}

// keyStartMarker names the marker record waitStart writes (a NOOP with a subject, value null: it
// changes nothing, and compaction removes it).
const keyStartMarker = "devstack-start-marker"

// startStall is how long the reader may make no progress at start before waitStart writes a marker.
var startStall = 2 * time.Second

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// writeTimeout bounds one change: the broker's acknowledgement and the reader applying it.
var writeTimeout = 30 * time.Second

type kv struct {
	key   recordKey
	value any // nil: a tombstone
}

// write produces recs (in order) and waits until they are applied. The caller holds wmu.
func (r *Registry) write(ctx context.Context, recs ...kv) *Error {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	krs := make([]*kgo.Record, 0, len(recs))
	for _, rec := range recs {
		k, err := json.Marshal(rec.key)
		if err != nil {
			return storeError(err)
		}
		kr := &kgo.Record{Topic: r.opts.Topic, Partition: 0, Key: k}
		if rec.value != nil {
			if kr.Value, err = json.Marshal(rec.value); err != nil {
				return storeError(err)
			}
		}
		krs = append(krs, kr)
	}
	res := r.cl.ProduceSync(ctx, krs...)
	if err := res.FirstErr(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return &Error{Status: http.StatusInternalServerError, Code: 50002, Message: fmt.Sprintf("Operation timed out: the broker did not acknowledge the write to %s in %s", r.opts.Topic, writeTimeout)}
		}
		if errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) {
			size := 0
			for _, kr := range krs {
				size = max(size, len(kr.Key)+len(kr.Value))
			}
			return &Error{Status: http.StatusUnprocessableEntity, Code: 42209, Message: fmt.Sprintf("Schema too large: its record in %s is %d bytes, more than the broker takes (max.message.bytes, about 1 MB by default)", r.opts.Topic, size)}
		}
		return storeError(fmt.Errorf("write to topic %s: %w", r.opts.Topic, err))
	}
	// The records are the topic's next ones unless someone else wrote to it since the reader last
	// applied a record: then apply them now (the reader skips what is applied) rather than wait for the
	// reader's next fetch; else wait for the reader to get there.
	first, last := res[0].Record.Offset, res[0].Record.Offset
	for _, pr := range res {
		first, last = min(first, pr.Record.Offset), max(last, pr.Record.Offset)
	}
	r.mu.Lock()
	if r.applied == first && last-first == int64(len(res)-1) {
		for _, pr := range res { // in order: one batch, one partition
			if err := r.st.apply(pr.Record.Key, pr.Record.Value); err != nil {
				r.log.Warn("schema registry: skipped a record it wrote", "topic", r.opts.Topic, "offset", pr.Record.Offset, "err", err)
			}
		}
		r.applied = last + 1
		close(r.notify)
		r.notify = make(chan struct{})
	}
	r.mu.Unlock()
	if err := r.waitApplied(ctx, last+1); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return &Error{Status: http.StatusInternalServerError, Code: 50002, Message: fmt.Sprintf("Operation timed out: written to %s but not read back in %s", r.opts.Topic, writeTimeout)}
		}
		return storeError(err)
	}
	return nil
}

func storeError(err error) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: 50001, Message: "Error in the backend data store: " + err.Error()}
}

func (r *Registry) fail(err error) {
	select {
	case r.failed <- err:
	default:
	}
}

// Addr is the host:port the API listens on.
func (r *Registry) Addr() string { return r.ln.Addr().String() }

// URL is the API's base URL (what services get in SCHEMA_REGISTRY_URL).
func (r *Registry) URL() string { return "http://" + r.Addr() }

// Failed delivers an error if the registry stops on its own (its listener or its topic fails).
func (r *Registry) Failed() <-chan error { return r.failed }

// Close stops the API and the topic reader.
func (r *Registry) Close() error {
	r.closeOnce.Do(func() {
		if r.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := r.srv.Shutdown(ctx); err != nil {
				r.srv.Close()
			}
			cancel()
		}
		if r.cancel != nil {
			r.cancel()
		}
		r.cl.Close()
		r.wg.Wait()
		r.log.Info("schema registry stopped")
	})
	return nil
}

// Error is a registry error with Confluent's error code (40401 subject not found, 409 incompatible,
// 42201 invalid schema, …) and the HTTP status it is served with.
type Error struct {
	Status  int
	Code    int
	Message string
	// Reasons are the compatibility checker's messages (409).
	Reasons []string
	// Err is the cause when there is one: the parser's *schemas.ParseError of an invalid schema (42201),
	// whose Line and Col say where.
	Err error
}

func (e *Error) Error() string { return e.Message }

// Unwrap is the cause (nil when none).
func (e *Error) Unwrap() error { return e.Err }

// Register registers s under subject as POST /subjects/{subject}/versions does (an identical schema
// returns its existing id and version). Schemas as code (registry.subjects in devstack.yaml) use it.
func (r *Registry) Register(ctx context.Context, subject string, s schemas.Schema, normalize bool) (id, version int, err error) {
	id, version, e := r.register(ctx, subject, registerRequest{Schema: s.Text, SchemaType: string(s.Type), References: s.References}, normalize)
	if e != nil {
		return 0, 0, e
	}
	return id, version, nil
}

// SetLevel sets subject's compatibility level as PUT /config/{subject} does ("" sets the global one).
func (r *Registry) SetLevel(ctx context.Context, subject string, l schemas.Level) error {
	if e := r.setLevel(ctx, subject, string(l)); e != nil {
		return e
	}
	return nil
}
