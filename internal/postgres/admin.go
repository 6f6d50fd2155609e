package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/lib/pq"
)

// ConnInfo says how to reach a server as its superuser.
type ConnInfo struct {
	Host     string // "127.0.0.1", another server's host name, or a unix socket directory (starts with /)
	Port     int
	User     string
	Password string // "" over the unix socket (trust)
	// SSLMode is libpq's sslmode for these connections and the URLs handed to services; "" means disable
	// (devstack's own servers listen on loopback only).
	SSLMode string
	// AdminDB is the database the admin connects to; "" means postgres.
	AdminDB string
}

func (c ConnInfo) sslMode() string {
	if c.SSLMode == "" {
		return "disable"
	}
	return c.SSLMode
}

// urlHost is the host services reach the server at: TCP on loopback for a local server's socket.
func (c ConnInfo) urlHost() string {
	if c.Host == "" || strings.HasPrefix(c.Host, "/") {
		return "127.0.0.1"
	}
	return c.Host
}

func (c ConnInfo) adminDB() string {
	if c.AdminDB == "" {
		return "postgres"
	}
	return c.AdminDB
}

// ParseURL reads a postgres:// URL (an admin's: postgres://admin:secret@host:5432/postgres?sslmode=require)
// into ConnInfo. The port defaults to 5432, the database to postgres, sslmode to prefer (libpq's default).
func ParseURL(raw string) (ConnInfo, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Hostname() == "" || u.User == nil {
		return ConnInfo{}, errors.New("not a postgres://user:password@host:port/database URL")
	}
	c := ConnInfo{Host: u.Hostname(), Port: 5432, User: u.User.Username(), SSLMode: u.Query().Get("sslmode")}
	c.Password, _ = u.User.Password()
	if p := u.Port(); p != "" {
		if c.Port, err = strconv.Atoi(p); err != nil || c.Port < 1 || c.Port > 65535 {
			return ConnInfo{}, fmt.Errorf("port %q is not between 1 and 65535", p)
		}
	}
	if c.SSLMode == "" {
		c.SSLMode = "prefer"
	}
	c.AdminDB = strings.TrimPrefix(u.Path, "/")
	return c, nil
}

// URL is the URL of user (password) on database db of this server.
func (c ConnInfo) URL(user, password, db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(user, password),
		Host:     net.JoinHostPort(c.urlHost(), strconv.Itoa(c.Port)),
		Path:     "/" + db,
		RawQuery: "sslmode=" + url.QueryEscape(c.sslMode()),
	}
	return u.String()
}

// Addr is host:port of the server over TCP.
func (c ConnInfo) Addr() string { return net.JoinHostPort(c.urlHost(), strconv.Itoa(c.Port)) }

func (c ConnInfo) dsn(db string) string {
	q := func(v string) string {
		return "'" + strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), `'`, `\'`) + "'"
	}
	s := fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=%s connect_timeout=10 application_name=devstack",
		q(c.Host), c.Port, q(c.User), q(db), q(c.sslMode()))
	if c.Password != "" {
		s += " password=" + q(c.Password)
	}
	return s
}

// DatabaseInfo describes one database.
type DatabaseInfo struct {
	Name        string `json:"name"`
	Owner       string `json:"owner"`
	SizeBytes   int64  `json:"size_bytes"`
	Connections int    `json:"connections"`
}

// Admin provisions databases on a running server as its superuser. The embedded Server uses one over its
// unix socket; `devstack db` uses one over TCP with the configured password.
type Admin struct {
	conn ConnInfo
	// PsqlPath runs init SQL files when set or found (psql understands everything pg_dump writes, such
	// as COPY … FROM stdin and \connect); without psql the files are sent as one simple query.
	PsqlPath string
	psqlDir  string

	opMu sync.Mutex // one EnsureDatabase/ResetDatabase at a time: no half-initialised database is handed out
	mu   sync.Mutex
	db   *sql.DB
	init map[string][]string
	ver  int // server_version_num
}

// NewAdmin returns an Admin; it connects on first use.
func NewAdmin(c ConnInfo) *Admin {
	return &Admin{conn: c, init: map[string][]string{}}
}

func (a *Admin) pool() *sql.DB {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.db == nil {
		a.db = sql.OpenDB(mustConnector(a.conn.dsn(a.conn.adminDB())))
		a.db.SetMaxOpenConns(4)
		a.db.SetMaxIdleConns(2)
	}
	return a.db
}

func mustConnector(dsn string) *pq.Connector {
	c, err := pq.NewConnector(dsn)
	if err != nil {
		panic(err) // only malformed DSNs, and we build them
	}
	return c
}

// Ping checks the server answers.
func (a *Admin) Ping(ctx context.Context) error {
	var one int
	return a.pool().QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Close releases the connections.
func (a *Admin) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.db == nil {
		return nil
	}
	err := a.db.Close()
	a.db = nil
	return err
}

func (a *Admin) serverVersion(ctx context.Context) (int, error) {
	if a.ver > 0 {
		return a.ver, nil
	}
	var s string
	if err := a.pool().QueryRowContext(ctx, "SHOW server_version_num").Scan(&s); err != nil {
		return 0, err
	}
	a.ver, _ = strconv.Atoi(s)
	return a.ver, nil
}

// ensureSuperuser gives the configured superuser the configured password (creating it when the cluster's
// bootstrap superuser has another name, i.e. postgres.user changed after the data directory was made).
// The bootstrap superuser then loses its password: devstack reaches it over the unix socket only, and a
// password it kept (the old default postgres/postgres) would let anyone in over TCP.
func (a *Admin) ensureSuperuser(ctx context.Context, bootstrap, user, password string) error {
	db := a.pool()
	if user != bootstrap {
		if _, err := db.ExecContext(ctx, "ALTER ROLE "+pq.QuoteIdentifier(bootstrap)+" WITH PASSWORD NULL"); err != nil {
			return fmt.Errorf("remove the password of the bootstrap superuser %s: %w", bootstrap, err)
		}
		var exists bool
		if err := db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", user).Scan(&exists); err != nil {
			return fmt.Errorf("look up role %s: %w", user, err)
		}
		if !exists {
			if _, err := db.ExecContext(ctx, "CREATE ROLE "+pq.QuoteIdentifier(user)+" SUPERUSER LOGIN"); err != nil && !isCode(err, "42710") {
				return fmt.Errorf("create superuser %s: %w", user, err)
			}
		}
	}
	if _, err := db.ExecContext(ctx, "ALTER ROLE "+pq.QuoteIdentifier(user)+" WITH SUPERUSER LOGIN PASSWORD "+pq.QuoteLiteral(password)); err != nil {
		return fmt.Errorf("set the superuser's password: %w", err)
	}
	return nil
}

// checkHBA refuses a cluster whose pg_hba.conf lets TCP clients in without a password ("trust" on a host
// line): every local account reaches 127.0.0.1. (devstack's clusters trust only the unix socket, whose
// directory is private to the server's account.)
func (a *Admin) checkHBA(ctx context.Context, dataDir string) error {
	db := a.pool()
	var file string
	if err := db.QueryRowContext(ctx, "SHOW hba_file").Scan(&file); err != nil {
		return fmt.Errorf("read the pg_hba.conf location: %w", err)
	}
	rows, err := db.QueryContext(ctx, `SELECT line_number, type FROM pg_hba_file_rules
		WHERE error IS NULL AND type <> 'local' AND auth_method = 'trust' ORDER BY line_number`)
	if isCode(err, "42P01") { // PostgreSQL before 10 has no pg_hba_file_rules
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the rules of %s: %w", file, err)
	}
	defer rows.Close()
	var bad []string
	for rows.Next() {
		var line int
		var typ string
		if err := rows.Scan(&line, &typ); err != nil {
			return err
		}
		bad = append(bad, fmt.Sprintf("%s:%d: %s connections are trusted", file, line, typ))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s\nany local user could connect over TCP as the superuser without a password; "+
			"change trust to scram-sha-256 on those lines (or delete %s to start over with a new database)", strings.Join(bad, "\n"), dataDir)
	}
	return nil
}

// SetSuperuserPassword gives superuser user (the one this Admin connects as, or another) password.
func (a *Admin) SetSuperuserPassword(ctx context.Context, user, password string) error {
	return a.ensureSuperuser(ctx, user, user, password)
}

// URLFor is the URL of role name on database name over TCP.
func (a *Admin) URLFor(name string) string { return a.conn.URL(name, name, name) }

// ValidateName checks a database name devstack may create: 1–63 bytes of letters, digits, _ and -,
// starting with a letter or _, and not a template.
func ValidateName(name string) error {
	if name == "" || len(name) > 63 {
		return fmt.Errorf("database name %q must be 1 to 63 characters", name)
	}
	for i, r := range name {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && (r == '-' || (r >= '0' && r <= '9')))
		if !ok {
			return fmt.Errorf("database name %q: use letters, digits, _ and - (starting with a letter or _)", name)
		}
	}
	if name == "template0" || name == "template1" {
		return fmt.Errorf("database name %q is reserved by PostgreSQL", name)
	}
	return nil
}

// Comments on a database devstack creates: while its init SQL runs, and after.
const (
	markInitializing = "devstack: initializing"
	markReady        = "devstack: created"
)

// EnsureDatabase makes sure role name (LOGIN, password name) and database name owned by it exist.
// When it creates the database it runs initSQL files in it, in order: connected as the superuser with
// `SET ROLE name`, so objects belong to the service's role; a file may `RESET ROLE` for what needs the
// superuser (e.g. an untrusted extension). Should an init file fail, the database is dropped again (so the
// next start retries) and the error names the file and line. A database whose init was interrupted (devstack
// killed meanwhile) is recreated. The files are remembered for ResetDatabase.
func (a *Admin) EnsureDatabase(ctx context.Context, name string, initSQL []string) (string, error) {
	if err := ValidateName(name); err != nil {
		return "", err
	}
	a.opMu.Lock()
	defer a.opMu.Unlock()
	return a.ensure(ctx, name, initSQL)
}

func (a *Admin) ensure(ctx context.Context, name string, initSQL []string) (string, error) {
	a.mu.Lock()
	a.init[name] = append([]string(nil), initSQL...)
	a.mu.Unlock()
	db := a.pool()

	var super sql.NullBool
	if err := db.QueryRowContext(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = $1", name).Scan(&super); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("look up role %s: %w", name, err)
	}
	switch {
	case super.Valid && super.Bool:
		return "", fmt.Errorf("database %q: a role of that name is a superuser; devstack gives each database its own unprivileged role, so pick another database name", name)
	case !super.Valid:
		if _, err := db.ExecContext(ctx, "CREATE ROLE "+pq.QuoteIdentifier(name)+" LOGIN PASSWORD "+pq.QuoteLiteral(name)); err != nil && !isCode(err, "42710") {
			return "", fmt.Errorf("create role %s: %w", name, err)
		}
	default:
		if _, err := db.ExecContext(ctx, "ALTER ROLE "+pq.QuoteIdentifier(name)+" WITH LOGIN PASSWORD "+pq.QuoteLiteral(name)); err != nil {
			return "", fmt.Errorf("set password of role %s: %w", name, err)
		}
	}

	var comment sql.NullString
	err := db.QueryRowContext(ctx, "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1", name).Scan(&comment)
	exists := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("look up database %s: %w", name, err)
	}
	if exists && comment.String == markInitializing {
		if err := a.drop(ctx, name); err != nil {
			return "", err
		}
		exists = false
	}
	if !exists {
		if err := a.create(ctx, name, initSQL); err != nil {
			return "", err
		}
	}
	if err := a.restrictConnect(ctx, name); err != nil {
		return "", err
	}
	return a.URLFor(name), nil
}

// restrictConnect lets only role name (and superusers) connect to database name. PostgreSQL grants
// CONNECT to PUBLIC by default, so every service's role could open every other service's database. Run at
// every ensure, it also closes databases made before devstack did this.
func (a *Admin) restrictConnect(ctx context.Context, name string) error {
	q := pq.QuoteIdentifier(name)
	if _, err := a.pool().ExecContext(ctx, "REVOKE CONNECT, TEMPORARY ON DATABASE "+q+" FROM PUBLIC; "+
		"GRANT CONNECT, TEMPORARY ON DATABASE "+q+" TO "+q); err != nil {
		return fmt.Errorf("restrict connections to database %s to role %s: %w", name, name, err)
	}
	return nil
}

func (a *Admin) create(ctx context.Context, name string, initSQL []string) error {
	db := a.pool()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)+" OWNER "+pq.QuoteIdentifier(name)); err != nil {
		if isCode(err, "42P04") { // created concurrently by someone else
			return nil
		}
		return fmt.Errorf("create database %s: %w", name, err)
	}
	if len(initSQL) == 0 {
		return nil
	}
	comment := func(c string) error {
		_, err := db.ExecContext(ctx, "COMMENT ON DATABASE "+pq.QuoteIdentifier(name)+" IS "+pq.QuoteLiteral(c))
		return err
	}
	if err := comment(markInitializing); err != nil {
		return err
	}
	for _, f := range initSQL {
		if err := a.runInitFile(ctx, name, f); err != nil {
			if derr := a.drop(context.WithoutCancel(ctx), name); derr != nil {
				err = errors.Join(err, derr)
			}
			return err
		}
	}
	return comment(markReady)
}

// runInitFile runs one SQL file in database name as role name.
func (a *Admin) runInitFile(ctx context.Context, name, file string) error {
	if _, err := os.Stat(file); err != nil {
		return fmt.Errorf("init SQL for database %s: %w", name, err)
	}
	psql := a.PsqlPath
	if psql == "" {
		psql, _ = FindTool(a.psqlDir, "", "psql")
	}
	if psql != "" {
		cmd := exec.CommandContext(ctx, psql, "-X", "-q", "-v", "ON_ERROR_STOP=1",
			"-c", "SET ROLE "+pq.QuoteIdentifier(name), "-f", file)
		cmd.Dir = filepath.Dir(file) // \i and \copy paths are relative to it
		cmd.Env = append(childEnv(),
			"PGHOST="+a.conn.Host, "PGPORT="+strconv.Itoa(a.conn.Port), "PGUSER="+a.conn.User,
			"PGDATABASE="+name, "PGAPPNAME=devstack-init", "PGCONNECT_TIMEOUT=10", "PGSSLMODE="+a.conn.sslMode())
		if a.conn.Password != "" {
			cmd.Env = append(cmd.Env, "PGPASSWORD="+a.conn.Password)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("init SQL %s for database %s failed: %w\n%s", file, name, err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	return a.execFile(ctx, name, file)
}

// execFile sends a file as one simple query (multi-statement; no psql meta-commands or COPY FROM stdin).
func (a *Admin) execFile(ctx context.Context, name, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("init SQL for database %s: %w", name, err)
	}
	db := sql.OpenDB(mustConnector(a.conn.dsn(name)))
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("init SQL %s: connect to %s: %w", file, name, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET ROLE "+pq.QuoteIdentifier(name)); err != nil {
		return fmt.Errorf("init SQL %s: %w", file, err)
	}
	if _, err := conn.ExecContext(ctx, string(b)); err != nil {
		msg := err.Error()
		var pe *pq.Error
		if errors.As(err, &pe) && pe.Position != "" {
			if pos, perr := strconv.Atoi(pe.Position); perr == nil && pos <= len(b) {
				msg = fmt.Sprintf("line %d: %s", 1+strings.Count(string(b[:pos-1]), "\n"), msg)
			}
		}
		return fmt.Errorf("init SQL %s for database %s failed: %s (psql was not found, so the file ran as one query: psql meta-commands and COPY FROM stdin need psql)", file, name, msg)
	}
	return nil
}

// ResetDatabase drops database name, closing its connections, and creates it again with its role,
// running initSQL.
func (a *Admin) ResetDatabase(ctx context.Context, name string, initSQL []string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	a.opMu.Lock()
	defer a.opMu.Unlock()
	// only databases devstack provisions: never the superuser's own ones (postgres, …)
	var roleSuper, ownerSuper sql.NullBool
	var owner sql.NullString
	err := a.pool().QueryRowContext(ctx, `
		SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = $1),
		       (SELECT r.rolsuper FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE d.datname = $1),
		       (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1)`, name).Scan(&roleSuper, &ownerSuper, &owner)
	if err != nil {
		return fmt.Errorf("look up database %s: %w", name, err)
	}
	if roleSuper.Bool || ownerSuper.Bool || name == "postgres" {
		return fmt.Errorf("database %q belongs to the superuser %s, not to a role devstack created for it; devstack resets only the databases it provisions (drop this one yourself with psql if you mean it)", name, owner.String)
	}
	if err := a.drop(ctx, name); err != nil {
		return err
	}
	_, err = a.ensure(ctx, name, initSQL)
	return err
}

// RememberedInit is the init SQL EnsureDatabase was last given for database name.
func (a *Admin) RememberedInit(name string) []string { return a.rememberedInit(name) }

func (a *Admin) rememberedInit(name string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.init[name]
}

// drop removes database name, ending its sessions first.
func (a *Admin) drop(ctx context.Context, name string) error {
	db := a.pool()
	v, err := a.serverVersion(ctx)
	if err != nil {
		return err
	}
	q := "DROP DATABASE IF EXISTS " + pq.QuoteIdentifier(name)
	if v >= 130000 {
		q += " WITH (FORCE)"
	} else {
		// keep new sessions out, then end the current ones
		_, _ = db.ExecContext(ctx, "UPDATE pg_database SET datallowconn = false WHERE datname = $1", name)
		if _, err := db.ExecContext(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name); err != nil {
			return fmt.Errorf("end sessions of %s: %w", name, err)
		}
	}
	if _, err := db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// Databases lists the non-template databases with owner, size and open sessions.
func (a *Admin) Databases(ctx context.Context) ([]DatabaseInfo, error) {
	rows, err := a.pool().QueryContext(ctx, `
		SELECT d.datname, pg_get_userbyid(d.datdba), pg_database_size(d.oid),
		       (SELECT count(*) FROM pg_stat_activity s WHERE s.datname = d.datname)
		FROM pg_database d WHERE NOT d.datistemplate ORDER BY d.datname`)
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	defer rows.Close()
	var out []DatabaseInfo
	for rows.Next() {
		var d DatabaseInfo
		if err := rows.Scan(&d.Name, &d.Owner, &d.SizeBytes, &d.Connections); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func isCode(err error, code string) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && string(pe.Code) == code
}
