// Command registry-bench measures devstack's schema registry (internal/schemareg on the embedded broker,
// internal/broker, in one process as `devstack up` runs them): its start on an empty and on a full
// _schemas topic, register latency (POST /subjects/{s}/versions, one client, one at a time), the RSS of
// the process before and with 10,000 schemas registered, and GET /schemas/ids/{id} req/s and latency
// under wrk (or a Go load generator when wrk is missing). It prints a Markdown section. Run it through
// bench/registry/run.sh, which installs wrk.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/devstack-dev/devstack/bench/benchkit"
	"github.com/devstack-dev/devstack/internal/broker"
	"github.com/devstack-dev/devstack/internal/schemareg"
	"github.com/devstack-dev/devstack/internal/schemas"
)

func main() {
	serve := flag.Bool("serve", false, "internal: run the broker and the registry in this process")
	port := flag.Int("port", 0, "internal: the registry's port for -serve")
	n := flag.Int("schemas", 10000, "schemas to register")
	subjects := flag.Int("subjects", 100, "subjects they are spread over")
	wrk := flag.String("wrk", "", "wrk binary (empty: a Go load generator)")
	duration := flag.Duration("duration", 10*time.Second, "GET load duration per round")
	rounds := flag.Int("rounds", 3, "GET load rounds (the median is shown)")
	conns := flag.Int("conns", 32, "GET load connections")
	flag.Parse()
	if *serve {
		if err := runServe(*port); err != nil {
			fmt.Fprintln(os.Stderr, "registry-bench -serve:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*n, *subjects, *wrk, *duration, *rounds, *conns); err != nil {
		fmt.Fprintln(os.Stderr, "registry-bench:", err)
		os.Exit(1)
	}
}

// runServe starts the broker and the registry, prints "READY <ms>", and on each "restart" line on stdin
// closes the registry and starts it again (printing "READY <ms>"), until stdin ends.
func runServe(port int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := broker.Start(ctx, broker.Options{Port: benchkit.FreePort(), AutoCreate: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer b.Close()
	opts := schemareg.Options{
		Addr:          fmt.Sprintf("127.0.0.1:%d", port),
		Kafka:         []kgo.Opt{kgo.SeedBrokers(b.Addr())},
		Topic:         "_schemas",
		Compatibility: schemas.Backward,
		Logger:        slog.New(slog.DiscardHandler),
	}
	startReg := func() (*schemareg.Registry, error) {
		t0 := time.Now()
		r, err := schemareg.Start(ctx, opts)
		if err != nil {
			return nil, err
		}
		fmt.Printf("READY %.3f\n", float64(time.Since(t0).Microseconds())/1000)
		return r, nil
	}
	r, err := startReg()
	if err != nil {
		return err
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() == "restart" {
			r.Close()
			if r, err = startReg(); err != nil {
				return err
			}
		}
	}
	r.Close()
	return nil
}

// server is the -serve child.
type server struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines *bufio.Scanner
	url   string
}

func (s *server) ready() (float64, error) {
	for s.lines.Scan() {
		if ms, ok := strings.CutPrefix(s.lines.Text(), "READY "); ok {
			return strconv.ParseFloat(ms, 64)
		}
	}
	return 0, fmt.Errorf("the server ended before it was ready")
}

func rssMiB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	kb, _ := strconv.Atoi(string(m[1]))
	return float64(kb) / 1024
}

// schema is the i-th registered schema: version i/subjects of subject i%subjects, a record with five
// fields and one more optional field (with a default) per version, so each version is BACKWARD
// compatible with the one before.
func schema(i, subjects int) string {
	s, v := i%subjects, i/subjects
	var extra strings.Builder
	for k := range v {
		fmt.Fprintf(&extra, `,{"name":"x%d","type":["null","string"],"default":null}`, k)
	}
	return fmt.Sprintf(`{"type":"record","name":"Event%d","namespace":"bench.events","doc":"benchmark subject %d","fields":[`+
		`{"name":"id","type":"string"},{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},`+
		`{"name":"amount","type":"double","default":0},{"name":"tags","type":{"type":"array","items":"string"},"default":[]},`+
		`{"name":"kind","type":{"type":"enum","name":"Kind%d","symbols":["A","B","C"]},"default":"A"}%s]}`, s, s, s, extra.String())
}

func run(n, subjects int, wrk string, duration time.Duration, rounds, conns int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	port := benchkit.FreePort()
	cmd := exec.Command(self, "-serve", "-port", strconv.Itoa(port))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	srv := &server{cmd: cmd, stdin: stdin, lines: bufio.NewScanner(stdout), url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	defer func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	startEmpty, err := srv.ready()
	if err != nil {
		return err
	}
	time.Sleep(time.Second)
	rssEmpty := rssMiB(cmd.Process.Pid)
	fmt.Fprintf(os.Stderr, "started on an empty topic in %.1f ms, RSS %.1f MiB\n", startEmpty, rssEmpty)

	cl := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	lat := make([]time.Duration, 0, n)
	t0 := time.Now()
	for i := range n {
		body, _ := jsonString(schema(i, subjects))
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/subjects/bench-%d-value/versions", srv.url, i%subjects), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		t := time.Now()
		resp, err := cl.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("register schema %d: %d %s", i, resp.StatusCode, b)
		}
		lat = append(lat, time.Since(t))
		if (i+1)%2000 == 0 {
			fmt.Fprintf(os.Stderr, "registered %d\n", i+1)
		}
	}
	regTotal := time.Since(t0)
	runtime.GC()
	time.Sleep(time.Second)
	rssFull := rssMiB(cmd.Process.Pid)

	fmt.Fprintln(srv.stdin, "restart")
	startFull, err := srv.ready()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "restarted on %d schemas in %.1f ms\n", n, startFull)

	type result struct {
		rps           float64
		p50, p99, max time.Duration
		errs          int64
		tool          string
	}
	var results []result
	for round := range rounds {
		var res result
		if wrk != "" {
			res.tool = "wrk"
			rps, p50, p99, mx, bad, err := runWrk(wrk, srv.url, n, duration, conns)
			if err != nil {
				return err
			}
			res.rps, res.p50, res.p99, res.max, res.errs = rps, p50, p99, mx, bad
		} else {
			res.tool = "Go load generator"
			res.rps, res.p50, res.p99, res.max, res.errs = goLoad(srv.url, n, duration, conns)
		}
		fmt.Fprintf(os.Stderr, "round %d: %.0f req/s p50 %s p99 %s errors %d\n", round+1, res.rps, res.p50, res.p99, res.errs)
		results = append(results, res)
	}
	slices.SortFunc(results, func(a, b result) int { return int(a.rps - b.rps) })
	med := results[len(results)/2]
	rssLoad := rssMiB(cmd.Process.Pid)

	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	load, _ := os.ReadFile("/proc/loadavg")
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := regexp.MustCompile(`model name\s*:\s*(.*)`).FindSubmatch(b); m != nil {
			cpu = string(m[1])
		}
	}
	fmt.Println("## Schema registry (internal/schemareg)")
	fmt.Println()
	fmt.Printf("%s, %s (%d CPUs), %s/%s, load average %s at the end. %s.\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), cpu, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, strings.Join(strings.Fields(string(load))[:3], " "), runtime.Version())
	fmt.Println()
	fmt.Printf("The registry and the embedded broker run in one process, as `devstack up` runs them (bench/registry: internal/broker with an ephemeral data dir, internal/schemareg on its `_schemas` topic, global level BACKWARD). "+
		"%d distinct Avro record schemas are registered one at a time by one HTTP client, round-robin over %d subjects: each subject's versions are a record (string, timestamp-millis, double, array and enum fields) gaining one optional field per version, so every registration is checked (BACKWARD) against its subject's latest version. "+
		"A registration is acknowledged after the broker's acks=all and the registry's reader applied it. "+
		"GET /schemas/ids/{id}: random ids among the %d, %d connections, %s per round, %d rounds (median round by req/s), %s. "+
		"No other registry is compared: Confluent's is not on Maven Central, and Karapace needs its own Kafka; these are devstack's own figures.\n",
		n, subjects, n, conns, duration, rounds, med.tool)
	fmt.Println()
	fmt.Println("| | |")
	fmt.Println("|---|---:|")
	fmt.Printf("| registry start on an empty topic (create `_schemas`, read it, listen) | %.1f ms |\n", startEmpty)
	fmt.Printf("| registry restart with %d schemas in `_schemas` (read to its end, listen) | %.1f ms |\n", n, startFull)
	fmt.Printf("| register latency p50 | %s |\n", fmtDur(pct(0.50)))
	fmt.Printf("| register latency p99 | %s |\n", fmtDur(pct(0.99)))
	fmt.Printf("| register latency max | %s |\n", fmtDur(lat[len(lat)-1]))
	fmt.Printf("| %d registrations, one client | %.1f s (%.0f/s) |\n", n, regTotal.Seconds(), float64(n)/regTotal.Seconds())
	fmt.Printf("| GET /schemas/ids/{id} | %.0f req/s |\n", med.rps)
	fmt.Printf("| GET /schemas/ids/{id} latency p50 | %s |\n", fmtDur(med.p50))
	fmt.Printf("| GET /schemas/ids/{id} latency p99 | %s |\n", fmtDur(med.p99))
	fmt.Printf("| GET errors or non-2xx | %d |\n", med.errs)
	fmt.Printf("| RSS (broker + registry) with an empty registry | %.1f MiB |\n", rssEmpty)
	fmt.Printf("| RSS with %d schemas registered | %.1f MiB |\n", n, rssFull)
	fmt.Printf("| RSS after the GET load | %.1f MiB |\n", rssLoad)
	fmt.Println()
	fmt.Printf("GET req/s of every round: %s.\n", strings.Join(func() []string {
		var s []string
		for _, r := range results {
			s = append(s, fmt.Sprintf("%.0f", r.rps))
		}
		return s
	}(), ", "))
	return nil
}

func fmtDur(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%d µs", d.Microseconds())
	}
	return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000)
}

func jsonString(s string) ([]byte, error) {
	q := strconv.Quote(s) // the schemas are ASCII: a Go quoted string is a JSON string
	return []byte(`{"schema":` + q + `}`), nil
}

// runWrk loads GET /schemas/ids/{random id} with wrk.
func runWrk(wrk, url string, n int, d time.Duration, conns int) (rps float64, p50, p99, mx time.Duration, bad int64, err error) {
	dir, err := os.MkdirTemp("", "registry-bench-")
	if err != nil {
		return
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "ids.lua")
	lua := fmt.Sprintf("request = function()\n  return wrk.format(\"GET\", \"/schemas/ids/\" .. math.random(1, %d))\nend\n", n)
	if err = os.WriteFile(script, []byte(lua), 0o600); err != nil {
		return
	}
	threads := min(2, runtime.NumCPU())
	out, err := exec.Command(wrk, "-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(conns), "-d"+d.String(), "--latency", "-s", script, url).CombinedOutput()
	if err != nil {
		err = fmt.Errorf("wrk: %w: %s", err, out)
		return
	}
	s := string(out)
	field := func(re string) string {
		if m := regexp.MustCompile(re).FindStringSubmatch(s); m != nil {
			return m[1]
		}
		return ""
	}
	rps, _ = strconv.ParseFloat(field(`Requests/sec:\s+([\d.]+)`), 64)
	p50 = wrkDur(field(`\s50%\s+(\S+)`))
	p99 = wrkDur(field(`\s99%\s+(\S+)`))
	mx = wrkDur(field(`Latency\s+\S+\s+\S+\s+(\S+)`))
	if v := field(`Non-2xx or 3xx responses:\s+(\d+)`); v != "" {
		bad, _ = strconv.ParseInt(v, 10, 64)
	}
	if v := field(`Socket errors: (.*)`); v != "" {
		for _, num := range regexp.MustCompile(`\d+`).FindAllString(v, -1) {
			k, _ := strconv.ParseInt(num, 10, 64)
			bad += k
		}
	}
	return
}

// wrkDur reads a wrk duration (1.23ms, 456.00us, 1.02s).
func wrkDur(v string) time.Duration {
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"m", time.Minute}, {"s", time.Second}} {
		if num, ok := strings.CutSuffix(v, u.suffix); ok {
			f, _ := strconv.ParseFloat(num, 64)
			return time.Duration(f * float64(u.unit))
		}
	}
	return 0
}

// goLoad is the load generator used when wrk is missing: conns goroutines with kept-alive connections.
func goLoad(url string, n int, d time.Duration, conns int) (rps float64, p50, p99, mx time.Duration, bad int64) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	var mu sync.Mutex
	var all []time.Duration
	var errs atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) {
				t := time.Now()
				resp, err := cl.Get(fmt.Sprintf("%s/schemas/ids/%d", url, 1+rand.IntN(n)))
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs.Add(1)
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(all)
	if len(all) == 0 {
		return 0, 0, 0, 0, errs.Load()
	}
	return float64(len(all)) / d.Seconds(), all[len(all)/2], all[len(all)*99/100], all[len(all)-1], errs.Load()
}
