// Command broker-bench compares devstack's embedded broker (internal/broker on kfake) with a real
// Apache Kafka 4.x broker (KRaft, single node, started from Maven Central's jars) on loopback: start to
// first metadata, produce and consume throughput for 100 B and 1 KiB records with acks=all, produce
// latency at a fixed rate, and RSS idle and with records retained. Each broker runs alone, as its own
// process, driven by the same franz-go load generator. It prints a Markdown section. Run it through
// bench/broker/run.sh, which fetches the Kafka jars.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/devstack-dev/devstack/internal/broker"
)

type config struct {
	kafkaLibs    string
	kafkaVersion string
	java         string
	small        int // 100 B records
	large        int // 1 KiB records
	latRecords   int
	latRate      int
	partitions   int
	phaseTimeout time.Duration
	rounds       int
}

func main() {
	var c config
	serve := flag.Bool("serve-embedded", false, "internal: run devstack's embedded broker in this process")
	port := flag.Int("port", 0, "internal: port for -serve-embedded")
	dataDir := flag.String("data-dir", "", "internal: data dir for -serve-embedded")
	flag.StringVar(&c.kafkaLibs, "kafka-libs", "", "directory holding Apache Kafka's jars and their runtime dependencies")
	flag.StringVar(&c.kafkaVersion, "kafka-version", "", "Kafka version, for the report")
	flag.StringVar(&c.java, "java", "java", "java binary for Kafka")
	flag.IntVar(&c.small, "small", 1_000_000, "100 B records to produce and consume")
	flag.IntVar(&c.large, "large", 300_000, "1 KiB records to produce and consume")
	flag.IntVar(&c.latRecords, "latency-records", 20_000, "1 KiB records produced at -latency-rate for the latency figures")
	flag.IntVar(&c.latRate, "latency-rate", 2_000, "records per second in the latency phase")
	flag.IntVar(&c.partitions, "partitions", 4, "partitions of the throughput topics")
	flag.DurationVar(&c.phaseTimeout, "phase-timeout", 3*time.Minute, "bound on each phase")
	flag.IntVar(&c.rounds, "rounds", 3, "rounds per broker (the report shows medians)")
	flag.Parse()

	if *serve {
		os.Exit(serveEmbedded(*port, *dataDir))
	}
	if c.kafkaLibs == "" {
		fmt.Fprintln(os.Stderr, "broker-bench: -kafka-libs is required (run bench/broker/run.sh)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "broker-bench:", err)
		os.Exit(1)
	}
}

// serveEmbedded is the child process that hosts devstack's broker, with the defaults devstack uses
// (data kept on disk, auto-create on, default retention).
func serveEmbedded(port int, dataDir string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := broker.Start(ctx, broker.Options{
		Port:       port,
		DataDir:    dataDir,
		AutoCreate: true,
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start embedded broker:", err)
		return 1
	}
	<-ctx.Done()
	if err := b.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close embedded broker:", err)
		return 1
	}
	return 0
}

// figures are one broker's measurements.
type figures struct {
	name      string
	setup     time.Duration // Kafka: formatting the storage (once per data dir); not part of startup
	startup   time.Duration
	rssIdle   int64
	rssSmall  int64 // after the 100 B records
	rssLarge  int64 // after the 1 KiB records too
	prodSmall rate
	consSmall rate
	prodLarge rate
	consLarge rate
	latP50    time.Duration
	latP99    time.Duration
	latMax    time.Duration
}

type rate struct {
	records int
	bytes   int64
	took    time.Duration
}

func (r rate) perSec() float64    { return float64(r.records) / r.took.Seconds() }
func (r rate) mibPerSec() float64 { return float64(r.bytes) / (1 << 20) / r.took.Seconds() }

func run(ctx context.Context, c config) error {
	work, err := os.MkdirTemp("", "broker-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	self, err := os.Executable()
	if err != nil {
		return err
	}

	kafkaName := "Apache Kafka"
	if c.kafkaVersion != "" {
		kafkaName += " " + c.kafkaVersion
	}
	targets := []struct {
		name  string
		start func(ctx context.Context, dir string, port int) (*proc, time.Duration, error)
	}{
		{kafkaName, func(ctx context.Context, dir string, port int) (*proc, time.Duration, error) {
			return startKafka(ctx, c, dir, port)
		}},
		{"devstack (embedded)", func(ctx context.Context, dir string, port int) (*proc, time.Duration, error) {
			p, err := startProc(dir, self, "-serve-embedded", "-port", strconv.Itoa(port), "-data-dir", filepath.Join(dir, "kafka"))
			return p, 0, err
		}},
	}
	// Rounds alternate the brokers (Kafka, devstack, Kafka, ...), each time on a fresh data dir, and the
	// report takes each figure's median, so a burst of load from elsewhere skews one sample, not the table.
	all := make([][]figures, len(targets))
	load := loadAvg()
	for round := 1; round <= c.rounds; round++ {
		for i, tg := range targets {
			dir := filepath.Join(work, fmt.Sprintf("%d-%d", round, i))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			logf("== %s, round %d of %d", tg.name, round, c.rounds)
			f, err := measure(ctx, c, tg.name, dir, tg.start)
			if err != nil {
				return fmt.Errorf("%s: %w", tg.name, err)
			}
			all[i] = append(all[i], f)
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
		}
	}
	report(os.Stdout, c, load, median(all[0]), median(all[1]))
	return nil
}

// median takes each figure's median over the rounds.
func median(fs []figures) figures {
	out := fs[0]
	dur := func(get func(f *figures) *time.Duration) {
		var v []time.Duration
		for i := range fs {
			v = append(v, *get(&fs[i]))
		}
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		*get(&out) = v[len(v)/2]
	}
	num := func(get func(f *figures) *int64) {
		var v []int64
		for i := range fs {
			v = append(v, *get(&fs[i]))
		}
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		*get(&out) = v[len(v)/2]
	}
	rt := func(get func(f *figures) *rate) {
		var v []rate
		for i := range fs {
			v = append(v, *get(&fs[i]))
		}
		sort.Slice(v, func(i, j int) bool { return v[i].perSec() < v[j].perSec() })
		*get(&out) = v[len(v)/2]
	}
	dur(func(f *figures) *time.Duration { return &f.setup })
	dur(func(f *figures) *time.Duration { return &f.startup })
	dur(func(f *figures) *time.Duration { return &f.latP50 })
	dur(func(f *figures) *time.Duration { return &f.latP99 })
	dur(func(f *figures) *time.Duration { return &f.latMax })
	num(func(f *figures) *int64 { return &f.rssIdle })
	num(func(f *figures) *int64 { return &f.rssSmall })
	num(func(f *figures) *int64 { return &f.rssLarge })
	rt(func(f *figures) *rate { return &f.prodSmall })
	rt(func(f *figures) *rate { return &f.consSmall })
	rt(func(f *figures) *rate { return &f.prodLarge })
	rt(func(f *figures) *rate { return &f.consLarge })
	return out
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func measure(ctx context.Context, c config, name, dir string, start func(context.Context, string, int) (*proc, time.Duration, error)) (figures, error) {
	f := figures{name: name}
	port, err := freePort()
	if err != nil {
		return f, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p, setup, err := start(ctx, dir, port)
	if err != nil {
		return f, err
	}
	defer p.stop()
	f.setup = setup

	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	f.startup, err = waitMetadata(sctx, p, addr)
	cancel()
	if err != nil {
		return f, fmt.Errorf("waiting for first metadata: %w\n%s", err, p.logTail())
	}
	logf("first metadata after %s", f.startup.Round(time.Millisecond))

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return f, err
	}
	adm := kadm.NewClient(cl)
	defer cl.Close()

	// Idle: let start-up work (JIT, background threads) settle before reading RSS.
	if err := sleepCtx(ctx, 5*time.Second); err != nil {
		return f, err
	}
	if f.rssIdle, err = p.rss(); err != nil {
		return f, err
	}
	logf("RSS idle %s", mib(f.rssIdle))

	phase := func(what string, fn func(ctx context.Context) error) error {
		pctx, cancel := context.WithTimeout(ctx, c.phaseTimeout)
		defer cancel()
		if err := fn(pctx); err != nil {
			return fmt.Errorf("%s: %w\n%s", what, err, p.logTail())
		}
		return nil
	}
	if err := phase("create topics", func(ctx context.Context) error {
		for _, t := range []struct {
			name  string
			parts int32
		}{{"bench-100b", int32(c.partitions)}, {"bench-1k", int32(c.partitions)}, {"bench-latency", 1}} {
			resp, err := adm.CreateTopic(ctx, t.parts, 1, nil, t.name)
			if err == nil {
				err = resp.Err
			}
			if err != nil {
				return fmt.Errorf("create %s: %w", t.name, err)
			}
		}
		return nil
	}); err != nil {
		return f, err
	}

	for _, load := range []struct {
		topic      string
		size, n    int
		prod, cons *rate
		rss        *int64
	}{
		{"bench-100b", 100, c.small, &f.prodSmall, &f.consSmall, &f.rssSmall},
		{"bench-1k", 1024, c.large, &f.prodLarge, &f.consLarge, &f.rssLarge},
	} {
		if err := phase("produce "+load.topic, func(ctx context.Context) (err error) {
			*load.prod, err = produce(ctx, addr, load.topic, load.size, load.n)
			return err
		}); err != nil {
			return f, err
		}
		logf("produce %d x %d B: %.0f records/s, %.1f MiB/s", load.n, load.size, load.prod.perSec(), load.prod.mibPerSec())
		if err := phase("consume "+load.topic, func(ctx context.Context) (err error) {
			*load.cons, err = consume(ctx, addr, load.topic, load.n)
			return err
		}); err != nil {
			return f, err
		}
		logf("consume %d x %d B: %.0f records/s, %.1f MiB/s", load.n, load.size, load.cons.perSec(), load.cons.mibPerSec())
		if *load.rss, err = p.rss(); err != nil {
			return f, err
		}
		logf("RSS %s", mib(*load.rss))
	}
	if err := phase("latency", func(ctx context.Context) error {
		lat, err := latency(ctx, addr, "bench-latency", 1024, c.latRecords, c.latRate)
		if err != nil {
			return err
		}
		f.latP50, f.latP99, f.latMax = pct(lat, 50), pct(lat, 99), lat[len(lat)-1]
		return nil
	}); err != nil {
		return f, err
	}
	logf("latency p50 %s p99 %s max %s", f.latP50, f.latP99, f.latMax)
	return f, nil
}

func producerClient(addr string, opts ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerBatchMaxBytes(1 << 20),
	}, opts...)...)
}

// produce writes n records of size bytes (random, incompressible) with acks=all as fast as the client
// can keep them in flight, and returns once every one is acknowledged.
func produce(ctx context.Context, addr, topic string, size, n int) (rate, error) {
	cl, err := producerClient(addr, kgo.DefaultProduceTopic(topic), kgo.MaxBufferedRecords(64<<10))
	if err != nil {
		return rate{}, err
	}
	defer cl.Close()
	payload := make([]byte, size*64)
	if _, err := rand.Read(payload); err != nil {
		return rate{}, err
	}
	var (
		wg      sync.WaitGroup
		failed  atomic.Int64
		errOnce sync.Once
		first   error
	)
	start := time.Now()
	for i := 0; i < n; i++ {
		off := (i % 64) * size
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Value: payload[off : off+size]}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
				errOnce.Do(func() { first = err })
			}
			wg.Done()
		})
	}
	wg.Wait()
	took := time.Since(start)
	if failed.Load() > 0 {
		return rate{}, fmt.Errorf("%d of %d records failed: %w", failed.Load(), n, first)
	}
	return rate{records: n, bytes: int64(n) * int64(size), took: took}, nil
}

// consume reads n records of topic from the start with a fresh client (no group).
func consume(ctx context.Context, addr, topic string, n int) (rate, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(64<<20),
		kgo.FetchMaxPartitionBytes(16<<20),
	)
	if err != nil {
		return rate{}, err
	}
	defer cl.Close()
	var got int
	var bytes int64
	start := time.Now()
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return rate{}, fmt.Errorf("consumed %d of %d: %w", got, n, err)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return rate{}, fmt.Errorf("fetch %s/%d: %w", errs[0].Topic, errs[0].Partition, errs[0].Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got++
			bytes += int64(len(r.Value))
		})
	}
	return rate{records: got, bytes: bytes, took: time.Since(start)}, nil
}

// latency produces n records at a fixed rate, one Produce call each, and returns each record's time
// from the call to its acks=all acknowledgement, sorted.
func latency(ctx context.Context, addr, topic string, size, n, perSec int) ([]time.Duration, error) {
	// No linger: each record goes out at once, so the figure is the broker's, not the client's batching.
	cl, err := producerClient(addr, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	payload := make([]byte, size)
	if _, err := rand.Read(payload); err != nil {
		return nil, err
	}
	// Warm the connection and metadata first.
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: payload}).FirstErr(); err != nil {
		return nil, err
	}
	lat := make([]time.Duration, n)
	var (
		wg     sync.WaitGroup
		failed atomic.Int64
	)
	interval := time.Second / time.Duration(perSec)
	start := time.Now()
	for i := 0; i < n; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			if err := sleepCtx(ctx, d); err != nil {
				return nil, err
			}
		}
		wg.Add(1)
		sent := time.Now()
		cl.Produce(ctx, &kgo.Record{Value: payload}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
			}
			lat[i] = time.Since(sent)
			wg.Done()
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		return nil, fmt.Errorf("%d of %d records failed", failed.Load(), n)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat, nil
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	if i > 0 {
		i--
	}
	return sorted[i]
}

// ---- broker processes ----

type proc struct {
	cmd     *exec.Cmd
	started time.Time
	log     string
	done    chan struct{}
	err     error
}

func startProc(dir, name string, args ...string) (*proc, error) {
	log := filepath.Join(dir, "broker.log")
	lf, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &proc{cmd: cmd, log: log, done: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM to the process group and SIGKILL after 30 s.
func (p *proc) stop() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// rss is the resident set size of the broker process, from /proc.
func (p *proc) rss() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("read RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return "--- " + p.log + " ---\n" + strings.Join(lines, "\n")
}

// waitMetadata polls until the broker answers a Metadata request listing itself and returns the time
// since the process started.
func waitMetadata(ctx context.Context, p *proc, addr string) (time.Duration, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RetryTimeout(100*time.Millisecond), kgo.DialTimeout(200*time.Millisecond))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for {
		select {
		case <-p.done:
			return 0, fmt.Errorf("broker exited: %v", p.err)
		default:
		}
		rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		md, err := adm.BrokerMetadata(rctx)
		cancel()
		if err == nil && len(md.Brokers) > 0 {
			return time.Since(p.started), nil
		}
		if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
			return 0, err
		}
	}
}

// startKafka formats a KRaft storage directory and starts a combined broker+controller with the JVM
// settings kafka-server-start.sh uses.
func startKafka(ctx context.Context, c config, dir string, port int) (*proc, time.Duration, error) {
	cport, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	props := fmt.Sprintf(`process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:%[2]d
listeners=PLAINTEXT://127.0.0.1:%[1]d,CONTROLLER://127.0.0.1:%[2]d
advertised.listeners=PLAINTEXT://127.0.0.1:%[1]d
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=%[3]s
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
`, port, cport, filepath.Join(dir, "kraft-logs"))
	cfg := filepath.Join(dir, "server.properties")
	if err := os.WriteFile(cfg, []byte(props), 0o644); err != nil {
		return nil, 0, err
	}
	l4j := filepath.Join(dir, "log4j2.properties")
	if err := os.WriteFile(l4j, []byte("rootLogger.level=WARN\nrootLogger.appenderRef.stderr.ref=STDERR\nappender.stderr.type=Console\nappender.stderr.name=STDERR\nappender.stderr.target=SYSTEM_ERR\nappender.stderr.layout.type=PatternLayout\nappender.stderr.layout.pattern=[%d] %p %m (%c)%n\n"), 0o644); err != nil {
		return nil, 0, err
	}
	cp := filepath.Join(c.kafkaLibs, "*")
	jvm := []string{"-Dlog4j2.configurationFile=" + l4j, "-cp", cp}

	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	t0 := time.Now()
	out, err := exec.CommandContext(fctx, c.java, append(jvm, "kafka.tools.StorageTool", "random-uuid")...).Output()
	if err != nil {
		return nil, 0, fmt.Errorf("kafka-storage random-uuid: %w", err)
	}
	id := strings.TrimSpace(lastLine(string(out)))
	if b, err := exec.CommandContext(fctx, c.java, append(jvm, "kafka.tools.StorageTool", "format", "-t", id, "-c", cfg)...).CombinedOutput(); err != nil {
		return nil, 0, fmt.Errorf("kafka-storage format: %w\n%s", err, b)
	}
	setup := time.Since(t0)

	// kafka-server-start.sh's defaults: 1 GiB heap, G1 tuned for low pauses.
	args := append([]string{"-Xmx1G", "-Xms1G", "-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
		"-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent", "-Djava.awt.headless=true"},
		append(jvm, "kafka.Kafka", cfg)...)
	p, err := startProc(dir, c.java, args...)
	return p, setup, err
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "broker-bench: "+format+"\n", args...)
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// ---- report ----

func report(w io.Writer, c config, load string, k, d figures) {
	fmt.Fprintf(w, "## Broker: devstack's embedded broker vs %s\n\n", k.name)
	fmt.Fprintf(w, "%s, %s, load average %s at the start. %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), machine(), load, toolchains(c))
	fmt.Fprintf(w, "Both brokers run alone, alternating for %d rounds (each figure is the median), as their own process on 127.0.0.1, driven by the same franz-go load generator running in the benchmark process; the machine is shared with other work, so single figures, latency tails above all, move between runs. "+
		"Kafka: KRaft, combined broker+controller, one node, data on local disk, JVM flags of kafka-server-start.sh (1 GiB heap, G1). "+
		"devstack: internal/broker as `devstack up` starts it (kfake, data dir on local disk, auto-create on, default retention). "+
		"Throughput: %d partitions, random (incompressible) values, no compression, acks=all, franz-go defaults otherwise (10 ms linger, up to 64 Ki records buffered); consume is a fresh client reading the topic from the start. "+
		"Latency: 1 KiB records, acks=all, no linger, one partition, %d records/s for %d records, from Produce to acknowledgement. "+
		"Ratio: devstack / Kafka (above 1 means devstack is higher).\n\n", c.rounds, c.partitions, c.latRate, c.latRecords)
	fmt.Fprintf(w, "| | %s | devstack | devstack / Kafka |\n|---|---:|---:|---:|\n", k.name)
	row := func(name, kv, dv string, ratio float64) {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", name, kv, dv, fmtRatio(ratio))
	}
	dur := func(d time.Duration) string {
		switch {
		case d >= time.Second:
			return fmt.Sprintf("%.2f s", d.Seconds())
		case d >= time.Millisecond:
			return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
		default:
			return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
		}
	}
	thr := func(r rate) string { return fmt.Sprintf("%s rec/s (%.1f MiB/s)", thousands(r.perSec()), r.mibPerSec()) }
	ratioD := func(a, b time.Duration) float64 { return float64(b) / float64(a) }
	ratioR := func(a, b rate) float64 { return b.perSec() / a.perSec() }
	ratioB := func(a, b int64) float64 { return float64(b) / float64(a) }

	row("start to first metadata (lower is better)", dur(k.startup), dur(d.startup), ratioD(k.startup, d.startup))
	row(fmt.Sprintf("produce %s × 100 B, acks=all", thousands(float64(c.small))), thr(k.prodSmall), thr(d.prodSmall), ratioR(k.prodSmall, d.prodSmall))
	row(fmt.Sprintf("consume %s × 100 B", thousands(float64(c.small))), thr(k.consSmall), thr(d.consSmall), ratioR(k.consSmall, d.consSmall))
	row(fmt.Sprintf("produce %s × 1 KiB, acks=all", thousands(float64(c.large))), thr(k.prodLarge), thr(d.prodLarge), ratioR(k.prodLarge, d.prodLarge))
	row(fmt.Sprintf("consume %s × 1 KiB", thousands(float64(c.large))), thr(k.consLarge), thr(d.consLarge), ratioR(k.consLarge, d.consLarge))
	row("produce latency p50 (lower is better)", dur(k.latP50), dur(d.latP50), ratioD(k.latP50, d.latP50))
	row("produce latency p99 (lower is better)", dur(k.latP99), dur(d.latP99), ratioD(k.latP99, d.latP99))
	row("produce latency max (lower is better)", dur(k.latMax), dur(d.latMax), ratioD(k.latMax, d.latMax))
	row("RSS idle (lower is better)", mib(k.rssIdle), mib(d.rssIdle), ratioB(k.rssIdle, d.rssIdle))
	row(fmt.Sprintf("RSS with %s × 100 B retained", thousands(float64(c.small))), mib(k.rssSmall), mib(d.rssSmall), ratioB(k.rssSmall, d.rssSmall))
	row(fmt.Sprintf("RSS with those + %s × 1 KiB retained", thousands(float64(c.large))), mib(k.rssLarge), mib(d.rssLarge), ratioB(k.rssLarge, d.rssLarge))
	fmt.Fprintf(w, "\nKafka also needs its storage formatted once per data directory (`kafka-storage format`, %s here, not counted above); devstack needs no such step.\n", dur(k.setup))
}

func fmtRatio(r float64) string {
	if r >= 10 || r < 0.1 {
		return fmt.Sprintf("%.3g×", r)
	}
	return fmt.Sprintf("%.2f×", r)
}

func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%s, %d cores%s, %s/%s", cpu, runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH)
}

func toolchains(c config) string {
	java := "java"
	if out, err := exec.Command(c.java, "-version").CombinedOutput(); err == nil {
		java = strings.TrimSpace(strings.Split(string(out), "\n")[0])
	}
	return fmt.Sprintf("%s; %s.", runtime.Version(), java)
}
