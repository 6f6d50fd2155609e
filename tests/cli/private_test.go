package cli_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/devstack-dev/devstack/internal/testkit"
)

const privateStack = `
name: private
control: {port: ${CONTROL_PORT}}
broker: {port: ${BROKER_PORT}, topics: {events: {partitions: 1}}}
postgres: {enabled: false}
gateway:
  http_port: ${GATEWAY_PORT}
  https_port: ${HTTPS_PORT}
  routes:
    - {path: /talker, service: talker}
services:
  talker:
    setup: echo setup-ran
    build: echo build-ran
    command: "echo talker-started; echo a line only the owner may read; exec sleep 1000"
    ready: {log: talker-started}
`

// What devstack keeps in .devstack (service logs, Kafka records, its own log, the control file, build
// and setup records, keys) is readable by its owner only, even when an older devstack left the
// directory world-readable. A local user must also not be able to make the broker allocate gigabytes
// or create a topic named ../../x.
func TestStateDirIsPrivateAndBrokerRefusesHostileClients(t *testing.T) {
	dir, ports := stackDir(t, strings.ReplaceAll(privateStack, "${HTTPS_PORT}", fmt.Sprint(testkit.FreePort(t))))
	if err := os.WriteFile(filepath.Join(dir, "requirements.txt"), []byte("# setup input\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, ".devstack")
	// as an older devstack left it: world-readable
	if err := os.MkdirAll(filepath.Join(state, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "logs", "talker.log"), []byte("old line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(state, 0o755)

	u := startUp(t, dir)
	u.waitFor(t, "all ready", 90*time.Second)
	brokerAddr := fmt.Sprintf("127.0.0.1:%d", ports["BROKER_PORT"])

	t.Run("produce through the CLI", func(t *testing.T) {
		cmd := exec.Command(bin, "produce", "events")
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader("a record only the owner may read\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("devstack produce events: %v: %s", err, out)
		}
	})

	t.Run("oversized request", func(t *testing.T) {
		before := rssKiB(t, u.cmd.Process.Pid)
		for _, size := range []uint32{0xFFFFFFFF, 200_000_000} {
			c, err := net.Dial("tcp", brokerAddr)
			if err != nil {
				t.Fatal(err)
			}
			c.Write(binary.BigEndian.AppendUint32(nil, size))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = c.Read(make([]byte, 1))
			c.Close()
			if ne, ok := err.(net.Error); err == nil || ok && ne.Timeout() {
				t.Fatalf("the broker kept a connection that announced a %d-byte request (read: %v)", size, err)
			}
		}
		time.Sleep(200 * time.Millisecond)
		if after := rssKiB(t, u.cmd.Process.Pid); after-before > 64<<10 {
			t.Fatalf("devstack's RSS grew from %d to %d KiB after two oversized requests", before, after)
		}
		// and the broker still serves clients
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokerAddr), kgo.DefaultProduceTopic("events"))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
			t.Fatalf("produce after the refused requests: %v", err)
		}
	})

	t.Run("invalid topic names", func(t *testing.T) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokerAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, name := range []string{".", "..", "../../x"} {
			resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, -1, nil, name)
			if err == nil {
				err = resp.Err
			}
			if !errors.Is(err, kerr.InvalidTopicException) {
				t.Errorf("create topic %q: %v, want INVALID_TOPIC_EXCEPTION", name, err)
			}
		}
	})

	// stop the stack so that everything it writes on the way out is written too
	if !stopUp(t, u) {
		t.FailNow()
	}

	t.Run("nothing group or world accessible", func(t *testing.T) {
		seen := map[string]bool{}
		err := filepath.WalkDir(state, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			inState, _ := filepath.Rel(state, p)
			seen[strings.Split(inState, string(filepath.Separator))[0]] = true
			if fi.Mode()&fs.ModeSymlink == 0 && fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s has mode %v: group or others can use it", rel, fi.Mode())
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// the walk covered what matters
		for _, want := range []string{"kafka", "logs", "devstack.log", "build", "setup", "gateway"} {
			if !seen[want] {
				t.Errorf("%s is missing from .devstack (saw %v)", want, seen)
			}
		}
		log, _ := os.ReadFile(filepath.Join(state, "logs", "talker.log"))
		if !strings.Contains(string(log), "only the owner") {
			t.Errorf("the service's log lacks its line: %q", log)
		}
	})
}

// rssKiB is a process's resident set size.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		if os.Getenv("DEVSTACK_REQUIRE_ALL") == "1" {
			t.Fatalf("DEVSTACK_REQUIRE_ALL=1: no /proc to measure devstack's memory: %v", err)
		}
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
