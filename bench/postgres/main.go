// Command postgres-bench measures how fast devstack's embedded PostgreSQL starts — cold without the
// initdb template, cold with it, warm — and compares with embedded-postgres' own Start on the same
// binaries. It prints a Markdown section. Run through bench/postgres/run.sh.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	embeddedpostgres "github.com/fergusstrange/embedded-postgres"

	"github.com/devstack-dev/devstack/internal/postgres"
)

var benchLog *slog.Logger

type result struct {
	Who      string          `json:"who"`
	Scenario string          `json:"scenario"`
	Samples  []time.Duration `json:"samples"`
}

func main() {
	runs := flag.Int("runs", 5, "samples per scenario")
	child := flag.Bool("child", false, "internal: measure as the current (non-root) user and print JSON")
	verbose := flag.Bool("v", false, "debug log of devstack's phases on stderr")
	flag.Parse()
	if *verbose {
		benchLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if *child {
		res, err := measureAll(*runs, false)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		json.NewEncoder(os.Stdout).Encode(res)
		return
	}
	var all []result
	var err error
	if os.Geteuid() == 0 {
		// devstack as root (it runs the server as an unprivileged account), then everything again as nobody
		all, err = measureDevstack(*runs, "devstack as root")
		if err != nil {
			fail(err)
		}
		more, err := asNobody(*runs)
		if err != nil {
			fail(err)
		}
		all = append(all, more...)
	} else {
		all, err = measureAll(*runs, false)
		if err != nil {
			fail(err)
		}
	}
	printMarkdown(all, *runs)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "postgres bench:", err)
	os.Exit(1)
}

func measureAll(runs int, _ bool) ([]result, error) {
	res, err := measureDevstack(runs, "devstack as a normal user")
	if err != nil {
		return nil, err
	}
	lib, err := measureLibrary(runs)
	if err != nil {
		return nil, err
	}
	return append(res, lib...), nil
}

// measureDevstack: cold without template (fresh cache and data dir), cold with template (fresh data dir),
// warm (data dir of a cleanly stopped server), and Stop.
func measureDevstack(runs int, who string) ([]result, error) {
	base, err := os.MkdirTemp("", "devstack-pg-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(base)
	os.Chmod(base, 0o755)
	ctx := context.Background()
	cold := result{Who: who, Scenario: "cold, no initdb template"}
	tpl := result{Who: who, Scenario: "cold, initdb template cached"}
	warm := result{Who: who, Scenario: "warm (existing data dir)"}
	stop := result{Who: who, Scenario: "stop (fast shutdown)"}
	ensure := result{Who: who, Scenario: "create a service database (role + db)"}
	for i := 0; i < runs; i++ {
		run := filepath.Join(base, fmt.Sprint(i))
		// cold, no template
		o := postgres.Options{DataDir: filepath.Join(run, "a"), CacheDir: filepath.Join(run, "cache"), Logger: benchLog}
		t0 := time.Now()
		s, err := postgres.Start(ctx, o)
		if err != nil {
			return nil, err
		}
		cold.Samples = append(cold.Samples, time.Since(t0))
		t0 = time.Now()
		if _, err := s.EnsureDatabase(ctx, "orders", nil); err != nil {
			return nil, err
		}
		ensure.Samples = append(ensure.Samples, time.Since(t0))
		port := s.Port()
		if err := s.Stop(); err != nil {
			return nil, err
		}
		// cold with template: same cache, new data dir
		o2 := postgres.Options{DataDir: filepath.Join(run, "b"), CacheDir: o.CacheDir, Logger: benchLog}
		t0 = time.Now()
		s2, err := postgres.Start(ctx, o2)
		if err != nil {
			return nil, err
		}
		tpl.Samples = append(tpl.Samples, time.Since(t0))
		s2.Stop()
		// warm: the first data dir again
		o.Port = port
		t0 = time.Now()
		s3, err := postgres.Start(ctx, o)
		if err != nil {
			return nil, err
		}
		warm.Samples = append(warm.Samples, time.Since(t0))
		t0 = time.Now() // stop right after a start, as for embedded-postgres
		if err := s3.Stop(); err != nil {
			return nil, err
		}
		stop.Samples = append(stop.Samples, time.Since(t0))
		os.RemoveAll(run)
	}
	return []result{cold, tpl, warm, stop, ensure}, nil
}

// measureLibrary: embedded-postgres v1.34.0 with the same binaries — cold (initdb into a new data dir, then
// pg_ctl start and its health check) and warm (data dir reused).
func measureLibrary(runs int) ([]result, error) {
	bin, err := localPostgresRoot()
	if err != nil {
		return nil, err
	}
	base, err := os.MkdirTemp("", "devstack-pg-bench-lib-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(base)
	who := "embedded-postgres v1.34.0 (its own Start)"
	cold := result{Who: who, Scenario: "cold, no initdb template"}
	warm := result{Who: who, Scenario: "warm (existing data dir)"}
	stop := result{Who: who, Scenario: "stop (fast shutdown)"}
	for i := 0; i < runs; i++ {
		run := filepath.Join(base, fmt.Sprint(i))
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		cfg := embeddedpostgres.DefaultConfig().Version(embeddedpostgres.V15).Port(uint32(port)).
			BinariesPath(bin).RuntimePath(filepath.Join(run, "rt")).DataPath(filepath.Join(run, "data")).
			CachePath(filepath.Join(run, "cache")).Logger(io.Discard).
			// Debian's build puts the socket in /var/run/postgresql, which only the postgres account may write
			StartParameters(map[string]string{"unix_socket_directories": base})
		db := embeddedpostgres.NewDatabase(cfg)
		t0 := time.Now()
		if err := db.Start(); err != nil {
			return nil, fmt.Errorf("embedded-postgres start: %w", err)
		}
		cold.Samples = append(cold.Samples, time.Since(t0))
		if err := db.Stop(); err != nil {
			return nil, err
		}
		db = embeddedpostgres.NewDatabase(cfg)
		t0 = time.Now()
		if err := db.Start(); err != nil {
			return nil, fmt.Errorf("embedded-postgres warm start: %w", err)
		}
		warm.Samples = append(warm.Samples, time.Since(t0))
		t0 = time.Now()
		if err := db.Stop(); err != nil {
			return nil, err
		}
		stop.Samples = append(stop.Samples, time.Since(t0))
		os.RemoveAll(run)
	}
	return []result{cold, warm, stop}, nil
}

// localPostgresRoot is the install root embedded-postgres wants (the directory holding bin/pg_ctl).
func localPostgresRoot() (string, error) {
	p, err := postgres.FindTool("", "", "pg_ctl")
	if err != nil {
		return "", err
	}
	return filepath.Dir(filepath.Dir(p)), nil
}

// asNobody re-runs this program as nobody (embedded-postgres cannot run as root).
func asNobody(runs int) ([]result, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "devstack-pg-bench-exe-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	b, err := os.ReadFile(exe)
	if err != nil {
		return nil, err
	}
	cp := filepath.Join(dir, "bench")
	if err := os.WriteFile(cp, b, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command(cp, "-child", "-runs", fmt.Sprint(runs))
	cmd.Env = append(os.Environ(), "HOME=/tmp", "XDG_CACHE_HOME=")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("measure as nobody: %w", err)
	}
	var res []result
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, err
	}
	return res, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func stats(d []time.Duration) (med, lo, hi time.Duration) {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2], s[0], s[len(s)-1]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

func printMarkdown(all []result, runs int) {
	libMed := map[string]time.Duration{}
	for _, r := range all {
		if strings.HasPrefix(r.Who, "embedded-postgres") {
			m, _, _ := stats(r.Samples)
			libMed[r.Scenario] = m
		}
	}
	ver := "?"
	if p, err := postgres.FindTool("", "", "postgres"); err == nil {
		if out, err := exec.Command(p, "--version").Output(); err == nil {
			ver = strings.TrimSpace(string(out))
		}
	}
	fmt.Println("## PostgreSQL start (internal/postgres)")
	fmt.Println()
	fmt.Printf("- Date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Printf("- Machine: %s, %d CPUs, %s/%s, kernel %s; load average %s when done (the machine is shared)\n", cpuModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, kernel(), loadAvg())
	fmt.Printf("- PostgreSQL: %s (local install); %d runs per scenario; times are from the call to Start until the server accepts connections with the configured superuser password (devstack) or until Start returns (embedded-postgres)\n", ver, runs)
	fmt.Println()
	fmt.Println("| who | scenario | median | min | max | median vs embedded-postgres |")
	fmt.Println("|---|---|---:|---:|---:|---:|")
	for _, r := range all {
		m, lo, hi := stats(r.Samples)
		ratio := ""
		key := r.Scenario
		if strings.HasPrefix(key, "cold") {
			key = "cold, no initdb template"
		}
		if lm, ok := libMed[key]; ok && !strings.HasPrefix(r.Who, "embedded-postgres") {
			ratio = fmt.Sprintf("%.2f× (%.1f× faster)", float64(m)/float64(lm), float64(lm)/float64(m))
			if m > lm {
				ratio = fmt.Sprintf("%.2f× (%.1f× slower)", float64(m)/float64(lm), float64(m)/float64(lm))
			}
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s |\n", r.Who, r.Scenario, ms(m), ms(lo), ms(hi), ratio)
	}
	fmt.Println()
	fmt.Println("Cold without a template runs initdb once per machine (per PostgreSQL build, superuser name and locale) into")
	fmt.Println("the cache and copies it; every later fresh stack only copies. As root the server runs as an unprivileged OS")
	fmt.Println("account (PostgreSQL refuses root). embedded-postgres runs initdb for every new data directory and starts the")
	fmt.Println("server through pg_ctl; it cannot run as root, so it is measured as nobody.")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
