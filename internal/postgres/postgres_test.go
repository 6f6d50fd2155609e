//go:build linux

package postgres

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq"
)

// The tests run a real PostgreSQL: a local install (Debian: apt-get install postgresql) or a download.
// As root (CI here) the server runs as the "devstack" OS user; TestNonRoot runs the whole cycle as nobody.

const childEnvVar = "DEVSTACK_PG_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnvVar); mode != "" {
		os.Exit(childMain(mode))
	}
	code := m.Run()
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

// needPostgres skips (or fails under DEVSTACK_REQUIRE_ALL=1) when no PostgreSQL is installed locally.
func needPostgres(t *testing.T) {
	t.Helper()
	if len(localBinDirs()) == 0 {
		if os.Getenv("DEVSTACK_REQUIRE_ALL") == "1" {
			t.Fatal("no local PostgreSQL (install: apt-get install postgresql)")
		}
		t.Skip("no local PostgreSQL found (/usr/lib/postgresql/*/bin, pg_config, PATH); install: apt-get install postgresql")
	}
}

// logBuf is a concurrency-safe buffer for a test logger.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func testOptions(t *testing.T, dataDir, cacheDir string) (Options, *logBuf) {
	lb := &logBuf{}
	return Options{
		DataDir:      dataDir,
		CacheDir:     cacheDir,
		PasswordFile: filepath.Join(dataDir, "superuser-password"),
		Logger:       slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, lb
}

func startT(t *testing.T, o Options) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

func openT(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func queryInt(t *testing.T, db *sql.DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestRestartKeepsData(t *testing.T) {
	needPostgres(t)
	cache := t.TempDir()
	data := filepath.Join(t.TempDir(), "state", "postgres")
	o, _ := testOptions(t, data, cache)
	var lines []string
	var mu sync.Mutex
	o.LogWriter = func(l string) { mu.Lock(); lines = append(lines, l); mu.Unlock() }
	s := startT(t, o)
	ctx := context.Background()
	url, err := s.EnsureDatabase(ctx, "orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("postgres://orders:orders@127.0.0.1:%d/orders?sslmode=disable", s.Port()); url != want {
		t.Fatalf("url = %s, want %s", url, want)
	}
	db := openT(t, url)
	if _, err := db.Exec("CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'ünïcode'), (2, 'b')"); err != nil {
		t.Fatal(err)
	}
	// idempotent
	if url2, err := s.EnsureDatabase(ctx, "orders", nil); err != nil || url2 != url {
		t.Fatalf("second EnsureDatabase: %q %v", url2, err)
	}
	// the superuser URL works with the configured password over TCP
	su := openT(t, s.URL(""))
	if n := queryInt(t, su, "SELECT count(*) FROM pg_roles WHERE rolname = 'orders' AND NOT rolsuper"); n != 1 {
		t.Fatalf("role orders: %d", n)
	}
	db.Close()
	su.Close()
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	mu.Lock()
	if !strings.Contains(strings.Join(lines, "\n"), "database system is shut down") {
		t.Errorf("server log lines did not reach LogWriter: %q", lines)
	}
	mu.Unlock()
	if _, err := os.Stat(filepath.Join(data, "data", "postmaster.pid")); !os.IsNotExist(err) {
		t.Fatalf("postmaster.pid left after Stop: %v", err)
	}

	o.Port = s.Port() // same port as a real stack would use
	s2 := startT(t, o)
	db2 := openT(t, url)
	var name string
	if err := db2.QueryRow("SELECT name FROM items WHERE id = 1").Scan(&name); err != nil || name != "ünïcode" {
		t.Fatalf("after restart: %q %v", name, err)
	}
	if got := queryInt(t, db2, "SELECT count(*) FROM items"); got != 2 {
		t.Fatalf("rows after restart = %d", got)
	}
	if s2.BinDir() == "" || s2.Version() == "" {
		t.Fatal("BinDir/Version empty")
	}
}

func TestTemplateCacheUsedForFreshDataDir(t *testing.T) {
	needPostgres(t)
	cache := t.TempDir()
	o1, _ := testOptions(t, filepath.Join(t.TempDir(), "a"), cache)
	s1 := startT(t, o1)
	id1 := queryInt(t, openT(t, s1.URL("")), "SELECT system_identifier FROM pg_control_system()")
	tpls, _ := filepath.Glob(filepath.Join(cache, "templates", "*", "data", "PG_VERSION"))
	if len(tpls) != 1 {
		t.Fatalf("templates after first start: %v", tpls)
	}
	if err := s1.Stop(); err != nil {
		t.Fatal(err)
	}

	o2, logs := testOptions(t, filepath.Join(t.TempDir(), "b"), cache)
	o2.User, o2.Password = "postgres", "s3cret 'quoted'"
	s2 := startT(t, o2)
	if !strings.Contains(logs.String(), "using initdb template") {
		t.Fatalf("second fresh data dir did not use the template; log:\n%s", logs)
	}
	// a copy of the same cluster carries the template's system identifier (initdb would make a new one)
	id2 := queryInt(t, openT(t, s2.URL("")), "SELECT system_identifier FROM pg_control_system()")
	if id1 != id2 {
		t.Fatalf("system identifiers differ (%d vs %d): the template was not copied", id1, id2)
	}
	// the password is set at start, not baked into the template
	bad := strings.Replace(s2.URL(""), url2pw("s3cret 'quoted'"), "wrong", 1)
	if err := openT(t, bad).Ping(); err == nil {
		t.Fatal("wrong password accepted over TCP")
	}
}

func url2pw(p string) string {
	return strings.TrimPrefix(strings.TrimSuffix(buildURL("u", p, 1, "d"), "@127.0.0.1:1/d?sslmode=disable"), "postgres://u:")
}

func TestInitSQLAndReset(t *testing.T) {
	needPostgres(t)
	s := startT(t, mustOpts(t))
	ctx := context.Background()
	dir := t.TempDir()
	schema := writeFile(t, dir, "01-schema.sql", "CREATE TABLE users (id serial PRIMARY KEY, email text UNIQUE NOT NULL);\n")
	seed := writeFile(t, dir, "02-seed.sql", "INSERT INTO users (email) VALUES ('a@example.com'), ('b@example.com');\n"+
		"COPY users (email) FROM stdin;\nc@example.com\n\\.\n")
	url, err := s.EnsureDatabase(ctx, "accounts", []string{schema, seed})
	if err != nil {
		t.Fatal(err)
	}
	db := openT(t, url)
	if n := queryInt(t, db, "SELECT count(*) FROM users"); n != 3 {
		t.Fatalf("seeded rows = %d", n)
	}
	var owner string
	if err := db.QueryRow("SELECT tableowner FROM pg_tables WHERE tablename = 'users'").Scan(&owner); err != nil || owner != "accounts" {
		t.Fatalf("table owner = %q (%v), want the database's role", owner, err)
	}
	if _, err := db.Exec("INSERT INTO users (email) VALUES ('later@example.com')"); err != nil {
		t.Fatal(err)
	}
	// init runs once: ensuring again keeps the extra row
	if _, err := s.EnsureDatabase(ctx, "accounts", []string{schema, seed}); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM users"); n != 4 {
		t.Fatalf("rows after second ensure = %d", n)
	}
	// reset with a session open: it is closed, the database recreated and seeded again
	if err := s.ResetDatabase(ctx, "accounts"); err != nil {
		t.Fatal(err)
	}
	db2 := openT(t, url)
	if n := queryInt(t, db2, "SELECT count(*) FROM users"); n != 3 {
		t.Fatalf("rows after reset = %d", n)
	}
	list, err := s.Databases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range list {
		if d.Name == "accounts" && d.Owner == "accounts" && d.SizeBytes > 0 {
			found = true
		}
	}
	if !found {
		t.Fatalf("accounts not listed: %+v", list)
	}
}

func TestInitSQLFailure(t *testing.T) {
	needPostgres(t)
	s := startT(t, mustOpts(t))
	ctx := context.Background()
	dir := t.TempDir()
	bad := writeFile(t, dir, "init.sql", "CREATE TABLE ok (id int);\nCREATE TABLE broken (id nosuchtype);\n")
	for _, tc := range []struct {
		name     string
		psqlPath string
	}{{"psql", ""}, {"no psql", "-"}} {
		t.Run(tc.name, func(t *testing.T) {
			s.admin.PsqlPath = tc.psqlPath
			if tc.psqlPath == "-" {
				s.admin.PsqlPath = filepath.Join(dir, "no-such-psql")
			}
			defer func() { s.admin.PsqlPath = "" }()
			_, err := s.EnsureDatabase(ctx, "broken_init", []string{bad})
			if err == nil {
				t.Fatal("EnsureDatabase with failing init SQL succeeded")
			}
			if tc.psqlPath == "" && (!strings.Contains(err.Error(), "init.sql:2") || !strings.Contains(err.Error(), "nosuchtype")) {
				t.Fatalf("error does not name file:line and cause: %v", err)
			}
			list, _ := s.Databases(ctx)
			for _, d := range list {
				if d.Name == "broken_init" {
					t.Fatal("database left behind after failed init")
				}
			}
		})
	}
	// without psql the file is one query; fixed file succeeds
	good := writeFile(t, dir, "good.sql", "CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2);")
	if err := s.admin.execFile(ctx, "postgres", good); err == nil {
		// ran in postgres db as role postgres? SET ROLE postgres is fine: superuser
		var n int
		if err := s.admin.pool().QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 2 {
			t.Fatalf("execFile result %d %v", n, err)
		}
	} else {
		t.Fatal(err)
	}
}

func TestInterruptedInitIsRedone(t *testing.T) {
	needPostgres(t)
	s := startT(t, mustOpts(t))
	ctx := context.Background()
	seed := writeFile(t, t.TempDir(), "seed.sql", "CREATE TABLE t (id int); INSERT INTO t VALUES (1);")
	// what a devstack killed in the middle of init leaves behind
	su := s.admin.pool()
	for _, q := range []string{`CREATE ROLE half LOGIN PASSWORD 'half'`, `CREATE DATABASE half OWNER half`, `COMMENT ON DATABASE half IS 'devstack: initializing'`} {
		if _, err := su.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	url, err := s.EnsureDatabase(ctx, "half", []string{seed})
	if err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, openT(t, url), "SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("rows = %d", n)
	}
}

func TestEnsureDatabaseRejects(t *testing.T) {
	needPostgres(t)
	s := startT(t, mustOpts(t))
	for _, tc := range []struct{ name, want string }{
		{"postgres", "superuser"},
		{"template1", "reserved"},
		{"", "1 to 63"},
		{"bad name", "letters, digits"},
		{"1abc", "letters, digits"},
		{strings.Repeat("x", 64), "1 to 63"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.EnsureDatabase(context.Background(), tc.name, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	// reset touches only databases devstack provisions
	if _, err := s.admin.pool().Exec("CREATE DATABASE manual"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"postgres", "manual"} {
		if err := s.ResetDatabase(context.Background(), name); err == nil || !strings.Contains(err.Error(), "belongs to the superuser") {
			t.Fatalf("ResetDatabase(%s) = %v", name, err)
		}
	}
	// a dash is fine (service names have them)
	url, err := s.EnsureDatabase(context.Background(), "order-service", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := openT(t, url).Ping(); err != nil {
		t.Fatal(err)
	}
}

func TestPortInUse(t *testing.T) {
	needPostgres(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	o := mustOpts(t)
	o.Port = port
	_, err = Start(context.Background(), o)
	want := fmt.Sprintf("postgres: port %d is in use", port)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "change postgres.port") {
		t.Fatalf("err = %v, want %q … change postgres.port", err, want)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("error does not name the holder (pid %d): %v", os.Getpid(), err)
	}
}

func TestLongPathUsesShortSocketDir(t *testing.T) {
	needPostgres(t)
	long := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60), "postgres")
	o, _ := testOptions(t, long, t.TempDir())
	s := startT(t, o)
	if !strings.HasPrefix(s.SocketDir(), os.TempDir()) || len(s.SocketDir()) > 60 {
		t.Fatalf("socket dir = %s", s.SocketDir())
	}
	db := openT(t, s.URL(""))
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.SocketDir()); !os.IsNotExist(err) {
		t.Fatalf("socket dir under /tmp left after Stop: %v", err)
	}
}

func TestStalePIDFileOfOtherProcess(t *testing.T) {
	needPostgres(t)
	o := mustOpts(t)
	s := startT(t, o)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	// a postmaster.pid whose pid is now a live, unrelated process (pid reuse after a crash): postgres
	// itself would refuse to start
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleeper.Process.Kill(); sleeper.Wait() }()
	pidFile := filepath.Join(o.DataDir, "data", "postmaster.pid")
	content := fmt.Sprintf("%d\n%s\n1700000000\n%d\n%s\n127.0.0.1\n  5433001  1\nready   \n", sleeper.Process.Pid, s.DataDir(), s.Port(), s.SocketDir())
	if err := os.WriteFile(pidFile, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := startT(t, o)
	if err := openT(t, s2.URL("")).Ping(); err != nil {
		t.Fatal(err)
	}
}

// TestSIGKILL: a devstack (a child process here) is killed with SIGKILL while its server runs; the next
// Start recovers, keeps the data, and no server of the dead devstack is left.
func TestSIGKILL(t *testing.T) {
	needPostgres(t)
	for _, tc := range []struct {
		name        string
		noPdeathsig bool // the server outlives devstack: the next Start must stop it
		wantStopMsg bool
	}{
		{name: "server dies with devstack"},
		{name: "server outlives devstack", noPdeathsig: true, wantStopMsg: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, logs := testOptions(t, filepath.Join(t.TempDir(), "pg"), t.TempDir())
			info := runChild(t, "hang", o.DataDir, o.CacheDir, tc.noPdeathsig, nil)
			if err := info.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-info.exited
			if tc.noPdeathsig {
				if !isLivePostgres(info.PostmasterPID) {
					t.Fatal("the server died with devstack although it had no parent-death signal")
				}
			} else {
				// PR_SET_PDEATHSIG: the server gets SIGINT and shuts down on its own
				deadline := time.Now().Add(time.Minute)
				for isLivePostgres(info.PostmasterPID) {
					if time.Now().After(deadline) {
						t.Fatal("the server outlived the killed devstack")
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			o.Port = info.Port
			s := startT(t, o)
			if isLivePostgres(info.PostmasterPID) {
				t.Fatalf("postmaster %d of the killed devstack still runs", info.PostmasterPID)
			}
			if got := strings.Contains(logs.String(), "left running by an earlier devstack"); got != tc.wantStopMsg {
				t.Errorf("stopped a leftover server = %v, want %v; log:\n%s", got, tc.wantStopMsg, logs)
			}
			db := openT(t, buildURL("orders", "orders", s.Port(), "orders"))
			if n := queryInt(t, db, "SELECT count(*) FROM items"); n != 3 {
				t.Fatalf("rows after SIGKILL recovery = %d, want 3", n)
			}
		})
	}
}

// TestNonRoot runs start → write → stop → start → read as an unprivileged user (nobody), as a re-executed
// copy of this test binary, when the tests run as root. As non-root every other test already covers it.
func TestNonRoot(t *testing.T) {
	needPostgres(t)
	if os.Geteuid() != 0 {
		t.Skip("not root: the other tests already run PostgreSQL as this unprivileged user")
	}
	base, err := os.MkdirTemp("", "devstack-pg-nonroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(base, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	res := runChild(t, "nonroot", filepath.Join(base, "state", "postgres"), filepath.Join(base, "cache"), false,
		&syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}})
	if res.Error != "" {
		t.Fatalf("as nobody: %s", res.Error)
	}
	fi, err := os.Stat(filepath.Join(base, "state", "postgres", "data"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 {
		t.Fatalf("PGDATA owned by uid %d, want nobody", st.Uid)
	}
}

func TestRootRunsAsOtherUser(t *testing.T) {
	needPostgres(t)
	if os.Geteuid() != 0 {
		t.Skip("only as root")
	}
	// t.TempDir is mode 0700 and root-owned: the server can only reach it with the ambient capability
	s := startT(t, mustOpts(t))
	st, _, comm, ok := procStat(s.cmd.Process.Pid)
	if !ok || comm != "postgres" || st == 'Z' {
		t.Fatalf("postmaster not running: %v %q", ok, comm)
	}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if strings.Contains(string(status), "Uid:\t0\t") {
		t.Fatal("postmaster runs as root")
	}
	if len(s.runAs.caps) == 0 {
		t.Fatal("no ambient capability although the data dir is under a 0700 root directory")
	}
	// a data dir everyone can search needs none
	base, _ := os.MkdirTemp("", "devstack-pg-open-")
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	o, _ := testOptions(t, filepath.Join(base, "pg"), filepath.Join(base, "cache"))
	s2 := startT(t, o)
	if len(s2.runAs.caps) != 0 {
		t.Fatalf("capability granted although not needed: %v (%s)", s2.runAs.caps, s2.runAs.capsWhy)
	}
}

func TestVersionParsing(t *testing.T) {
	for _, tc := range []struct{ in, version, major string }{
		{"postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)\n", "15.14", "15"},
		{"postgres (PostgreSQL) 17.5\n", "17.5", "17"},
		{"postgres (PostgreSQL) 9.6.24\n", "9.6.24", "9.6"},
		{"postgres (PostgreSQL) 16beta1\n", "16beta1", "16"},
	} {
		v, err := parseVersion(tc.in)
		if err != nil || v != tc.version || majorOf(v) != tc.major {
			t.Errorf("%q: %q %q %v", tc.in, v, majorOf(v), err)
		}
	}
	if _, err := parseVersion("garbage"); err == nil {
		t.Error("garbage parsed")
	}
	if !versionLess("9", "15") || versionLess("15", "9") || versionLess("15", "15") {
		t.Error("versionLess")
	}
	for in, want := range map[string]string{"15": "15.13.0", "9.6": "9.6.24", "15.2.0": "15.2.0"} {
		if got, err := fullVersion(in); err != nil || got != want {
			t.Errorf("fullVersion(%s) = %s %v", in, got, err)
		}
	}
	if _, err := fullVersion("banana"); err == nil {
		t.Error("fullVersion(banana) ok")
	}
}

// TestDownloadedBinaries downloads PostgreSQL through embedded-postgres (network) and runs it.
func TestDownloadedBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads PostgreSQL")
	}
	cache, err := os.MkdirTemp("", "devstack-pg-dl-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(cache) })
	os.Chmod(cache, 0o755) // as root, the server's account must reach the binaries
	ru, err := chooseRunUser("", filepath.Join(cache, "none"), slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b, err := download(ctx, "15", cache, ru, slog.Default())
	if err != nil {
		if os.Getenv("DEVSTACK_REQUIRE_ALL") == "1" {
			t.Fatal(err)
		}
		t.Skipf("download failed (no network?): %v", err)
	}
	if b.major != "15" || !strings.HasPrefix(b.dir, cache) {
		t.Fatalf("downloaded %+v", b)
	}
	o, _ := testOptions(t, filepath.Join(t.TempDir(), "pg"), cache)
	o.BinDir = b.dir
	s := startT(t, o)
	if s.Version() != b.version {
		t.Fatalf("runs %s, want %s", s.Version(), b.version)
	}
	if _, err := s.EnsureDatabase(ctx, "dl", nil); err != nil {
		t.Fatal(err)
	}
	// a second call finds the cached binaries
	b2, err := download(ctx, "15", cache, ru, slog.Default())
	if err != nil || b2.dir != b.dir {
		t.Fatalf("second download: %+v %v", b2, err)
	}
}

func mustOpts(t *testing.T) Options {
	o, _ := testOptions(t, filepath.Join(t.TempDir(), "pg"), sharedCache(t))
	return o
}

// sharedCache is one template cache for the tests that do not test the cache itself.
var (
	sharedOnce sync.Once
	sharedDir  string
)

func sharedCache(t *testing.T) string {
	sharedOnce.Do(func() {
		d, err := os.MkdirTemp("", "devstack-pg-cache-")
		if err != nil {
			panic(err)
		}
		sharedDir = d
	})
	return sharedDir
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// childInfo is what a child process reports.
type childInfo struct {
	Port          int    `json:"port"`
	PostmasterPID int    `json:"postmaster_pid"`
	Error         string `json:"error,omitempty"`
	cmd           *exec.Cmd
	exited        <-chan struct{}
}

// runChild runs this test binary as a "devstack" in mode and waits for its report.
func runChild(t *testing.T, mode, dataDir, cacheDir string, noPdeathsig bool, cred *syscall.Credential) *childInfo {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(filepath.Dir(cacheDir), "report-"+strconv.Itoa(os.Getpid())+"-"+mode+".json")
	if cred != nil {
		// the go test binary lives in a 0700 build directory: give the child a copy it can execute
		cp := filepath.Join(filepath.Dir(cacheDir), "postgres.test")
		b, err := os.ReadFile(exe)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cp, b, 0o755); err != nil {
			t.Fatal(err)
		}
		exe = cp
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnvVar+"="+mode, "PG_DATA="+dataDir, "PG_CACHE="+cacheDir, "PG_REPORT="+report)
	if noPdeathsig {
		cmd.Env = append(cmd.Env, "PG_NO_PDEATHSIG=1")
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }() // the only Wait: concurrent Waits on one process can hang
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	deadline := time.After(3 * time.Minute)
	for {
		if b, err := os.ReadFile(report); err == nil && len(b) > 0 && b[len(b)-1] == '\n' {
			var info childInfo
			if err := json.Unmarshal(b, &info); err != nil {
				t.Fatalf("child report %q: %v", b, err)
			}
			info.cmd, info.exited = cmd, exited
			if mode != "hang" {
				<-exited
			}
			return &info
		}
		select {
		case <-exited:
			if mode != "hang" {
				if b, err := os.ReadFile(report); err == nil && len(b) > 0 {
					continue
				}
			}
			t.Fatalf("child exited without a report:\n%s", out.String())
		case <-deadline:
			t.Fatalf("child gave no report in time:\n%s", out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// childMain is a devstack stand-in run in a separate process.
func childMain(mode string) int {
	report := func(info childInfo) int {
		b, _ := json.Marshal(info)
		tmp := os.Getenv("PG_REPORT") + ".tmp"
		os.WriteFile(tmp, append(b, '\n'), 0o644)
		os.Rename(tmp, os.Getenv("PG_REPORT"))
		if info.Error != "" {
			return 1
		}
		return 0
	}
	fail := func(err error) int { return report(childInfo{Error: err.Error()}) }
	if os.Getenv("PG_NO_PDEATHSIG") == "1" {
		testNoPdeathsig = true
	}
	ctx := context.Background()
	o := Options{DataDir: os.Getenv("PG_DATA"), CacheDir: os.Getenv("PG_CACHE"), PasswordFile: filepath.Join(os.Getenv("PG_DATA"), "superuser-password")}
	s, err := Start(ctx, o)
	if err != nil {
		return fail(err)
	}
	url, err := s.EnsureDatabase(ctx, "orders", nil)
	if err != nil {
		return fail(err)
	}
	db, err := sql.Open("postgres", url)
	if err != nil {
		return fail(err)
	}
	if _, err := db.Exec("CREATE TABLE items (id int); INSERT INTO items VALUES (1), (2), (3)"); err != nil {
		return fail(err)
	}
	switch mode {
	case "hang":
		db.Close()
		report(childInfo{Port: s.Port(), PostmasterPID: s.cmd.Process.Pid})
		select {} // until SIGKILL
	case "nonroot":
		db.Close()
		port := s.Port()
		if err := s.Stop(); err != nil {
			return fail(fmt.Errorf("stop: %w", err))
		}
		o.Port = port
		s2, err := Start(ctx, o)
		if err != nil {
			return fail(fmt.Errorf("restart: %w", err))
		}
		db2, err := sql.Open("postgres", url)
		if err != nil {
			return fail(err)
		}
		var n int
		err = db2.QueryRow("SELECT count(*) FROM items").Scan(&n)
		db2.Close()
		if err != nil || n != 3 {
			return fail(fmt.Errorf("after restart: %d rows, %v", n, err))
		}
		if s2.runAs.switched {
			return fail(errors.New("switched user although not root"))
		}
		if err := s2.Stop(); err != nil {
			return fail(fmt.Errorf("stop after restart: %w", err))
		}
		return report(childInfo{Port: port, PostmasterPID: s2.cmd.Process.Pid})
	}
	return fail(fmt.Errorf("unknown mode %q", mode))
}
