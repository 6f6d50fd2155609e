// Package broker runs devstack's embedded Kafka-compatible broker (franz-go's kfake) and provides an
// admin and tap layer that works against any Kafka cluster, embedded or real. The embedded broker also
// watches its own traffic (observe.go): the records and bytes consumers fetch per topic, and produce and
// fetch spans for records that carry a W3C traceparent header.
package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/fsperm"
	"github.com/devstack-dev/devstack/internal/kafkaname"
)

// DefaultHost is the listen address when Options.Host is empty.
const (
	DefaultHost          = "127.0.0.1"
	defaultSweepInterval = 30 * time.Second
	maxSegmentBytes      = 64 << 20
	minSegmentBytes      = 1 << 20
)

// Options configures the embedded broker.
type Options struct {
	// Host and Port to listen on. Host defaults to 127.0.0.1. Port 0 picks a free port (tests); the
	// stack passes the configured port (9092 by default).
	Host string
	Port int
	// DataDir keeps topics, records and group offsets across restarts. "" means ephemeral: the broker
	// works in a private temporary directory that Close removes (kfake's own in-memory store was
	// measured at 2-4x the retained bytes in RSS; files keep RSS flat), still bounded by retention.
	DataDir string
	// AutoCreate creates unknown topics when a client asks for their metadata (all Metadata versions,
	// as real Kafka does), with DefaultPartitions partitions (default 1).
	AutoCreate        bool
	DefaultPartitions int
	// RetentionTime and RetentionBytes (per partition) apply to every topic that does not set its own
	// retention.ms / retention.bytes. 0 means none (keep records forever, no byte limit), as
	// devstack.yaml's broker.retention documents; internal/config sets the bounds (24h, 256 MiB) when
	// the file does not.
	RetentionTime  time.Duration
	RetentionBytes int64
	// MaxRequestBytes caps the size a client may declare for one request (Kafka's
	// socket.request.max.bytes): a connection that announces a larger or a negative size is closed
	// before anything is allocated for it. 0 means no limit.
	MaxRequestBytes int64
	// Topics exist (with at least these partitions and these configs) before Start returns.
	Topics []TopicSpec
	Logger *slog.Logger
	// Spans receives the broker's produce and fetch spans for records that carry a W3C traceparent
	// header; nil: the broker makes no spans.
	Spans event.SpanSink
}

// TopicSpec declares a topic.
type TopicSpec struct {
	Name       string
	Partitions int               // <= 0: 1
	Configs    map[string]string // topic configs such as cleanup.policy or retention.ms
}

// Broker is a running embedded broker.
type Broker struct {
	opts    Options
	log     *slog.Logger
	cluster *kfake.Cluster
	addr    string
	admin   *Admin
	lock    *os.File
	tempDir string // ephemeral data dir, removed by Close

	// produced counts bytes received from clients since the last retention sweep; crossing sweepBytes
	// wakes the sweeper so a partition overshoots its byte bound by little more than sweepBytes.
	produced   atomic.Int64
	sweepBytes int64
	sweepNow   chan struct{}
	sweeps     atomic.Int64
	closing    atomic.Bool
	obs        *observer // the traffic the metrics' out series and the spans come from

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Start starts the broker and returns once it accepts connections and every declared topic exists.
func Start(ctx context.Context, o Options) (*Broker, error) {
	if o.Host == "" {
		o.Host = DefaultHost
	}
	if o.DefaultPartitions <= 0 {
		o.DefaultPartitions = 1
	}
	if o.RetentionTime < 0 || o.RetentionBytes < 0 {
		return nil, fmt.Errorf("broker: retention time and bytes must not be negative (0 means none), got %s and %d", o.RetentionTime, o.RetentionBytes)
	}
	retentionMS, retentionBytes, segmentBytes := int64(-1), int64(-1), int64(maxSegmentBytes) // Kafka's -1: none
	if o.RetentionTime > 0 {
		retentionMS = max(o.RetentionTime.Milliseconds(), 1)
	}
	if o.RetentionBytes > 0 {
		retentionBytes = o.RetentionBytes
		segmentBytes = min(max(o.RetentionBytes/4, minSegmentBytes), maxSegmentBytes)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Broker{
		opts:     o,
		log:      log,
		sweepNow: make(chan struct{}, 1),
		stop:     make(chan struct{}),
		obs:      newObserver(o.Spans),
	}
	b.sweepBytes = max(o.RetentionBytes/8, 64<<10)
	if o.RetentionBytes == 0 { // no byte bound: the periodic sweep serves retention.time
		b.sweepBytes = maxSegmentBytes
	}

	kopts := []kfake.Opt{
		kfake.Ports(o.Port), // one broker
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			ln, err := net.Listen(network, net.JoinHostPort(o.Host, strconv.Itoa(o.Port)))
			if err != nil {
				return nil, err
			}
			return connListener{ln, b}, nil
		}),
		kfake.ClusterID("devstack"),
		kfake.DefaultNumPartitions(o.DefaultPartitions),
		kfake.WithLogger(kfakeLogger{log}),
		// Never kfake.AllowAutoTopicCreation: kfake's own auto-creation only runs for Metadata v4+
		// and does not write the topic to the data dir until a clean shutdown. Our Metadata hook
		// creates topics through kfake's admin path instead, which persists at once.
		kfake.BrokerConfigs(map[string]string{
			"log.retention.ms":    strconv.FormatInt(retentionMS, 10),
			"log.retention.bytes": strconv.FormatInt(retentionBytes, 10),
			// Whole segments are what retention frees (from disk, and from memory in in-memory
			// mode), so keep them small relative to the byte bound.
			"log.segment.bytes": strconv.FormatInt(segmentBytes, 10),
		}),
	}
	dataDir := o.DataDir
	if dataDir == "" {
		removeStaleTempDirs(log)
		dir, err := os.MkdirTemp("", tempDirPrefix)
		if err != nil {
			return nil, fmt.Errorf("broker: create temporary data dir: %w", err)
		}
		b.tempDir, dataDir = dir, dir
	}
	// Records are private to the owner: kfake creates its files 0644 in 0755 dirs, which the data
	// dir's default ACL (or at least its 0700) turns private; older data is tightened here.
	warn, err := fsperm.Private(dataDir)
	if err != nil {
		b.removeTemp()
		return nil, fmt.Errorf("broker: create data dir: %w", err)
	}
	if warn != nil {
		log.Warn("broker: some data files stay readable by other users; fix their owner or mode", "err", warn)
	}
	lock, err := lockDir(dataDir)
	if err != nil {
		b.removeTemp()
		return nil, err
	}
	b.lock = lock
	kopts = append(kopts, kfake.DataDir(dataDir))

	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		b.unlock()
		b.removeTemp()
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("broker: port %d is in use on %s (another Kafka or devstack is running?); stop it or change broker.port in devstack.yaml", o.Port, o.Host)
		}
		return nil, fmt.Errorf("broker: start: %w", err)
	}
	b.cluster = c
	b.addr = c.ListenAddrs()[0]
	c.ControlKey(int16(kmsg.Metadata), b.onMetadata)
	c.ControlKey(int16(kmsg.CreateTopics), b.onCreateTopics)

	b.wg.Add(1)
	go b.sweeper()

	admin, err := NewAdmin([]string{b.addr}, log)
	if err != nil {
		b.Close()
		return nil, err
	}
	admin.obs = b.obs
	b.admin = admin
	if err := admin.EnsureTopics(ctx, o.Topics); err != nil {
		b.Close()
		return nil, fmt.Errorf("broker: declared topics: %w", err)
	}
	b.learnTopicIDs(ctx)
	log.Info("broker started", "addr", b.addr, "data_dir", o.DataDir, "auto_create", o.AutoCreate,
		"retention", o.RetentionTime.String(), "retention_bytes", o.RetentionBytes)
	return b, nil
}

// learnTopicIDs asks for every topic's metadata once: the observer learns topic ids from Metadata
// responses, and a client that knew the topics before a restart may fetch by id without asking again. A
// client of its own, since the admin's would answer its next listings from this answer for a while
// (franz-go caches metadata) and miss topics created in the meantime.
func (b *Broker) learnTopicIDs(ctx context.Context) {
	cl, err := kgo.NewClient(clientOpts([]string{b.addr}, nil, b.log)...)
	if err != nil {
		b.log.Debug("broker: list topics at start", "err", err)
		return
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).ListTopicsWithInternal(ctx); err != nil {
		b.log.Debug("broker: list topics at start", "err", err)
	}
}

// Addr is the broker's host:port for clients' bootstrap servers.
func (b *Broker) Addr() string { return b.addr }

// AttachTraffic makes the metrics read through a (NewCollector) carry this broker's traffic, which only
// the broker sees: bytes in, records and bytes out per topic. For an admin made apart from the broker's
// own (Admin has it already).
func (b *Broker) AttachTraffic(a *Admin) { a.obs = b.obs }

// Admin is an admin client connected to this broker; it is closed by Close.
func (b *Broker) Admin() *Admin { return b.admin }

// ApplyRetention enforces retention on every partition now (the broker also does this on its own
// every 30s and whenever enough bytes were received).
func (b *Broker) ApplyRetention() {
	b.cluster.ApplyRetention()
	b.sweeps.Add(1)
}

// Close shuts the broker down cleanly, writing its state to the data dir. It is idempotent.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.closing.Store(true)
		close(b.stop)
		b.wg.Wait()
		if b.admin != nil {
			b.admin.Close()
		}
		b.cluster.Close()
		b.unlock()
		b.removeTemp()
		b.log.Info("broker stopped")
	})
	return b.closeErr
}

func (b *Broker) unlock() {
	if b.lock != nil {
		_ = syscall.Flock(int(b.lock.Fd()), syscall.LOCK_UN)
		b.lock.Close()
		b.lock = nil
	}
}

const tempDirPrefix = "devstack-kafka-"

func (b *Broker) removeTemp() {
	if b.tempDir != "" {
		if err := os.RemoveAll(b.tempDir); err != nil {
			b.log.Warn("remove temporary broker data", "dir", b.tempDir, "err", err)
		}
		b.tempDir = ""
	}
}

// removeStaleTempDirs deletes ephemeral data dirs left by brokers that were killed: a dir whose lock
// can be taken has no live owner.
func removeStaleTempDirs(log *slog.Logger) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempDirPrefix+"*"))
	for _, d := range dirs {
		if fi, err := os.Stat(d); err != nil || time.Since(fi.ModTime()) < time.Minute {
			continue // may be a broker starting right now
		}
		f, err := os.Open(filepath.Join(d, "devstack.lock"))
		if err != nil {
			continue // being created right now, or not ours
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			if err := os.RemoveAll(d); err == nil {
				log.Debug("removed stale temporary broker data", "dir", d)
			}
		}
		f.Close()
	}
}

// lockDir takes an exclusive lock on dir so two devstacks never share one data dir.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "devstack.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("broker: lock data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(path)
		f.Close()
		return nil, fmt.Errorf("broker: data dir %s is in use by another devstack (pid %s); stop it first", dir, string(pid))
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())), 0)
	return f, nil
}

// onMetadata runs for every Metadata request before kfake handles it. Real Kafka auto-creates
// requested topics for every Metadata version (v0-v3 have no flag and always ask; v4+ ask with
// AllowAutoTopicCreation). We create them through kfake's admin path, which persists the topic list
// at once, then let kfake answer the request as usual.
func (b *Broker) onMetadata(kreq kmsg.Request) (kmsg.Response, error, bool) {
	req, ok := kreq.(*kmsg.MetadataRequest)
	if !ok {
		return nil, nil, false
	}
	if req.Version == 0 && len(req.Topics) == 0 {
		// v0 has no null array: an empty list means "all topics".
		req.Topics = nil
	}
	if !b.opts.AutoCreate || (req.Version >= 4 && !req.AllowAutoTopicCreation) || b.closing.Load() {
		return nil, nil, false
	}
	for _, t := range req.Topics {
		if t.Topic == nil || t.TopicID != [16]byte{} {
			continue
		}
		name := *t.Topic
		if ValidateTopicName(name) != nil {
			continue // kfake answers UNKNOWN_TOPIC_OR_PARTITION
		}
		// The control function runs on its own goroutine while kfake's loop keeps serving admin
		// calls, so calling the cluster's admin API here is safe.
		err := b.cluster.CreateTopic(name, int32(b.opts.DefaultPartitions), nil)
		switch {
		case err == nil:
			b.log.Info("topic auto-created", "topic", name, "partitions", b.opts.DefaultPartitions)
		case errors.Is(err, kerr.TopicAlreadyExists), errors.Is(err, kerr.InvalidTopicException):
		default:
			b.log.Warn("auto-create topic", "topic", name, "err", err)
		}
	}
	return nil, nil, false
}

// onCreateTopics enforces Kafka's topic name rules, which kfake does not check: a request naming an
// invalid topic is answered here, INVALID_TOPIC_EXCEPTION for each bad name and the valid ones created
// through kfake's admin path; a request with only valid names goes to kfake unchanged.
func (b *Broker) onCreateTopics(kreq kmsg.Request) (kmsg.Response, error, bool) {
	req, ok := kreq.(*kmsg.CreateTopicsRequest)
	if !ok || !slices.ContainsFunc(req.Topics, func(t kmsg.CreateTopicsRequestTopic) bool { return ValidateTopicName(t.Topic) != nil }) {
		return nil, nil, false
	}
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := make(map[string]bool, len(req.Topics))
	dup := false
	for _, rt := range req.Topics {
		dup = dup || seen[rt.Topic]
		seen[rt.Topic] = true
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		switch err := ValidateTopicName(rt.Topic); {
		case dup: // as Kafka: a name listed twice fails the whole request
			st.ErrorCode = kerr.InvalidRequest.Code
		case err != nil:
			st.ErrorCode = kerr.InvalidTopicException.Code
			st.ErrorMessage = kmsg.StringPtr(err.Error())
			b.log.Info("refused to create a topic", "topic", rt.Topic, "err", err)
		default:
			b.createTopic(&st, &rt, req.ValidateOnly)
		}
		resp.Topics = append(resp.Topics, st)
	}
	b.cluster.KeepControl() // a handled request drops the hook otherwise
	return resp, nil, true
}

// createTopic creates one valid topic of a CreateTopics request that onCreateTopics answers itself.
func (b *Broker) createTopic(st *kmsg.CreateTopicsResponseTopic, rt *kmsg.CreateTopicsRequestTopic, validateOnly bool) {
	partitions := rt.NumPartitions
	if len(rt.ReplicaAssignment) > 0 {
		partitions = int32(len(rt.ReplicaAssignment))
	}
	if partitions < 0 {
		partitions = int32(b.opts.DefaultPartitions)
	}
	switch {
	case partitions == 0:
		st.ErrorCode = kerr.InvalidPartitions.Code
		return
	case b.cluster.TopicInfo(rt.Topic) != nil:
		st.ErrorCode = kerr.TopicAlreadyExists.Code
		return
	case validateOnly:
		st.NumPartitions, st.ReplicationFactor = partitions, 1
		return
	}
	configs := make(map[string]string, len(rt.Configs))
	for _, c := range rt.Configs {
		if c.Value != nil {
			configs[c.Name] = *c.Value
		}
	}
	if err := b.cluster.CreateTopic(rt.Topic, partitions, configs); err != nil {
		st.ErrorCode = kerr.UnknownServerError.Code
		if ke := (*kerr.Error)(nil); errors.As(err, &ke) {
			st.ErrorCode = ke.Code
		}
		st.ErrorMessage = kmsg.StringPtr(err.Error())
		return
	}
	st.NumPartitions, st.ReplicationFactor = partitions, 1
	if ti := b.cluster.TopicInfo(rt.Topic); ti != nil {
		st.TopicID = ti.TopicID
	}
}

// connListener wraps every client connection: it counts the bytes clients send (nearly all of it
// produced records) to wake the retention sweeper when enough arrived, which costs one atomic add per
// read, unlike a control hook on Produce, which kfake runs on a goroutine of its own per request. It
// follows the request framing (a 4-byte big-endian size, then that many bytes): it closes a connection
// that announces a request over MaxRequestBytes before kfake allocates a buffer for it, and hands the
// requests the observer wants (Produce, Fetch, Metadata and DeleteTopics always; group joins with spans on) and their responses to
// the observer.
type connListener struct {
	net.Listener
	b *Broker
}

func (l connListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &clientConn{Conn: c, b: l.b}, nil
}

// clientConn is read by one goroutine at a time (kfake's reader for that connection) and written by
// another (its writer, one response per Write call).
type clientConn struct {
	net.Conn
	b      *Broker
	size   [4]byte // the size field being read
	nsz    int     // bytes of it read so far
	left   int64   // bytes of the current request body still to come
	reqLen int64   // size of the current request body
	nkey   int     // bytes of the request's api key read so far (2: known)
	key    [2]byte
	body   []byte // the whole current request, while the observer wants it (copied)...
	// ...or, when the reader reads it into one buffer, that buffer and how much of it has arrived
	inPlace []byte
	filled  int
	start   time.Time
	lost    bool // framing lost (a negative size without a limit): observe nothing more

	mu       sync.Mutex
	pending  map[int32]*pendingReq // by correlation id
	session  map[topicPart]int64   // the fetch session's offsets
	npending atomic.Int32
}

func (c *clientConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.lost {
		if ferr := c.frame(p[:n]); ferr != nil {
			c.b.log.Warn("broker: closed a client connection", "client", c.RemoteAddr().String(), "err", ferr)
			c.Conn.Close()
			return 0, ferr
		}
	}
	if n > 0 && c.b.produced.Add(int64(n)) >= c.b.sweepBytes {
		select {
		case c.b.sweepNow <- struct{}{}:
		default:
		}
	}
	return n, err
}

// Write passes a response to the observer before it goes out, so what the observer learns from it (topic
// ids, appended records) is there before the client can act on it.
func (c *clientConn) Write(p []byte) (int, error) {
	if c.npending.Load() > 0 {
		c.b.obs.response(c, p, time.Now())
	}
	return c.Conn.Write(p)
}

// addPending registers a request whose response the observer waits for; c.mu is held.
func (c *clientConn) addPending(corr int32, pr *pendingReq) {
	if c.pending == nil {
		c.pending = make(map[int32]*pendingReq)
	}
	if _, dup := c.pending[corr]; !dup {
		c.npending.Add(1)
	}
	c.pending[corr] = pr
}

// frame advances the framing state over data, fails on a size field out of bounds and hands whole
// requests the observer wants to it.
func (c *clientConn) frame(data []byte) error {
	for len(data) > 0 {
		if c.left > 0 {
			k := min(c.left, int64(len(data)))
			chunk := data[:k]
			c.left -= k
			data = data[k:]
			if c.nkey < len(c.key) {
				atStart := c.nkey == 0
				m := copy(c.key[c.nkey:], chunk)
				c.nkey += m
				if c.nkey == len(c.key) && c.b.obs.wants(int16(binary.BigEndian.Uint16(c.key[:]))) {
					c.start = time.Now()
					if atStart && int64(cap(chunk)) >= c.reqLen {
						// kfake reads a request into one buffer of its size: the bytes still to come
						// land right after these, so the request is read where it is, not copied.
						c.inPlace, c.filled = chunk[:c.reqLen], len(chunk)
						chunk = nil
					} else {
						c.body = append(make([]byte, 0, c.reqLen), c.key[:]...)
						chunk = chunk[m:]
					}
				} else {
					chunk = nil
				}
			}
			switch {
			case c.inPlace != nil && len(chunk) > 0:
				if &chunk[0] != &c.inPlace[c.filled] {
					// Not read into one buffer after all: the first bytes may be gone, so this
					// request goes unobserved.
					c.inPlace = nil
					break
				}
				c.filled += len(chunk)
			case c.body != nil:
				c.body = append(c.body, chunk...)
			}
			if c.left == 0 {
				body := c.body
				if c.inPlace != nil {
					body = c.inPlace
				}
				c.body, c.inPlace = nil, nil
				if body != nil {
					c.b.obs.request(c, body, c.start)
				}
			}
			continue
		}
		k := copy(c.size[c.nsz:], data)
		c.nsz += k
		data = data[k:]
		if c.nsz < len(c.size) {
			return nil
		}
		c.nsz = 0
		size := int64(int32(binary.BigEndian.Uint32(c.size[:])))
		if limit := c.b.opts.MaxRequestBytes; limit > 0 && (size < 0 || size > limit) {
			return fmt.Errorf("request size %d is outside 0..%d bytes (broker.max_request_bytes in devstack.yaml); a client sent a bad frame or a request larger than the limit", size, limit)
		}
		if size < 0 {
			c.lost = true
			return nil
		}
		c.left, c.reqLen, c.nkey = size, size, 0
	}
	return nil
}

// sweeper applies retention every defaultSweepInterval (time bound) and whenever sweepBytes were
// received since the last sweep (byte bound).
func (b *Broker) sweeper() {
	defer b.wg.Done()
	t := time.NewTicker(defaultSweepInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		case <-b.sweepNow:
		}
		b.produced.Store(0)
		b.cluster.ApplyRetention()
		b.sweeps.Add(1)
	}
}

// kfakeLogger adapts slog to kfake's logger. kfake logs every request at info, so its info is our debug.
type kfakeLogger struct{ l *slog.Logger }

func (k kfakeLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	var lvl slog.Level
	switch level {
	case kfake.LogLevelError:
		lvl = slog.LevelError
	case kfake.LogLevelWarn:
		lvl = slog.LevelWarn
	case kfake.LogLevelInfo:
		lvl = slog.LevelDebug
	default:
		lvl = slog.LevelDebug - 4
	}
	if !k.l.Enabled(context.Background(), lvl) {
		return
	}
	k.l.Log(context.Background(), lvl, fmt.Sprintf(format, args...), "component", "kfake")
}

// ValidateTopicName applies Kafka's topic name rules (the same rule devstack validate applies).
func ValidateTopicName(name string) error { return kafkaname.CheckTopic(name) }
