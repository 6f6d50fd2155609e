package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	embeddedpostgres "github.com/fergusstrange/embedded-postgres"
)

// binaries is the PostgreSQL installation that runs.
type binaries struct {
	dir     string // bin directory with postgres and initdb
	version string // "15.14"
	major   string // "15" (or "9.6"): what PG_VERSION holds
	source  string // "bin_dir", "local" or "download"
}

// installPatterns are where PostgreSQL's own bin directories live, as globs under a file system root:
// Debian/Ubuntu packages, Homebrew's postgresql@N (Apple silicon prefix, then Intel) and its unversioned
// postgresql formula, Postgres.app, MacPorts.
var installPatterns = []string{
	"usr/lib/postgresql/*/bin",
	"opt/homebrew/opt/postgresql@*/bin",
	"usr/local/opt/postgresql@*/bin",
	"opt/homebrew/opt/postgresql/bin",
	"usr/local/opt/postgresql/bin",
	"Applications/Postgres.app/Contents/Versions/*/bin",
	"opt/local/lib/postgresql*/bin",
}

// majorOfDir is the major version a bin directory's path names ("" when it names none).
func majorOfDir(dir string) string {
	name := filepath.Base(filepath.Dir(dir))
	if i := strings.LastIndexByte(name, '@'); i >= 0 {
		name = name[i+1:]
	} else {
		name = strings.TrimPrefix(name, "postgresql")
	}
	if name == "" || name[0] < '0' || name[0] > '9' {
		return ""
	}
	return name
}

// installDirs lists the PostgreSQL installs under root (installPatterns): highest major version first
// (one named by no version last), the order of installPatterns among equals, each install once (a
// symlink such as Postgres.app's Versions/latest is the version it points to).
func installDirs(root string) []string {
	type found struct {
		dir, major string
		rank       int
	}
	var all []found
	seen := map[string]bool{}
	for rank, pat := range installPatterns {
		matches, _ := filepath.Glob(filepath.Join(root, pat))
		for _, m := range matches {
			real, err := filepath.EvalSymlinks(m)
			if err != nil || seen[real] || !isFile(filepath.Join(m, "postgres")) || !isFile(filepath.Join(m, "initdb")) {
				continue
			}
			seen[real] = true
			major := majorOfDir(m)
			if major == "" {
				major = majorOfDir(real)
			}
			all = append(all, found{m, major, rank})
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.major != b.major {
			return b.major == "" || a.major != "" && versionLess(b.major, a.major)
		}
		return a.rank < b.rank
	})
	dirs := make([]string, len(all))
	for i, f := range all {
		dirs[i] = f.dir
	}
	return dirs
}

// localBinDirs lists bin directories of PostgreSQL installs on this machine, best first: the known
// install locations (installDirs), then `pg_config --bindir`, then postgres on PATH.
func localBinDirs() []string {
	var dirs []string
	seen := map[string]bool{}
	add := func(d string) {
		if d == "" || seen[d] {
			return
		}
		seen[d] = true
		if isFile(filepath.Join(d, "postgres")) && isFile(filepath.Join(d, "initdb")) {
			dirs = append(dirs, d)
		}
	}
	for _, d := range installDirs("/") {
		add(d)
	}
	if pc, err := exec.LookPath("pg_config"); err == nil {
		if out, err := exec.Command(pc, "--bindir").Output(); err == nil {
			add(strings.TrimSpace(string(out)))
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		add(filepath.Dir(p))
	}
	return dirs
}

// findBinaries picks the PostgreSQL to run: o.BinDir; else a local install, preferring the major version
// that created an existing data directory; else a download (of that major, or o.Version) into the cache.
func findBinaries(ctx context.Context, o Options, dataVersion string, ru *runUser, log *slog.Logger) (*binaries, error) {
	if o.BinDir != "" {
		for _, tool := range []string{"postgres", "initdb"} {
			if !isFile(filepath.Join(o.BinDir, tool)) {
				return nil, fmt.Errorf("postgres.bin_dir %s has no %s; point it at PostgreSQL's bin directory (e.g. /usr/lib/postgresql/15/bin or /opt/homebrew/opt/postgresql@17/bin) or remove it to use a local or downloaded PostgreSQL", o.BinDir, tool)
			}
		}
		return probeBinaries(ctx, o.BinDir, "bin_dir")
	}
	locals := localBinDirs()
	var fallback *binaries
	for _, d := range locals {
		b, err := probeBinaries(ctx, d, "local")
		if err != nil {
			log.Debug("skipping PostgreSQL install", "dir", d, "err", err)
			continue
		}
		if dataVersion == "" || b.major == dataVersion {
			return b, nil
		}
		if fallback == nil {
			fallback = b
		}
	}
	want := o.Version
	if dataVersion != "" {
		want = dataVersion // the data directory decides; it was probably made by a download of that version
	}
	b, err := download(ctx, want, o.CacheDir, ru, log)
	if err != nil {
		if fallback != nil {
			return fallback, nil // Start explains the version mismatch
		}
		return nil, fmt.Errorf("no local PostgreSQL found (looked in /%s, pg_config, PATH) and downloading PostgreSQL %s failed: %w; install PostgreSQL (%s) or set postgres.bin_dir", strings.Join(installPatterns, ", /"), want, err, installHint("postgresql"))
	}
	return b, nil
}

// probeBinaries asks dir/postgres for its version.
func probeBinaries(ctx context.Context, dir, source string) (*binaries, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "postgres"), "--version")
	cmd.Env = childEnv()
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s --version: %w", filepath.Join(dir, "postgres"), err)
	}
	v, err := parseVersion(string(out))
	if err != nil {
		return nil, err
	}
	return &binaries{dir: dir, version: v, major: majorOf(v), source: source}, nil
}

// parseVersion reads "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)".
func parseVersion(out string) (string, error) {
	_, rest, ok := strings.Cut(out, ")")
	fields := strings.Fields(rest)
	if !ok || len(fields) == 0 || fields[0] == "" || fields[0][0] < '0' || fields[0][0] > '9' {
		return "", fmt.Errorf("unexpected postgres --version output %q", strings.TrimSpace(out))
	}
	return fields[0], nil
}

// majorOf is "15" for "15.14" and "16beta1", "9.6" for "9.6.24".
func majorOf(v string) string {
	parts := strings.Split(v, ".")
	num := func(s string) string {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return s[:i]
	}
	first := num(parts[0])
	if n, _ := strconv.Atoi(first); n < 10 && len(parts) > 1 {
		return first + "." + num(parts[1])
	}
	return first
}

// versionLess compares dotted numeric versions.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// fullVersion maps a major version to the build embedded-postgres knows ("15" -> "15.13.0").
func fullVersion(v string) (string, error) {
	known := map[string]embeddedpostgres.PostgresVersion{
		"18": embeddedpostgres.V18, "17": embeddedpostgres.V17, "16": embeddedpostgres.V16,
		"15": embeddedpostgres.V15, "14": embeddedpostgres.V14, "13": embeddedpostgres.V13,
		"12": embeddedpostgres.V12, "11": embeddedpostgres.V11, "10": embeddedpostgres.V10,
		"9.6": embeddedpostgres.V9, "9": embeddedpostgres.V9,
	}
	if f, ok := known[v]; ok {
		return string(f), nil
	}
	if strings.Count(v, ".") == 2 {
		return v, nil
	}
	return "", fmt.Errorf("unknown PostgreSQL version %q: use a major version (10 to 18) or a full one such as 15.13.0", v)
}

// DownloadedBinDir is where a download of version (major or full) lives under cacheDir.
func DownloadedBinDir(cacheDir, version string) (string, error) {
	full, err := fullVersion(version)
	if err != nil {
		return "", err
	}
	return filepath.Join(cacheDir, "binaries", runtime.GOOS+"-"+runtime.GOARCH+"-"+full, "bin"), nil
}

// download fetches and unpacks a PostgreSQL build into the cache with embedded-postgres, once per machine.
//
// embedded-postgres has no "download only" call: its Start downloads and unpacks the archive, runs initdb,
// and starts the server through pg_ctl as the current user — which cannot work as root, where we must run
// the server as another account, and would leave a pg_ctl-daemonised server we cannot supervise. So it is
// used for what it does well (finding, verifying and unpacking the right build for this OS/arch, caching
// the archive): Start is called on a scratch directory with a locale that makes initdb stop at once, and
// the unpacked tree is then moved into place atomically. As root initdb already refuses to run, same effect.
func download(ctx context.Context, version, cacheDir string, ru *runUser, log *slog.Logger) (*binaries, error) {
	binDir, err := DownloadedBinDir(cacheDir, version)
	if err != nil {
		return nil, err
	}
	final := filepath.Dir(binDir)
	if isFile(filepath.Join(binDir, "postgres")) {
		return probeBinaries(ctx, binDir, "download")
	}
	full, _ := fullVersion(version)
	if err := os.MkdirAll(filepath.Join(cacheDir, "binaries"), 0o755); err != nil {
		return nil, fmt.Errorf("create binary cache: %w", err)
	}
	scratch, err := os.MkdirTemp(filepath.Join(cacheDir, "binaries"), "download-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	if err := os.Chmod(scratch, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	log.Info("downloading PostgreSQL (once per machine)", "version", full, "into", final)
	cfg := embeddedpostgres.DefaultConfig().
		Version(embeddedpostgres.PostgresVersion(full)).
		Port(uint32(port)).
		CachePath(filepath.Join(cacheDir, "archives")).
		RuntimePath(filepath.Join(scratch, "runtime")).
		BinariesPath(filepath.Join(scratch, "pg")).
		DataPath(filepath.Join(scratch, "runtime", "data")).
		Locale("devstack-download-only.invalid").
		Logger(io.Discard)
	errc := make(chan error, 1)
	go func() { errc <- embeddedpostgres.NewDatabase(cfg).Start() }()
	var startErr error
	select {
	case startErr = <-errc:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	unpacked := filepath.Join(scratch, "pg")
	if !isFile(filepath.Join(unpacked, "bin", "postgres")) {
		if startErr == nil {
			startErr = errors.New("no bin/postgres in the downloaded archive")
		}
		return nil, startErr
	}
	if err := os.Rename(unpacked, final); err != nil && !isFile(filepath.Join(binDir, "postgres")) {
		return nil, fmt.Errorf("install downloaded PostgreSQL into %s: %w", final, err)
	}
	return probeBinaries(ctx, binDir, "download")
}

// FindTool finds a PostgreSQL client program (psql, pg_dump, …): in binDir when given, else next to a
// local install, else a downloaded build in cacheDir ("" for the default), else on PATH.
func FindTool(binDir, cacheDir, name string) (string, error) {
	var dirs []string
	if binDir != "" {
		dirs = append(dirs, binDir)
	}
	dirs = append(dirs, localBinDirs()...)
	if cacheDir == "" {
		cacheDir = DefaultCacheDir()
	}
	if ms, _ := filepath.Glob(filepath.Join(cacheDir, "binaries", "*", "bin")); len(ms) > 0 {
		dirs = append(dirs, ms...)
	}
	for _, d := range dirs {
		if p := filepath.Join(d, name); isFile(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found (looked in %s and PATH); install the PostgreSQL client (%s) or set postgres.bin_dir", name, strings.Join(dirs, ", "), installHint("postgresql-client"))
}

// installHint says how to install a PostgreSQL package on this OS (Debian's package name given).
func installHint(debianPkg string) string {
	if runtime.GOOS == "darwin" {
		return "e.g. brew install postgresql@17, or Postgres.app"
	}
	return "e.g. apt-get install " + debianPkg
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// freePort asks the OS for a free port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
