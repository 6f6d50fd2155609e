package containers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/testkit"
)

func TestKafkaEnv(t *testing.T) {
	tests := []struct {
		name string
		o    KafkaOptions
		want map[string]string
		none []string
	}{
		{
			name: "defaults advertise the host port on loopback",
			o:    KafkaOptions{Port: 19092, AutoCreate: true},
			want: map[string]string{
				"KAFKA_ADVERTISED_LISTENERS":      "PLAINTEXT://127.0.0.1:19092",
				"KAFKA_AUTO_CREATE_TOPICS_ENABLE": "true",
				"KAFKA_NUM_PARTITIONS":            "1",
				"KAFKA_PROCESS_ROLES":             "broker,controller",
			},
			none: []string{"KAFKA_LOG_RETENTION_MS", "KAFKA_LOG_RETENTION_BYTES"},
		},
		{
			name: "retention and partitions",
			o:    KafkaOptions{Port: 9092, Partitions: 3, RetentionMs: 3600000, RetentionBytes: 1 << 20},
			want: map[string]string{
				"KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
				"KAFKA_NUM_PARTITIONS":            "3",
				"KAFKA_LOG_RETENTION_MS":          "3600000",
				"KAFKA_LOG_RETENTION_BYTES":       "1048576",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := kafkaEnv(tt.o)
			for k, v := range tt.want {
				if env[k] != v {
					t.Errorf("%s = %q, want %q", k, env[k], v)
				}
			}
			for _, k := range tt.none {
				if _, ok := env[k]; ok {
					t.Errorf("%s set, want unset", k)
				}
			}
		})
	}
}

func TestResourceName(t *testing.T) {
	tests := map[string]string{
		"shop":     "devstack-shop-kafka",
		"My Shop!": "devstack-my-shop-kafka",
		"":         "devstack-stack-kafka",
		"a/b\\c":   "devstack-a-b-c-kafka",
	}
	for in, want := range tests {
		if got := resourceName(in, "kafka"); got != want {
			t.Errorf("resourceName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPostgresURL(t *testing.T) {
	p := &Postgres{port: 15432, user: "postgres", pw: "p@ss word"}
	got := p.SuperuserURL("orders")
	want := "postgres://postgres:p%40ss%20word@127.0.0.1:15432/orders?sslmode=disable"
	if got != want {
		t.Errorf("SuperuserURL = %q, want %q", got, want)
	}
}

// TestRealContainers starts the Kafka and PostgreSQL images on a real Docker engine and uses them: a record
// produced and consumed through the container's published port, and a query as the superuser.
func TestRealContainers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	testkit.NeedEngine(t, Available(ctx))
	kafkaImage, postgresImage := testkit.ContainerImages(config.DefaultBrokerImage, config.DefaultPostgresImage)
	kp, pp := testkit.FreePort(t), testkit.FreePort(t)
	stack := "devstack-test-" + strconv.Itoa(kp)
	t.Cleanup(func() { // after the containers are gone
		if err := RemoveVolumes(context.Background(), stack); err != nil {
			t.Error(err)
		}
	})
	k, err := StartKafka(ctx, KafkaOptions{Stack: stack, Image: kafkaImage, Port: kp, AutoCreate: true, Partitions: 2, RetentionMs: 3600000})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	roundTrip(ctx, t, k.Addr())
	// the image took the KAFKA_* environment as its configuration
	adm, err := kadm.NewOptClient(kgo.SeedBrokers(k.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	td, err := adm.ListTopics(ctx, "devstack-roundtrip")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(td["devstack-roundtrip"].Partitions); n != 2 {
		t.Errorf("auto-created topic has %d partitions, want 2 (KAFKA_NUM_PARTITIONS)", n)
	}
	bc, err := adm.DescribeBrokerConfigs(ctx, 1) // node 1: KAFKA_NODE_ID
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, rc := range bc {
		for _, c := range rc.Configs {
			if c.Key == "log.retention.ms" && c.Value != nil {
				got = *c.Value
			}
		}
	}
	if got != "3600000" {
		t.Errorf("broker log.retention.ms = %q, want 3600000 (KAFKA_LOG_RETENTION_MS)", got)
	}

	p, err := StartPostgres(ctx, PostgresOptions{Stack: stack, Image: postgresImage, Port: pp, User: "admin", Password: "s3cret pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	db, err := sql.Open("postgres", p.SuperuserURL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var super bool
	var version string
	if err := db.QueryRowContext(ctx, "SELECT rolsuper, current_setting('server_version') FROM pg_roles WHERE rolname = current_user").Scan(&super, &version); err != nil {
		t.Fatalf("query as the superuser at %s: %v", p.SuperuserURL("postgres"), err)
	}
	if !super || !strings.HasPrefix(version, "15") {
		t.Errorf("connected as superuser %v to PostgreSQL %s, want a superuser on 15.x", super, version)
	}
}

// TestMissingImage: an image the engine does not have and cannot pull is named, with the config key to change.
func TestMissingImage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	testkit.NeedEngine(t, Available(ctx))
	stack := "devstack-test-missing-" + strconv.Itoa(testkit.FreePort(t))
	t.Cleanup(func() { _ = RemoveVolumes(context.Background(), stack) })
	img := "devstack-local/no-such-image:0"
	_, kerr := StartKafka(ctx, KafkaOptions{Stack: stack, Image: img, Port: testkit.FreePort(t)})
	_, perr := StartPostgres(ctx, PostgresOptions{Stack: stack, Image: img, Port: testkit.FreePort(t), User: "u", Password: "p"})
	for key, err := range map[string]error{"broker.image": kerr, "postgres.image": perr} {
		if err == nil {
			t.Fatalf("%s: started a container of %s", key, img)
		}
		msg := err.Error()
		for _, want := range []string{"image " + img + " is not on the Docker engine", "set " + key} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: %q lacks %q", key, msg, want)
			}
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("%s: want one line: %q", key, msg)
		}
	}
}

func TestNoEngineNamesWhereItLooked(t *testing.T) {
	// the shape testcontainers returns: joined attempts ending with the rootless lookup
	probe := errors.Join(
		fmt.Errorf("check host %q: %w", "unix:///x.sock", fmt.Errorf("docker info: %w", &net.OpError{Op: "dial", Net: "unix", Err: syscall.ECONNREFUSED})),
		errors.New("rootless Docker not found"),
	)
	tests := []struct {
		name, dockerHost string
		want             []string
	}{
		{"DOCKER_HOST set", "unix:///x.sock", []string{"no Docker engine answers at DOCKER_HOST=unix:///x.sock: connection refused;", "run without --containers"}},
	}
	if _, err := os.Stat(defaultSocket); err != nil {
		tests = append(tests, struct {
			name, dockerHost string
			want             []string
		}{"default socket missing", "", []string{"at /var/run/docker.sock (DOCKER_HOST is not set): no such socket;", "run without --containers"}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := noEngine(tt.dockerHost, probe)
			if !errors.Is(err, ErrNoDocker) {
				t.Errorf("%v is not ErrNoDocker", err)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q lacks %q", msg, w)
				}
			}
			if strings.Contains(msg, "rootless") || strings.Contains(msg, "\n") {
				t.Errorf("want one line without the rootless red herring: %q", msg)
			}
		})
	}
}

// roundTrip produces a record to a new (auto-created) topic at addr and consumes it back.
func roundTrip(ctx context.Context, t *testing.T, addr string) {
	t.Helper()
	topic := "devstack-roundtrip"
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.AllowAutoTopicCreation(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := cl.ProduceSync(pctx, &kgo.Record{Topic: topic, Value: []byte("hello from devstack")}).FirstErr(); err != nil {
		t.Fatalf("produce to the Kafka container at %s: %v", addr, err)
	}
	for {
		fs := cl.PollFetches(pctx)
		if err := pctx.Err(); err != nil {
			t.Fatalf("no record back from the Kafka container at %s: %v", addr, err)
		}
		for _, r := range fs.Records() {
			if string(r.Value) == "hello from devstack" {
				return
			}
		}
	}
}

// TestPortIsRequired: a host port of 0 is refused before any engine is asked (config always gives one;
// a container published on port 0 would advertise 127.0.0.1:0 to its clients).
func TestPortIsRequired(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, key string
		start     func() error
	}{
		{"kafka", "broker.port", func() error {
			_, err := StartKafka(ctx, KafkaOptions{Stack: "s", Image: "img", Port: 0})
			return err
		}},
		{"postgres", "postgres.port", func() error {
			_, err := StartPostgres(ctx, PostgresOptions{Stack: "s", Image: "img", Port: -1, User: "u", Password: "p"})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.start()
			if err == nil || !strings.Contains(err.Error(), "a port is required (config "+tc.key+")") {
				t.Fatalf("err = %v, want the port refused naming %s", err, tc.key)
			}
		})
	}
}
