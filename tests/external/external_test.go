//go:build linux

// Package external_test proves broker.source and postgres.source external against real servers that
// devstack did not start: Apache Kafka 4.x (KRaft, one node, from Maven Central's jars with Java 17) and
// a PostgreSQL server of the system's binaries with a password superuser. The sample stack's suites run
// through `devstack test` on a copy of the sample stack pointed at them.
package external_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/devstack-dev/devstack/internal/stackcopy"
	"github.com/devstack-dev/devstack/internal/testkit"
)

// repoRoot is the devstack checkout holding this test.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// devstackBin is $DEVSTACK_BIN, or devstack built into a temp dir.
func devstackBin(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("DEVSTACK_BIN"); b != "" {
		return b
	}
	bin := filepath.Join(t.TempDir(), "devstack")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/devstack")
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build devstack: %v\n%s", err, out)
	}
	return bin
}

// startProc starts a server in its own process group, killed (with everything it started) at cleanup
// and when the test binary dies.
func startProc(t *testing.T, name string, cmd *exec.Cmd, cred *syscall.Credential) {
	t.Helper()
	log, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("%s output (end):\n%s", name, b)
		}
		log.Close()
	})
}

// kafkaExtra adds listeners (name -> port, the name also being its security protocol), broker properties
// and storage-format arguments (SCRAM credentials) to the Kafka startKafka runs.
type kafkaExtra struct {
	listeners map[string]int
	props     string
	format    []string
}

// startKafka runs Apache Kafka (KRaft, combined broker and controller, one node) on a free port and
// returns its address.
func startKafka(t *testing.T) string { return startKafkaWith(t, kafkaExtra{}) }

func startKafkaWith(t *testing.T, extra kafkaExtra) string {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		testkit.SkipOrFail(t, "needs java 17+ for Apache Kafka: %v", err)
	}
	if _, err := exec.LookPath("mvn"); err != nil {
		if _, serr := os.Stat(kafkaCache()); serr != nil {
			testkit.SkipOrFail(t, "needs mvn to fetch Apache Kafka's jars (or them in %s): %v", kafkaCache(), err)
		}
	}
	out, err := exec.Command(filepath.Join(repoRoot(), "scripts", "kafka-jars.sh")).Output()
	if err != nil {
		t.Fatalf("fetch Kafka's jars: %v", err)
	}
	libs := strings.TrimSpace(lastLine(string(out)))

	dir := t.TempDir()
	port, cport := testkit.FreePort(t), testkit.FreePort(t)
	listeners := fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", port)
	protocols := "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
	for name, p := range extra.listeners {
		listeners += fmt.Sprintf(",%s://127.0.0.1:%d", name, p)
		protocols += fmt.Sprintf(",%s:%s", name, name)
	}
	props := fmt.Sprintf(`process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:%[2]d
listeners=%[4]s,CONTROLLER://127.0.0.1:%[2]d
advertised.listeners=%[4]s
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=%[5]s
log.dirs=%[3]s
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
`, port, cport, filepath.Join(dir, "kraft-logs"), listeners, protocols) + extra.props
	cfg := filepath.Join(dir, "server.properties")
	l4j := filepath.Join(dir, "log4j2.properties")
	if err := os.WriteFile(cfg, []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l4j, []byte("rootLogger.level=WARN\nrootLogger.appenderRef.stderr.ref=STDERR\nappender.stderr.type=Console\nappender.stderr.name=STDERR\nappender.stderr.target=SYSTEM_ERR\nappender.stderr.layout.type=PatternLayout\nappender.stderr.layout.pattern=[%d] %p %m (%c)%n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	jvm := []string{"-Dlog4j2.configurationFile=" + l4j, "-cp", filepath.Join(libs, "*")}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id, err := exec.CommandContext(ctx, java, append(jvm, "kafka.tools.StorageTool", "random-uuid")...).Output()
	if err != nil {
		t.Fatalf("kafka-storage random-uuid: %v", err)
	}
	format := append(append(append([]string(nil), jvm...), "kafka.tools.StorageTool", "format", "-t", strings.TrimSpace(lastLine(string(id))), "-c", cfg), extra.format...)
	if b, err := exec.CommandContext(ctx, java, format...).CombinedOutput(); err != nil {
		t.Fatalf("kafka-storage format: %v\n%s", err, b)
	}
	startProc(t, "kafka", exec.Command(java, append([]string{"-Xmx512M", "-Xms256M", "-XX:+UseG1GC", "-Djava.awt.headless=true"}, append(jvm, "kafka.Kafka", cfg)...)...), nil)

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
		md, err := adm.BrokerMetadata(rctx)
		rcancel()
		if err == nil && len(md.Brokers) > 0 {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("Kafka did not answer on %s within 2m: %v", addr, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func kafkaCache() string {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".cache")
	}
	v := os.Getenv("KAFKA_VERSION")
	if v == "" {
		v = "4.4.0"
	}
	return filepath.Join(base, "devstack", "kafka", v, "libs")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// pgBinDir is the newest PostgreSQL of the system (Debian's /usr/lib/postgresql/<major>/bin).
func pgBinDir(t *testing.T) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return a < b
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	testkit.SkipOrFail(t, "needs PostgreSQL's server binaries in /usr/lib/postgresql/<version>/bin (make tools)")
	return ""
}

// startPostgres initdbs a cluster with a password superuser into a temp dir and runs it on a free port
// (as an unprivileged account when the test runs as root: PostgreSQL refuses root). It returns the
// superuser's URL.
func startPostgres(t *testing.T) string {
	t.Helper()
	bin := pgBinDir(t)
	var cred *syscall.Credential
	uid, gid := os.Getuid(), os.Getgid()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		for _, name := range []string{"devstack", "postgres"} {
			if v, verr := user.Lookup(name); verr == nil {
				u, err = v, nil
				break
			}
		}
		if err != nil {
			testkit.SkipOrFail(t, "running as root and no unprivileged account to run PostgreSQL: %v", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// Under /tmp directly (not t.TempDir, whose parents are private to root) so that account reaches it.
	dir, err := os.MkdirTemp("", "devstack-external-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	const admin, password = "admin", "s3cret-admin"
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(pwfile, uid, gid); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", admin, "--pwfile", pwfile,
		"--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := testkit.FreePort(t)
	srv := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=100")
	srv.Dir = dir
	startProc(t, "postgres", srv, cred)

	url := fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/postgres?sslmode=disable", admin, password, port)
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		if err = db.Ping(); err == nil {
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("PostgreSQL did not accept connections on %d within 1m: %v", port, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// externalYAML points the copy's broker and postgres sections at the external servers, and its tests
// at the original e2e suite (the copy's e2e/ is empty).
func externalYAML(t *testing.T, yml, kafka, pgURL, e2eDir string) string {
	t.Helper()
	repl := []struct{ old, new string }{
		{"\nbroker:\n", fmt.Sprintf("\nbroker:\n  source: external\n  external:\n    bootstrap_servers: [%q]\n", kafka)},
		{"\npostgres:\n", fmt.Sprintf("\npostgres:\n  source: external\n  external:\n    admin_url: %q\n", pgURL)},
		{"    dir: e2e\n    command: go test -tags e2e -count=1", fmt.Sprintf("    dir: %s\n    command: go test -tags e2e -short -count=1", e2eDir)},
	}
	for _, r := range repl {
		if strings.Count(yml, r.old) != 1 {
			t.Fatalf("the sample devstack.yaml changed: %q is not there once", r.old)
		}
		yml = strings.Replace(yml, r.old, r.new, 1)
	}
	return yml
}

// TestSampleStackOnExternalKafkaAndPostgres runs the sample stack's test suites (users' integration tests
// and the e2e suite through the gateway, -short: without the hot-reload test's second stack) through
// `devstack test` against a real Kafka and a real PostgreSQL devstack did not start.
func TestSampleStackOnExternalKafkaAndPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Apache Kafka, PostgreSQL and the sample stack")
	}
	root := repoRoot()
	if _, err := os.Stat(filepath.Join(root, "sample-services", "users", "node_modules")); err != nil {
		testkit.SkipOrFail(t, "the sample services' dependencies are not installed (make test-deps): %v", err)
	}
	bin := devstackBin(t)
	pgURL := startPostgres(t)
	kafka := startKafka(t)

	dst := t.TempDir()
	if _, err := stackcopy.Copy(root, dst, "sample-services"); err != nil {
		t.Fatalf("copy the sample stack: %v", err)
	}
	yml, err := os.ReadFile(filepath.Join(dst, "devstack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e2eDir, _ := filepath.Abs(filepath.Join(root, "e2e"))
	if err := os.WriteFile(filepath.Join(dst, "devstack.yaml"), []byte(externalYAML(t, string(yml), kafka, pgURL, e2eDir)), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "test", "--junit", filepath.Join(dst, "junit.xml"))
	cmd.Dir = dst
	cmd.Env = append(os.Environ(), "NO_COLOR=1",
		// free ports for everything the copy still runs itself; the defaults may be taken by another stack
		fmt.Sprintf("CONTROL_PORT=%d", testkit.FreePort(t)), fmt.Sprintf("GATEWAY_PORT=%d", testkit.FreePort(t)),
		fmt.Sprintf("GATEWAY_HTTPS_PORT=%d", testkit.FreePort(t)), fmt.Sprintf("BROKER_PORT=%d", testkit.FreePort(t)),
		fmt.Sprintf("POSTGRES_PORT=%d", testkit.FreePort(t)), fmt.Sprintf("REGISTRY_PORT=%d", testkit.FreePort(t)),
		fmt.Sprintf("TELEMETRY_PORT=%d", testkit.FreePort(t)), fmt.Sprintf("OTLP_GRPC_PORT=%d", testkit.FreePort(t)))
	cmd.WaitDelay = 30 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("devstack test on external Kafka and PostgreSQL: %v\n%s", err, tail(string(out), 30000))
	}
	text := string(out)
	if !strings.Contains(text, "--- PASS: TestWorkflow") {
		t.Fatalf("the e2e suite did not run TestWorkflow:\n%s", tail(text, 30000))
	}
	t.Logf("devstack test output (end):\n%s", tail(text, 3000))

	// devstack made the declared topics and the services' databases on the external servers, and left
	// both running.
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	tctx, tcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer tcancel()
	td, err := kadm.NewClient(cl).ListTopics(tctx, "orders.placed", "orders.scored", "orders.dlq")
	if err != nil {
		t.Fatalf("the external Kafka after devstack stopped: %v", err)
	}
	for name, want := range map[string]int{"orders.placed": 3, "orders.scored": 3, "orders.dlq": 1} {
		if got := len(td[name].Partitions); td[name].Err != nil || got != want {
			t.Errorf("topic %s on the external Kafka: %d partitions (err %v), want %d", name, got, td[name].Err, want)
		}
	}
	db, err := sql.Open("postgres", pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE datname IN ('users', 'analytics', 'users_it') ORDER BY 1")
	if err != nil {
		t.Fatalf("the external PostgreSQL after devstack stopped: %v", err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var name, owner string
		if err := rows.Scan(&name, &owner); err != nil {
			t.Fatal(err)
		}
		got = append(got, name+"/"+owner)
	}
	if strings.Join(got, " ") != "analytics/analytics users/users users_it/users_it" {
		t.Errorf("databases/owners on the external PostgreSQL: %v", got)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
