// Package containers runs real Apache Kafka and PostgreSQL in Docker (testcontainers-go) for --containers parity.
package containers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"
)

// startTimeout bounds a container's start until it serves its port.
const startTimeout = 3 * time.Minute

// ErrNoDocker says no Docker engine answers.
var ErrNoDocker = errors.New("no Docker engine answers")

// defaultSocket is where Docker listens unless DOCKER_HOST says otherwise.
const defaultSocket = "/var/run/docker.sock"

// Available reports whether a Docker engine answers. When none does, the error is one line: where it
// looked (DOCKER_HOST, else the default socket), why it failed, and what to do.
func Available(ctx context.Context) error {
	p, err := testcontainers.NewDockerProvider()
	if err == nil {
		defer p.Close()
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		err = p.Health(hctx)
	}
	if err == nil {
		return nil
	}
	return noEngine(os.Getenv("DOCKER_HOST"), err)
}

// noEngine words a failed probe. testcontainers' own text ends with the last place it tried (often
// "rootless Docker not found"), so the message names the place a user configures instead.
func noEngine(dockerHost string, err error) error {
	where := "DOCKER_HOST=" + dockerHost
	if dockerHost == "" {
		where = defaultSocket + " (DOCKER_HOST is not set)"
		if _, statErr := os.Stat(defaultSocket); statErr != nil {
			return fmt.Errorf("%w at %s: no such socket; start Docker (or set DOCKER_HOST to a running engine), or run without --containers", ErrNoDocker, where)
		}
	}
	return fmt.Errorf("%w at %s: %v; start Docker (or set DOCKER_HOST to a running engine), or run without --containers", ErrNoDocker, where, rootCause(err))
}

// rootCause is the innermost error of a chain (the first branch of a joined error), e.g. "connection refused".
func rootCause(err error) error {
	for {
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			next := u.Unwrap()
			if next == nil {
				return err
			}
			err = next
		case interface{ Unwrap() []error }:
			errs := u.Unwrap()
			if len(errs) == 0 {
				return err
			}
			err = errs[0]
		default:
			return err
		}
	}
}

// KafkaOptions configure a real single-node KRaft Kafka broker.
type KafkaOptions struct {
	Stack          string // names the container and its data volume
	Image          string // honouring the official apache/kafka image's KAFKA_* environment (config broker.image)
	Port           int    // host port on 127.0.0.1 (clients use 127.0.0.1:Port)
	AutoCreate     bool
	Partitions     int // num.partitions for auto-created topics
	RetentionMs    int64
	RetentionBytes int64
	Logger         *slog.Logger
}

// kafkaEnv is the broker configuration: one node acting as broker and controller, advertising the host port.
func kafkaEnv(o KafkaOptions) map[string]string {
	parts := o.Partitions
	if parts <= 0 {
		parts = 1
	}
	env := map[string]string{
		"KAFKA_NODE_ID":                                  "1",
		"KAFKA_PROCESS_ROLES":                            "broker,controller",
		"KAFKA_LISTENERS":                                "PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093",
		"KAFKA_ADVERTISED_LISTENERS":                     "PLAINTEXT://127.0.0.1:" + strconv.Itoa(o.Port),
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":           "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"KAFKA_CONTROLLER_LISTENER_NAMES":                "CONTROLLER",
		"KAFKA_CONTROLLER_QUORUM_VOTERS":                 "1@localhost:9093",
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":         "1",
		"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
		"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            "1",
		"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS":         "0",
		"KAFKA_AUTO_CREATE_TOPICS_ENABLE":                strconv.FormatBool(o.AutoCreate),
		"KAFKA_NUM_PARTITIONS":                           strconv.Itoa(parts),
		"KAFKA_LOG_DIRS":                                 "/var/lib/kafka/data",
	}
	if o.RetentionMs > 0 {
		env["KAFKA_LOG_RETENTION_MS"] = strconv.FormatInt(o.RetentionMs, 10)
	}
	if o.RetentionBytes > 0 {
		env["KAFKA_LOG_RETENTION_BYTES"] = strconv.FormatInt(o.RetentionBytes, 10)
	}
	return env
}

var nameUnsafe = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// resourceName is a Docker-safe name for this stack's container or volume.
func resourceName(stack, what string) string {
	s := strings.Trim(nameUnsafe.ReplaceAllString(strings.ToLower(stack), "-"), "-.")
	if s == "" {
		s = "stack"
	}
	return "devstack-" + s + "-" + what
}

// bindLoopback publishes containerPort on 127.0.0.1:hostPort only.
func bindLoopback(containerPort string, hostPort int) testcontainers.CustomizeRequestOption {
	return testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
		p := network.MustParsePort(containerPort)
		if hc.PortBindings == nil {
			hc.PortBindings = network.PortMap{}
		}
		hc.PortBindings[p] = []network.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: strconv.Itoa(hostPort)}}
	})
}

// Kafka is a running Kafka container.
type Kafka struct {
	c    testcontainers.Container
	addr string
	once sync.Once
	err  error
}

// StartKafka starts (or reuses after a crash) the stack's Kafka container; data lives in a named volume.
func StartKafka(ctx context.Context, o KafkaOptions) (*Kafka, error) {
	if o.Port <= 0 {
		return nil, fmt.Errorf("start Kafka container: host port %d: a port is required (config broker.port)", o.Port)
	}
	if err := Available(ctx); err != nil {
		return nil, err
	}
	if o.Image == "" {
		return nil, errors.New("start Kafka container: no image given (config broker.image)")
	}
	img := o.Image
	if err := removeStale(ctx, resourceName(o.Stack, "kafka")); err != nil {
		return nil, err
	}
	c, err := testcontainers.Run(ctx, img,
		testcontainers.WithName(resourceName(o.Stack, "kafka")),
		testcontainers.WithEnv(kafkaEnv(o)),
		testcontainers.WithExposedPorts("9092/tcp"),
		bindLoopback("9092/tcp", o.Port),
		testcontainers.WithMounts(testcontainers.VolumeMount(resourceName(o.Stack, "kafka-data"), "/var/lib/kafka/data")),
		// a JVM on a busy machine can take a minute or more (KRaft format, then the broker)
		testcontainers.WithWaitStrategyAndDeadline(startTimeout, wait.ForListeningPort("9092/tcp").WithStartupTimeout(startTimeout)),
	)
	if err != nil {
		// a container that started but never became ready is removed, not left running
		_ = testcontainers.TerminateContainer(c)
		return nil, fmt.Errorf("start Kafka container: %w", imageHint(ctx, img, "broker.image", err))
	}
	return &Kafka{c: c, addr: "127.0.0.1:" + strconv.Itoa(o.Port)}, nil
}

// Addr is the bootstrap address.
func (k *Kafka) Addr() string { return k.addr }

// Close stops and removes the container (the data volume stays).
func (k *Kafka) Close() error {
	k.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		k.err = testcontainers.TerminateContainer(k.c, testcontainers.StopContext(ctx))
	})
	return k.err
}

// PostgresOptions configure a real PostgreSQL container.
type PostgresOptions struct {
	Stack    string
	Image    string // honouring the official postgres image's environment (config postgres.image)
	Port     int
	User     string // superuser, required
	Password string // superuser's password, required
	Logger   *slog.Logger
}

func postgresEnv(o PostgresOptions) map[string]string {
	return map[string]string{
		"POSTGRES_USER":     o.User,
		"POSTGRES_PASSWORD": o.Password,
		"POSTGRES_DB":       "postgres",
		"PGDATA":            "/var/lib/postgresql/data/pgdata",
	}
}

// Postgres is a running PostgreSQL container.
type Postgres struct {
	c        testcontainers.Container
	port     int
	user, pw string
	once     sync.Once
	err      error
}

// StartPostgres starts the stack's PostgreSQL container; data lives in a named volume.
func StartPostgres(ctx context.Context, o PostgresOptions) (*Postgres, error) {
	if o.Port <= 0 {
		return nil, fmt.Errorf("start PostgreSQL container: host port %d: a port is required (config postgres.port)", o.Port)
	}
	if err := Available(ctx); err != nil {
		return nil, err
	}
	if o.Image == "" || o.User == "" || o.Password == "" {
		return nil, errors.New("start PostgreSQL container: image, superuser and password are required (config postgres.image, postgres.user, postgres.password)")
	}
	img := o.Image
	if err := removeStale(ctx, resourceName(o.Stack, "postgres")); err != nil {
		return nil, err
	}
	c, err := testcontainers.Run(ctx, img,
		testcontainers.WithName(resourceName(o.Stack, "postgres")),
		testcontainers.WithEnv(postgresEnv(o)),
		testcontainers.WithExposedPorts("5432/tcp"),
		bindLoopback("5432/tcp", o.Port),
		testcontainers.WithMounts(testcontainers.VolumeMount(resourceName(o.Stack, "pgdata"), "/var/lib/postgresql/data")),
		testcontainers.WithWaitStrategyAndDeadline(startTimeout,
			// accepting connections on TCP: not the image's temporary init server (Unix socket only), and past
			// "the database system is starting up" (the log line comes once or twice, depending on the volume)
			wait.ForExec([]string{"pg_isready", "--host", "127.0.0.1", "--port", "5432", "--username", o.User}).WithStartupTimeout(startTimeout),
			wait.ForListeningPort("5432/tcp").WithStartupTimeout(startTimeout)),
	)
	if err != nil {
		// a container that started but never became ready is removed, not left running
		_ = testcontainers.TerminateContainer(c)
		return nil, fmt.Errorf("start PostgreSQL container: %w", imageHint(ctx, img, "postgres.image", err))
	}
	return &Postgres{c: c, port: o.Port, user: o.User, pw: o.Password}, nil
}

// Port is the host port on 127.0.0.1.
func (p *Postgres) Port() int { return p.port }

// SuperuserURL is a URL for database db as the superuser.
func (p *Postgres) SuperuserURL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(p.user, p.pw), Host: "127.0.0.1:" + strconv.Itoa(p.port), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// Stop stops and removes the container (the data volume stays).
func (p *Postgres) Stop() error {
	p.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		p.err = testcontainers.TerminateContainer(p.c, testcontainers.StopContext(ctx))
	})
	return p.err
}

func init() {
	// testcontainers prints to stdout by default; keep the user's terminal clean unless asked.
	if os.Getenv("DEVSTACK_CONTAINERS_DEBUG") == "" {
		tclog.SetDefault(silentLogger{})
	}
	// testcontainers' reaper (Ryuk) is a container of its own image, which an engine without a registry
	// cannot get, and devstack needs no reaper: it removes its containers when it stops, and a start removes
	// what a killed devstack left (removeStale). TESTCONTAINERS_RYUK_DISABLED=false brings the reaper back.
	if _, set := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !set {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	// Ports are published on the engine's 127.0.0.1 (bindLoopback), so the engine is local and its ports are
	// on this machine's loopback; left alone, testcontainers guesses the host, e.g. the default gateway when
	// devstack itself runs in a container.
	if _, set := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); !set {
		os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	}
}

type silentLogger struct{}

func (silentLogger) Printf(string, ...any) {}

// imageHint is err, or, when img is not on the engine (the pull failed: no registry, or a typo), a one-line
// error saying so and what to do.
func imageHint(ctx context.Context, img, key string, err error) error {
	cli, cerr := testcontainers.NewDockerClientWithOpts(ctx)
	if cerr != nil {
		return fmt.Errorf("%s: %w", img, err)
	}
	defer cli.Close()
	if _, ierr := cli.ImageInspect(ctx, img); ierr != nil && cerrdefs.IsNotFound(ierr) {
		return fmt.Errorf("image %s is not on the Docker engine and could not be pulled (%v); pull or build it, or set %s to an image the engine has (devstack's images/build.sh builds local ones without a registry)", img, rootCause(err), key)
	}
	return fmt.Errorf("%s: %w", img, err)
}

// removeStale removes this stack's container of that name left by a devstack that did not stop it (killed,
// or the machine went down): the name is devstack's own, and the data is in the volume, which stays.
func removeStale(ctx context.Context, name string) error {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return noEngine(os.Getenv("DOCKER_HOST"), err)
	}
	defer cli.Close()
	if _, err := cli.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove the stale container %s: %w", name, err)
	}
	return nil
}

// RemoveVolumes deletes the stack's data volumes (Kafka's and PostgreSQL's), which outlive their containers;
// a volume that does not exist is no error.
func RemoveVolumes(ctx context.Context, stack string) error {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return noEngine(os.Getenv("DOCKER_HOST"), err)
	}
	defer cli.Close()
	var errs []error
	for _, v := range []string{resourceName(stack, "kafka-data"), resourceName(stack, "pgdata")} {
		if _, err := cli.VolumeRemove(ctx, v, client.VolumeRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove volume %s: %w", v, err))
		}
	}
	return errors.Join(errs...)
}
