// Package postgres runs devstack's embedded PostgreSQL server (a local install or a downloaded build) and
// provisions per-service databases in it.
//
// Layout under Options.DataDir (default <state>/postgres):
//
//	data/           PGDATA, owned by the OS account that runs the server (0700)
//	run/            the unix socket directory (or a short one under /tmp when this path is too long)
//	devstack.json   who created and who currently runs the server (superuser name, owner pid)
//	superuser-password  the generated superuser secret (0600) when the stack sets no password (see secret.go)
//
// The server process is a direct child of devstack (no pg_ctl daemon): its output becomes log lines, it is in
// its own process group (a Ctrl-C in the terminal reaches devstack, which stops services first and the
// database last), and on Linux it gets SIGINT (PostgreSQL's "fast shutdown") when devstack dies, even by
// SIGKILL (PR_SET_PDEATHSIG). A server left over anyway (another OS, or devstack killed during a shutdown) is
// recognised at the next Start from postmaster.pid and stopped before a new one starts.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Defaults applied by Start.
const (
	DefaultPort    = 5433
	DefaultVersion = "15"
	DefaultUser    = "postgres"
	// DefaultOSUser runs the server when devstack runs as root (PostgreSQL refuses to run as root).
	DefaultOSUser = "devstack"
)

// Options configure the embedded server.
type Options struct {
	DataDir  string // e.g. <state>/postgres; kept across restarts
	CacheDir string // per-machine cache (initdb templates, downloaded binaries); default see DefaultCacheDir
	Port     int    // on 127.0.0.1; 0 picks a free port (tests)
	// BinDir is PostgreSQL's bin directory. Default: a local install (Debian's /usr/lib/postgresql/N/bin,
	// Homebrew's postgresql@N, Postgres.app, MacPorts: highest N first; then `pg_config --bindir`, then
	// postgres on PATH), else a download of Version into CacheDir.
	BinDir  string
	Version string // major ("15") or full ("15.13.0") version to download when no local install exists
	// User of the superuser (default postgres) and its Password over TCP.
	User, Password string
	// PasswordFile keeps the superuser's secret when Password is empty: read at start, or created with a
	// random secret (mode 0600) when missing. One of Password and PasswordFile is required.
	PasswordFile string
	// OSUser is the account that runs the server when devstack runs as root (PostgreSQL refuses root).
	// Default: the owner of an existing data directory, else "devstack" (created with useradd when
	// missing), else "nobody". Ignored when devstack is not root.
	OSUser    string
	Logger    *slog.Logger
	LogWriter func(line string) // optional: each server log line
	// StartTimeout bounds waiting for the server to accept connections; 0 means no bound but ctx's
	// (devstack passes config.PostgresStartTimeout, 2m: crash recovery after a kill can take a while on
	// a big data directory).
	StartTimeout time.Duration
}

// testNoPdeathsig makes the server outlive devstack, as it does where there is no parent-death signal.
var testNoPdeathsig bool

// Server is a running embedded PostgreSQL.
type Server struct {
	o       Options
	bin     *binaries
	port    int
	pgdata  string
	sockDir string
	runAs   *runUser
	log     *slog.Logger
	// password is the superuser's over TCP (Options.Password or the secret in Options.PasswordFile)
	password string

	cmd     *exec.Cmd
	done    chan struct{} // closed when the postmaster has exited and its output is drained
	waitErr error

	out *lineSink

	admin *Admin

	stopOnce sync.Once
	stopErr  error
}

// Start prepares the data directory (from the cached initdb template when it is new), starts the server
// and waits until it accepts connections. ctx bounds the start only; the server runs until Stop.
func Start(ctx context.Context, o Options) (*Server, error) {
	s, err := start(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}

func start(ctx context.Context, o Options) (*Server, error) {
	if o.DataDir == "" {
		return nil, errors.New("no data directory given")
	}
	abs, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, err
	}
	o.DataDir = abs
	if o.CacheDir == "" {
		o.CacheDir = DefaultCacheDir()
	}
	if o.User == "" {
		o.User = DefaultUser
	}
	if o.Version == "" {
		o.Version = DefaultVersion
	}
	if o.StartTimeout < 0 {
		return nil, fmt.Errorf("start timeout must not be negative (0 means none), got %s", o.StartTimeout)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{o: o, log: log, pgdata: filepath.Join(o.DataDir, "data"), done: make(chan struct{})}

	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	if s.password, err = superuserPassword(o, log); err != nil {
		return nil, err
	}
	meta, _ := readMeta(o.DataDir)
	dataVersion := readPGVersion(s.pgdata)

	s.runAs, err = chooseRunUser(o.OSUser, s.pgdata, log)
	if err != nil {
		return nil, err
	}
	s.bin, err = findBinaries(ctx, o, dataVersion, s.runAs, log)
	if err != nil {
		return nil, err
	}
	if dataVersion != "" && dataVersion != s.bin.major {
		return nil, fmt.Errorf("the data directory %s was created by PostgreSQL %s but the binaries in %s are PostgreSQL %s; "+
			"set postgres.bin_dir (or postgres.version) to a PostgreSQL %s, or delete %s to start over with an empty database",
			s.pgdata, dataVersion, s.bin.dir, s.bin.major, dataVersion, o.DataDir)
	}
	if err := s.runAs.checkReach(s.bin.dir); err != nil {
		return nil, err
	}

	// A server from an earlier devstack that is still running on this data directory must go first: it
	// holds the data directory lock and maybe the port.
	if err := s.recoverStale(meta); err != nil {
		return nil, err
	}

	s.port = o.Port
	if s.port == 0 {
		if s.port, err = freePort(); err != nil {
			return nil, err
		}
	} else if err := checkPort(s.port); err != nil {
		return nil, err
	}

	if s.sockDir, err = s.socketDir(); err != nil {
		return nil, err
	}

	superuser := o.User
	if dataVersion == "" {
		t0 := time.Now()
		if err := s.createDataDir(ctx); err != nil {
			return nil, err
		}
		meta = metadata{Superuser: o.User}
		log.Debug("data directory created", "dir", s.pgdata, "took", time.Since(t0))
	} else if meta.Superuser != "" {
		superuser = meta.Superuser
	}
	if err := s.runAs.chownTree(s.pgdata); err != nil {
		return nil, err
	}
	meta.Superuser = superuser
	meta.OwnerPID = os.Getpid()
	meta.BinDir = s.bin.dir
	if err := writeMeta(o.DataDir, meta); err != nil {
		return nil, err
	}

	if why := s.runAs.capsReason(); why != "" {
		log.Info("PostgreSQL runs as "+s.runAs.name+" with an ambient capability to reach its data", "why", why)
	}
	if err := s.launch(); err != nil {
		return nil, err
	}
	if err := s.waitReady(ctx, superuser); err != nil {
		s.kill()
		return nil, err
	}
	if err := s.admin.checkHBA(ctx, o.DataDir); err != nil {
		s.kill()
		return nil, err
	}
	if err := s.admin.ensureSuperuser(ctx, superuser, o.User, s.password); err != nil {
		s.kill()
		return nil, err
	}
	return s, nil
}

// Port is the TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// BinDir is the bin directory of the PostgreSQL that runs (psql may be missing in downloaded builds).
func (s *Server) BinDir() string { return s.bin.dir }

// Version is the server's version as `postgres --version` reports it, e.g. "15.14".
func (s *Server) Version() string { return s.bin.version }

// SocketDir is the directory of the server's unix socket.
func (s *Server) SocketDir() string { return s.sockDir }

// DataDir is PGDATA.
func (s *Server) DataDir() string { return s.pgdata }

// Done is closed when the server process has exited (after Stop, or when it died on its own).
func (s *Server) Done() <-chan struct{} { return s.done }

// Err is why the server exited once Done is closed (nil after a clean Stop).
func (s *Server) Err() error {
	select {
	case <-s.done:
		return s.waitErr
	default:
		return nil
	}
}

// URL is the superuser's URL for database db ("" for the "postgres" database).
func (s *Server) URL(db string) string {
	if db == "" {
		db = "postgres"
	}
	return buildURL(s.o.User, s.password, s.port, db)
}

// EnsureDatabase makes sure role name (password name; LOGIN, not superuser) and database name owned by it
// exist. When it creates the database it runs initSQL (file paths) in it, in order, as that role (see
// Admin.EnsureDatabase). Idempotent. Returns that role's URL.
func (s *Server) EnsureDatabase(ctx context.Context, name string, initSQL []string) (string, error) {
	return s.admin.EnsureDatabase(ctx, name, initSQL)
}

// ResetDatabase drops database name (closing its connections) and creates it again, running the init SQL
// remembered from EnsureDatabase.
func (s *Server) ResetDatabase(ctx context.Context, name string) error {
	return s.admin.ResetDatabase(ctx, name, s.admin.rememberedInit(name))
}

// Databases lists the databases with their sizes.
func (s *Server) Databases(ctx context.Context) ([]DatabaseInfo, error) {
	return s.admin.Databases(ctx)
}

// Stop shuts the server down (fast shutdown: sessions are closed, a checkpoint is written) and waits for
// it; it escalates to an immediate shutdown and then SIGKILL if that takes too long. Idempotent.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if s.admin != nil {
			s.admin.Close()
		}
		s.stopErr = s.shutdown(30 * time.Second)
		if s.sockDir != "" && !strings.HasPrefix(s.sockDir, s.o.DataDir) {
			_ = os.Remove(s.sockDir) // the short fallback under /tmp; only when empty
		}
		if m, err := readMeta(s.o.DataDir); err == nil && m.OwnerPID == os.Getpid() {
			m.OwnerPID = 0
			_ = writeMeta(s.o.DataDir, m)
		}
	})
	return s.stopErr
}

// shutdown signals the postmaster and waits, escalating after grace.
func (s *Server) shutdown(grace time.Duration) error {
	select {
	case <-s.done:
		return nil
	default:
	}
	steps := []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGINT, grace}, {syscall.SIGQUIT, 5 * time.Second}, {syscall.SIGKILL, 5 * time.Second}}
	for _, st := range steps {
		pid := s.cmd.Process.Pid
		if st.sig == syscall.SIGKILL {
			pid = -pid // the whole process group: backends too
		}
		_ = syscall.Kill(pid, st.sig)
		select {
		case <-s.done:
			if st.sig != syscall.SIGINT {
				return fmt.Errorf("postgres did not stop in time and was killed (signal %v)", st.sig)
			}
			return nil
		case <-time.After(st.wait):
			s.log.Warn("postgres is slow to stop; escalating", "signal", st.sig)
		}
	}
	return errors.New("postgres did not exit after SIGKILL")
}

func (s *Server) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.shutdown(5 * time.Second)
	}
	if s.admin != nil {
		s.admin.Close()
	}
}

// launch starts the postmaster as our child.
func (s *Server) launch() error {
	args := []string{
		"-D", s.pgdata,
		"-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + s.sockDir,
		"-c", "unix_socket_permissions=0700",
		"-c", "logging_collector=off",
		"-c", "log_destination=stderr",
		"-c", "log_line_prefix=[%p] %q%u@%d ",
		"-c", "max_connections=200",
	}
	cmd := exec.Command(filepath.Join(s.bin.dir, "postgres"), args...)
	cmd.Env = childEnv()
	cmd.Dir = "/"
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = s.runAs.sysProcAttr(!testNoPdeathsig)
	s.out = newLineSink(s.o.LogWriter, s.log)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		s.out.consume(pr)
		pr.Close()
	}()

	// The goroutine that starts the child keeps its OS thread for the child's whole life: the kernel sends
	// the parent-death signal when the *thread* that forked the child exits, and Go may retire threads.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine, after the child
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		err := cmd.Wait()
		<-readerDone
		if err != nil {
			s.waitErr = fmt.Errorf("postgres exited: %w", err)
		}
		close(s.done)
	}()
	err = <-started
	pw.Close()
	if err != nil {
		pr.Close()
		return fmt.Errorf("run %s: %w", cmd.Path, err)
	}
	s.cmd = cmd
	s.log.Debug("postgres started", "pid", cmd.Process.Pid, "port", s.port, "data", s.pgdata, "bin", s.bin.dir, "os_user", s.runAs.name)
	return nil
}

// waitReady polls the unix socket until the server answers, it exits, or time runs out.
func (s *Server) waitReady(ctx context.Context, superuser string) error {
	var cancel context.CancelFunc
	if s.o.StartTimeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, s.o.StartTimeout)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	admin := NewAdmin(ConnInfo{Host: s.sockDir, Port: s.port, User: superuser})
	admin.psqlDir = s.bin.dir
	tick := time.NewTicker(15 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		if lastErr = admin.Ping(ctx); lastErr == nil {
			s.admin = admin
			return nil
		}
		select {
		case <-s.done:
			admin.Close()
			return s.startFailure()
		case <-ctx.Done():
			admin.Close()
			within := "before devstack stopped waiting"
			if s.o.StartTimeout > 0 && !errors.Is(context.Cause(ctx), context.Canceled) {
				within = "within " + s.o.StartTimeout.String()
			}
			return fmt.Errorf("postgres did not accept connections %s (last error: %v); its log:\n%s",
				within, lastErr, s.out.tail())
		case <-tick.C:
		}
	}
}

// startFailure explains why the postmaster exited during start.
func (s *Server) startFailure() error {
	logs := s.out.tail()
	if strings.Contains(logs, "could not bind") && strings.Contains(logs, "in use") {
		return portInUseError(s.port)
	}
	return fmt.Errorf("postgres exited during start (%v); its log:\n%s", s.waitErr, logs)
}

// createDataDir fills PGDATA from the per-machine initdb template (making the template first when there is
// none), or with initdb directly when the cache is unusable.
func (s *Server) createDataDir(ctx context.Context) error {
	// leftovers of an interrupted earlier attempt: no PG_VERSION means nothing of value is there
	if err := os.RemoveAll(s.pgdata); err != nil {
		return fmt.Errorf("clean incomplete data directory: %w", err)
	}
	tmp := s.pgdata + ".new"
	_ = os.RemoveAll(tmp)
	tpl, err := s.template(ctx)
	if err != nil {
		s.log.Warn("initdb template cache unusable; running initdb for this data directory", "err", err)
		if err := s.runAs.mkdirOwned(tmp, 0o700); err != nil {
			return err
		}
		if err := s.initdb(ctx, tmp); err != nil {
			os.RemoveAll(tmp)
			return err
		}
	} else {
		t0 := time.Now()
		if err := copyTree(tpl, tmp); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("copy initdb template %s: %w", tpl, err)
		}
		s.log.Debug("copied initdb template", "took", time.Since(t0))
	}
	if err := s.runAs.chownTree(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	// durable before it becomes PGDATA: a cluster half on disk after a power loss would not start
	t0 := time.Now()
	if err := syncFS(tmp); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("sync new data directory: %w", err)
	}
	s.log.Debug("synced new data directory", "took", time.Since(t0))
	if err := os.Rename(tmp, s.pgdata); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("install data directory: %w", err)
	}
	if d, err := os.Open(s.o.DataDir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// socketDir is <DataDir>/run, or a short directory under /tmp when that path is too long for a unix
// socket address (sunPathMax: 108 bytes on Linux, 104 on macOS, including the file name .s.PGSQL.<port>
// and a NUL).
func (s *Server) socketDir() (string, error) {
	dir := filepath.Join(s.o.DataDir, "run")
	if len(dir)+len("/.s.PGSQL.")+len(strconv.Itoa(s.port))+len(".lock") >= sunPathMax-1 {
		dir = filepath.Join(os.TempDir(), "devstack-pg-"+shortHash(s.o.DataDir))
	}
	if err := s.runAs.ensurePrivateDir(dir); err != nil {
		return "", fmt.Errorf("socket directory: %w", err)
	}
	// a lock file from a server that is gone makes postgres refuse to start when its pid was reused
	lock := filepath.Join(dir, ".s.PGSQL."+strconv.Itoa(s.port)+".lock")
	if pid := readPIDFile(lock); pid > 0 && !isLivePostgres(pid) {
		_ = os.Remove(lock)
	}
	return dir, nil
}

func buildURL(user, password string, port int, db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(user, password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// childEnv is our environment without PG* variables (they would redirect initdb/postgres/psql) and with
// English messages (start errors are recognised by their text).
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || k == "LANG" || k == "LANGUAGE" || strings.HasPrefix(k, "LC_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LANG=C", "LC_MESSAGES=C")
}

// DefaultCacheDir is $DEVSTACK_CACHE_DIR/postgres when that is set, else $XDG_CACHE_HOME/devstack/postgres or ~/.cache/devstack/postgres; for root
// /var/cache/devstack/postgres, because the unprivileged account that runs the server must be able to
// reach downloaded binaries and root's home is usually mode 0700.
func DefaultCacheDir() string {
	if d := os.Getenv("DEVSTACK_CACHE_DIR"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "postgres")
	}
	if os.Geteuid() == 0 {
		return "/var/cache/devstack/postgres"
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "devstack", "postgres")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "devstack", "postgres")
	}
	return filepath.Join(os.TempDir(), "devstack-cache-"+strconv.Itoa(os.Getuid()), "postgres")
}
