package containers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
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

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestRealContainers needs a Docker engine; it skips (saying why) where none runs.
func TestRealContainers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := Available(ctx); err != nil {
		t.Skipf("skipping: %v", err)
	}
	kp, pp := freePort(t), freePort(t)
	k, err := StartKafka(ctx, KafkaOptions{Stack: "devstack-test-" + strconv.Itoa(kp), Port: kp, AutoCreate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	c, err := net.DialTimeout("tcp", k.Addr(), 5*time.Second)
	if err != nil {
		t.Fatalf("kafka not reachable at %s: %v", k.Addr(), err)
	}
	c.Close()
	p, err := StartPostgres(ctx, PostgresOptions{Stack: "devstack-test-" + strconv.Itoa(pp), Port: pp})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	c, err = net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p.Port()), 5*time.Second)
	if err != nil {
		t.Fatalf("postgres not reachable: %v", err)
	}
	c.Close()
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
