// Command reloadbench measures hot reloads on the sample services themselves: it runs a copy of the
// sample stack (internal/stackcopy) on free ports, saves a source file of each service several times
// and measures save → new code answering, for devstack and, side by side in the same run, for the tool
// a user would otherwise use: air (and a bare `go build` + start, the floor) for the Go scorer,
// `nest start --watch -b swc` for the NestJS users, `manage.py runserver` for the Django analytics.
//
// The peers run in the same stack copy as services of their own (a copy of the service's directory,
// no devstack watch: the peer watches and restarts), so they get the same environment (DATABASE_URL,
// KAFKA_BROKERS, …). devstack's services are polled through its gateway (a bench route rewritten to
// the service's /health, whose body carries the edited marker); the peers, which restart in place on
// a fixed port, are polled directly on that port with a new connection per request. Through the
// gateway, its kept-alive upstream connection can keep reaching the peer's old process: Nest's old
// process, shutting down gracefully, stops listening but keeps answering on open connections, and a
// poll every few ms never lets that connection go idle, so the new code is never seen ("nest missed
// saves"; the gateway now bounds a connection's reuse with gateway.upstream_conn_lifetime, default 1s, which
// would still add up to a second to a peer's figure). Polling the peers directly spares them the gateway hop, which only devstack pays. The
// floor is run by this command itself (build, start the new process on a new port with the scorer's
// environment, then stop the old one) and polled directly too. It prints Markdown: the comparison,
// then devstack's timeline.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/devstack-dev/devstack/bench/benchkit"
	"github.com/devstack-dev/devstack/internal/config"
	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/stackcopy"
)

var (
	devstack = flag.String("devstack", "bin/devstack", "devstack binary")
	runs     = flag.Int("runs", 5, "saves per service and side")
	airBin   = flag.String("air", "", "air binary (the scorer's peer; empty: not measured)")
	interval = flag.Duration("poll", 5*time.Millisecond, "poll interval of the harness")
	only     = flag.String("only", "", "measure only these services (comma-separated; default all)")
)

var (
	freePort = benchkit.FreePort
	median   = benchkit.Median
	ms       = benchkit.MS
)

// edit is one service's saved file: the marker (a string its /health answers with) gets "-bN"
// appended on the Nth save, so every save changes what the new code serves.
type edit struct {
	service, peer, peerName, file, marker string
	peerYAML                              string // the peer's service definition (indented, after its name)
	peerSetup                             func(dir string)
}

// airTOML is air's configuration for the scorer's copy: the build command is devstack.yaml's own
// (so both sides build the same way), the binary is where that command writes it.
const airTOML = `root = "."
tmp_dir = "tmp"
[build]
cmd = %q
bin = "./bin/scorer"
include_ext = ["go"]
exclude_dir = ["bin", "tmp"]
delay = 50
[log]
main_only = true
`

// scorerBuild is the scorer's build command in the sample's devstack.yaml; air and the floor run it too.
var scorerBuild string

func edits() []edit {
	return []edit{
		{
			service: "scorer", peer: "scorer-air", peerName: "air", file: "cmd/scorer/main.go",
			marker: `status, code, detail := "ok`,
			peerYAML: fmt.Sprintf(`    dir: sample-services/scorer-air
    command: exec %s -c .air.toml
    env:
      SCORER_GROUP: scorer-air # its own consumer group: a restart waits for no rebalance with devstack's scorer
    ready: { http: /health, timeout: 300s }
`, *airBin),
			peerSetup: func(dir string) {
				must(os.WriteFile(filepath.Join(dir, ".air.toml"), []byte(fmt.Sprintf(airTOML, scorerBuild)), 0o644))
			},
		},
		{
			service: "users", peer: "users-nest", peerName: "nest start --watch -b swc", file: "src/health/health.controller.ts",
			marker: `service: 'users`,
			peerYAML: `    dir: sample-services/users-nest
    command: exec ./node_modules/.bin/nest start --watch -b swc
    database: users
    env:
      JWT_SECRET: ${JWT_SECRET:-dev-only-jwt-secret-change-me-0123456789}
    ready: { http: /health, timeout: 300s }
`,
		},
		{
			service: "analytics", peer: "analytics-runserver", peerName: "manage.py runserver", file: "analytics_site/urls.py",
			marker: `"service": "analytics`,
			peerYAML: `    dir: sample-services/analytics-runserver
    command: exec .venv/bin/python manage.py runserver 127.0.0.1:$PORT
    database: analytics
    env:
      JWT_SECRET: ${JWT_SECRET:-dev-only-jwt-secret-change-me-0123456789}
      ANALYTICS_PREPARE_ON_START: "1"
    ready: { http: /health, timeout: 300s }
`,
		},
	}
}

var phases = []string{"debounce", "setup", "build", "start", "ready", "switch"}

// side is one tool's measurement of one service: the save → new code answering times and the
// failed polls on the way.
type side struct {
	took   []time.Duration
	failed int
	missed int // saves never served within the timeout
}

func (s *side) add(d time.Duration, ok bool, failed int) {
	s.failed += failed
	if ok {
		s.took = append(s.took, d)
	} else {
		s.missed++
	}
}

func (s *side) cell() string {
	if len(s.took) == 0 {
		return "not served"
	}
	c := ms(median(s.took))
	if s.missed > 0 {
		c += fmt.Sprintf(" (%d not served)", s.missed)
	}
	return c
}

func ratio(dev, peer *side) string {
	if len(dev.took) == 0 || len(peer.took) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(median(dev.took))/float64(median(peer.took)))
}

// save replaces the marker's current value in file by its Nth and returns what /health then answers.
func save(file, marker string, n int) string {
	b, err := os.ReadFile(file)
	must(err)
	cur := marker
	if n > 1 {
		cur = fmt.Sprintf("%s-b%d", marker, n-1)
	}
	next := fmt.Sprintf("%s-b%d", marker, n)
	if !strings.Contains(string(b), cur) {
		fail(fmt.Sprintf("%s: %q not found", file, cur))
	}
	must(os.WriteFile(file, []byte(strings.Replace(string(b), cur, next, 1)), 0o644))
	return fmt.Sprintf("-b%d\"", n)
}

func main() {
	flag.Parse()
	bin, err := filepath.Abs(*devstack)
	must(err)
	root, err := os.Getwd()
	must(err)
	dir, err := os.MkdirTemp("", "reloadbench")
	must(err)
	stop = func() { os.RemoveAll(dir) }
	_, err = stackcopy.Copy(root, dir, "sample-services")
	must(err)
	cfg, err := config.Load(filepath.Join(dir, "devstack.yaml"))
	must(err)
	sc, ok := cfg.Services["scorer"]
	if !ok || sc.Build == "" {
		fail("the sample's devstack.yaml has no scorer service with a build")
	}
	scorerBuild = sc.Build

	// The peers: a copy of each service's directory (its dependencies stay links), a service of its own
	// without devstack's watch, and a bench route per side to /health.
	var peerServices, routes strings.Builder
	for _, e := range edits() {
		if e.peer == "scorer-air" && *airBin == "" {
			continue
		}
		src := filepath.Join(dir, "sample-services", e.service)
		dst := filepath.Join(dir, "sample-services", e.peer)
		if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
			fail(fmt.Sprintf("cp %s: %v: %s", src, err, out))
		}
		if e.peerSetup != nil {
			e.peerSetup(dst)
		}
		fmt.Fprintf(&peerServices, "  %s:\n%s", e.peer, e.peerYAML)
		for _, name := range []string{e.service, e.peer} {
			fmt.Fprintf(&routes, "    - path: /bench/%s\n      service: %s\n      rewrite: /health\n", name, name)
		}
	}
	yamlPath := filepath.Join(dir, "devstack.yaml")
	y, err := os.ReadFile(yamlPath)
	must(err)
	ys := string(y)
	for _, ins := range []struct{ after, text string }{{"\n  routes:\n", routes.String()}, {"\nservices:\n", peerServices.String()}} {
		i := strings.Index(ys, ins.after)
		if i < 0 {
			fail(fmt.Sprintf("the copy's devstack.yaml has no %q", ins.after))
		}
		i += len(ins.after)
		ys = ys[:i] + ins.text + ys[i:]
	}
	must(os.WriteFile(yamlPath, []byte(ys), 0o644))

	env := os.Environ()
	ports := map[string]int{}
	for _, k := range []string{"CONTROL_PORT", "BROKER_PORT", "POSTGRES_PORT", "GATEWAY_PORT", "GATEWAY_HTTPS_PORT", "REGISTRY_PORT", "TELEMETRY_PORT", "OTLP_GRPC_PORT"} {
		ports[k] = freePort()
		env = append(env, fmt.Sprintf("%s=%d", k, ports[k]))
	}
	gateway := fmt.Sprintf("http://127.0.0.1:%d", ports["GATEWAY_PORT"])
	logPath = filepath.Join(dir, "up.log")
	logf, err := os.Create(logPath)
	must(err)
	up := exec.Command(bin, "up", "--no-tui")
	up.Dir, up.Env, up.Stdout, up.Stderr = dir, env, logf, logf
	up.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(up.Start())
	var floor *exec.Cmd
	stopFloor := func() {
		if floor != nil {
			_ = syscall.Kill(-floor.Process.Pid, syscall.SIGTERM)
			_ = floor.Wait()
			floor = nil
		}
	}
	stop = func() {
		stopFloor()
		_ = syscall.Kill(-up.Process.Pid, syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = up.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			_ = syscall.Kill(-up.Process.Pid, syscall.SIGKILL)
			<-done
		}
		os.RemoveAll(dir)
	}
	defer stop()
	status := func() event.State {
		cmd := exec.Command(bin, "status", "--json")
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.Output()
		var st event.State
		if err == nil {
			_ = json.Unmarshal(out, &st)
		}
		return st
	}
	service := func(name string) event.Service {
		s, _ := status().Service(name)
		return s
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		st := status()
		ready := len(st.Services) > 0
		for _, s := range st.Services {
			ready = ready && s.Ready()
		}
		if ready {
			break
		}
		if time.Now().After(deadline) {
			fail("the sample stack is not ready after 10 minutes")
		}
		time.Sleep(500 * time.Millisecond)
	}

	var warmSvcs []string
	for _, name := range cfg.ServiceSeq {
		if w := cfg.Services[name].Watch; w != nil && w.Warm && !w.Disabled {
			warmSvcs = append(warmSvcs, name)
		}
	}
	waitStandbysIdle(dir, warmSvcs)

	type row struct {
		e          edit
		dev, peer  side
		floor      *side
		per        map[string][]time.Duration
		devTotals  []time.Duration
		warm       int // reloads that went on a warm standby (the start phase's note)
		peerAbsent bool
	}
	var rows []*row
	const settle = 2 * time.Second // the old instance drains, the tool settles
	for _, e := range edits() {
		if *only != "" && !slices.Contains(strings.Split(*only, ","), e.service) {
			continue
		}
		r := &row{e: e, per: map[string][]time.Duration{}}
		rows = append(rows, r)
		r.peerAbsent = e.peer == "scorer-air" && *airBin == ""
		var floorSave func(n int) (time.Duration, bool, int)
		if e.service == "scorer" {
			floorSave = startFloor(root, dir, service("scorer"), e, &floor)
			if floorSave != nil {
				r.floor = &side{}
			}
		}
		// The sides take turns, save by save, so a change in the machine's load (it is shared) falls
		// on all of them alike; which side goes first rotates from save to save, so none always has the
		// caches another side's build has just warmed.
		for n := 1; n <= *runs; n++ {
			var sides []func()
			sides = append(sides, func() {
				prev := service(e.service).LastReload
				want := save(filepath.Join(dir, "sample-services", e.service, e.file), e.marker, n)
				r.dev.add(benchkit.Poll(gateway+"/bench/"+e.service, want, *interval, time.Minute))
				for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
					if cur := service(e.service).LastReload; cur != nil && cur.OK && (prev == nil || cur.At.After(prev.At)) {
						r.devTotals = append(r.devTotals, cur.Duration)
						for _, p := range cur.Timeline {
							r.per[p.Name] = append(r.per[p.Name], p.Took)
							if p.Name == "start" && strings.HasPrefix(p.Note, "warm standby") {
								r.warm++
							}
						}
						break
					}
				}
				waitStandbysIdle(dir, warmSvcs) // the next standby has loaded before anyone's next save
				time.Sleep(settle)
			})
			if !r.peerAbsent {
				sides = append(sides, func() {
					want := save(filepath.Join(dir, "sample-services", e.peer, e.file), e.marker, n)
					took, ok, failed := benchkit.PollFresh(peerURL(service(e.peer)), want, *interval, time.Minute)
					r.peer.add(took, ok, failed)
					if !ok {
						explainMiss(dir, e, n, want, gateway, service(e.peer))
					}
					time.Sleep(settle)
				})
			}
			if floorSave != nil {
				sides = append(sides, func() {
					r.floor.add(floorSave(n))
					time.Sleep(settle)
				})
			}
			for i := range sides {
				sides[(n+i)%len(sides)]()
			}
		}
		stopFloor()
	}

	fmt.Printf("## Hot reload on the sample services\n\n")
	fmt.Printf("Measured %s on a copy of the sample stack (all services running, broker and PostgreSQL shared), "+
		"%d saves per service and side, the sides taking turns save by save. Each save changes the string the service's "+
		"/health answers with; a harness polls every %s until the new string is served (save → new code answering, "+
		"median). The peer runs as a service of the same stack (a copy of the service's directory, devstack's watch "+
		"off, the peer watching and restarting), so it gets the same environment. devstack's side is polled through "+
		"devstack's gateway (a bench route to the service's /health); the peer's directly on its port, with a new "+
		"connection per poll (through the gateway, a kept-alive connection could keep reaching Nest's old "+
		"process, which stops listening but still answers while it shuts down; the gateway now bounds that with "+
		"`gateway.upstream_conn_lifetime`, default 1s, which would still add up to a second to nest's figure), so "+
		"only devstack pays for a gateway hop. Failed polls: answers that were "+
		"errors (no connection, 5xx) while the new code was coming, summed over the saves. air is given devstack's "+
		"50 ms debounce (`delay = 50`). The floor is a bare `go build` (the sample's build command) + start of the "+
		"scorer, run by the harness on a new port each time and polled directly like the peers (no gateway hop, no "+
		"watcher; the old process is stopped after the new one answers, untimed, as devstack's blue-green reload "+
		"does not wait for it either).\n\n", time.Now().UTC().Format("2006-01-02"), *runs, *interval)
	fmt.Printf("| service | devstack | peer | peer median | ratio devstack/peer | failed polls devstack / peer |\n|---|---:|---|---:|---:|---:|\n")
	for _, r := range rows {
		if r.peerAbsent {
			fmt.Printf("| %s | %s | %s | not installed | - | %d / - |\n", r.e.service, r.dev.cell(), r.e.peerName, r.dev.failed)
		} else {
			fmt.Printf("| %s | %s | %s | %s | %s | %d / %d |\n", r.e.service, r.dev.cell(), r.e.peerName, r.peer.cell(), ratio(&r.dev, &r.peer), r.dev.failed, r.peer.failed)
		}
		if r.floor != nil {
			fmt.Printf("| %s | %s | floor: `go build` + start | %s | %s | %d / %d |\n", r.e.service, r.dev.cell(), r.floor.cell(), ratio(&r.dev, r.floor), r.dev.failed, r.floor.failed)
		}
	}
	fmt.Println()
	fmt.Printf("### devstack's reload timeline\n\n")
	fmt.Printf("The same devstack reloads, median of each reload's timeline from `devstack status --json`: from the " +
		"first file event to the new instance published to the gateway (switch). The drain of the old instance " +
		"comes after and is not counted.\n\n")
	fmt.Printf("| service | total | %s | on a warm standby | standby RSS |\n|---|---:|%s---:|---:|\n", strings.Join(phases, " | "), strings.Repeat("---:|", len(phases)))
	rss := standbyRSS(dir)
	for _, r := range rows {
		row := []string{r.e.service, ms(median(r.devTotals))}
		for _, p := range phases {
			row = append(row, ms(median(r.per[p])))
		}
		row = append(row, fmt.Sprintf("%d of %d", r.warm, len(r.devTotals)))
		if b, ok := rss[r.e.service]; ok {
			row = append(row, fmt.Sprintf("%d MiB", b>>20))
		} else {
			row = append(row, "-")
		}
		fmt.Printf("| %s |\n", strings.Join(row, " | "))
	}
	fmt.Println()
}

// warmProcs lists the pids of the copy's warm standbys (see standbyRSS) by service.
func warmProcs(dir string) map[string][]string {
	out := map[string][]string{}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	prefix := "DEVSTACK_WARM_FIFO=" + filepath.Join(dir, ".devstack")
	for _, p := range procs {
		env, err := os.ReadFile(filepath.Join(p, "environ"))
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(p, "cmdline"))
		if strings.HasPrefix(string(cmdline), "devstack-shim") {
			continue
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			if strings.HasPrefix(kv, prefix) {
				base := filepath.Base(kv)
				svc := base[:max(0, strings.LastIndex(base, "-"))]
				out[svc] = append(out[svc], p)
			}
		}
	}
	return out
}

// waitStandbysIdle waits until each warm service (want) has a standby and the standbys have stopped
// using CPU (they loaded their dependencies and wait), at most a minute: a standby loading its
// dependencies would otherwise take CPU from the next save's measurement, devstack's or a peer's.
func waitStandbysIdle(dir string, want []string) {
	cpu := func(pids map[string][]string) (ticks int64, n int) {
		for _, svc := range want {
			if len(pids[svc]) > 0 {
				n++
			}
		}
		for _, ps := range pids {
			for _, p := range ps {
				b, err := os.ReadFile(filepath.Join(p, "stat"))
				if err != nil {
					continue
				}
				f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
				if len(f) > 12 {
					u, _ := strconv.ParseInt(f[11], 10, 64)
					s, _ := strconv.ParseInt(f[12], 10, 64)
					ticks += u + s
				}
			}
		}
		return ticks, n
	}
	deadline := time.Now().Add(time.Minute)
	prev, _ := cpu(warmProcs(dir))
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		cur, n := cpu(warmProcs(dir))
		if n == len(want) && cur-prev <= 1 {
			return
		}
		prev = cur
	}
	fmt.Fprintln(os.Stderr, "reloadbench: the warm standbys were not idle within a minute")
}

// standbyRSS is the resident memory of each service's waiting warm standby (watch.warm) in the copy at
// dir: the processes started with a DEVSTACK_WARM_FIFO under its state dir (warm/<service>-<token>.fifo),
// the shim excluded.
func standbyRSS(dir string) map[string]int64 {
	out := map[string]int64{}
	for svc, pids := range warmProcs(dir) {
		for _, p := range pids {
			status, _ := os.ReadFile(filepath.Join(p, "status"))
			for _, line := range strings.Split(string(status), "\n") {
				if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
					kb, _ := strconv.ParseInt(f[1], 10, 64)
					out[svc] += kb << 10
				}
			}
		}
	}
	return out
}

// startFloor runs the scorer by hand, as a developer without any tool would: it returns the save
// that, after each edit, runs go build (devstack.yaml's command), starts the new process (with the
// environment devstack gave the scorer, on a new port) and polls it directly; nil when the floor
// cannot run.
func startFloor(root, dir string, scorer event.Service, e edit, floor **exec.Cmd) func(n int) (time.Duration, bool, int) {
	var envv []string
	for _, in := range scorer.Instances {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", in.PID)); err == nil && in.PID > 0 {
			for _, kv := range strings.Split(string(b), "\x00") {
				if kv != "" && !strings.HasPrefix(kv, "PORT=") && !strings.HasPrefix(kv, "SCORER_GROUP=") {
					envv = append(envv, kv)
				}
			}
			break
		}
	}
	if envv == nil {
		fmt.Fprintln(os.Stderr, "reloadbench: the scorer's environment is not readable; floor not measured")
		return nil
	}
	src := filepath.Join(root, "sample-services", e.service) // unedited
	fdir := filepath.Join(dir, "sample-services", "scorer-floor")
	if out, err := exec.Command("cp", "-a", src, fdir).CombinedOutput(); err != nil {
		fail(fmt.Sprintf("cp %s: %v: %s", src, err, out))
	}
	// Its own consumer group: a scorer leaving a group shared with devstack's and air's scorers in the
	// middle of a rebalance waits for it (up to a minute).
	envv = append(envv, "SCORER_GROUP=scorer-floor")
	build := func() bool {
		cmd := exec.Command("sh", "-c", scorerBuild)
		cmd.Dir = fdir
		out, err := cmd.CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "reloadbench: floor build: %v: %s\n", err, out)
		}
		return err == nil
	}
	// start runs the built scorer on a new port and returns its /health; the old process is stopped
	// after the new one answers (not timed): the floor is the build and the start, as devstack's
	// blue-green reload does not wait for the old instance either.
	start := func() string {
		port := freePort()
		cmd := exec.Command("./bin/scorer")
		cmd.Dir, cmd.Env = fdir, append(slices.Clone(envv), fmt.Sprintf("PORT=%d", port))
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		must(cmd.Start())
		*floor = cmd
		return fmt.Sprintf("http://127.0.0.1:%d/health", port)
	}
	if !build() {
		return nil
	}
	url := start()
	if _, ok, _ := benchkit.PollFresh(url, e.marker[strings.LastIndex(e.marker, `"`):]+`"`, *interval, time.Minute); !ok {
		fmt.Fprintln(os.Stderr, "reloadbench: the floor scorer never answered")
		return nil
	}
	return func(n int) (time.Duration, bool, int) {
		want := save(filepath.Join(fdir, e.file), e.marker, n)
		t0 := time.Now()
		// the old scorer is polled while the build runs, as devstack's and air's sides are from the
		// save on (the polls take CPU from the build on these two cores)
		done := make(chan struct{})
		polled := make(chan struct{})
		go func() {
			defer close(polled)
			benchkit.PollUntil(done, url, *interval)
		}()
		built := build()
		close(done)
		<-polled
		if !built {
			return time.Since(t0), false, 0
		}
		old := *floor
		url = start()
		_, ok, failed := benchkit.PollFresh(url, want, *interval, time.Minute)
		took := time.Since(t0) // from the build's start, as a save is from the file event
		_ = syscall.Kill(-old.Process.Pid, syscall.SIGTERM)
		_ = old.Wait()
		return took, ok, failed
	}
}

// peerURL is the peer's /health on its own port: the peers restart in place on a fixed port, and are
// polled there with a new connection per request (see the package doc).
func peerURL(peer event.Service) string {
	if len(peer.Instances) == 0 {
		fail(fmt.Sprintf("%s has no instance", peer.Name))
	}
	return fmt.Sprintf("http://127.0.0.1:%d/health", peer.Instances[0].Port)
}

// explainMiss says on stderr what is known about a save the peer did not serve: for the NestJS peer,
// whether SWC wrote the change to dist/ (then nest did not restart, or the restart did not come up),
// and the tail of the peer's log.
func explainMiss(dir string, e edit, n int, want, gateway string, peer event.Service) {
	fmt.Fprintf(os.Stderr, "reloadbench: %s did not serve save %d (%s) within a minute\n", e.peerName, n, want)
	if e.peer == "users-nest" { // nest's SWC builder writes dist/src/...
		js := filepath.Join(dir, "sample-services", e.peer, "dist", strings.TrimSuffix(e.file, ".ts")+".js")
		b, err := os.ReadFile(js)
		fmt.Fprintf(os.Stderr, "reloadbench: %s has the change: %v (%v)\n", js, err == nil && strings.Contains(string(b), strings.TrimSuffix(want, `"`)), err)
	}
	urls := []string{gateway + "/bench/" + e.peer}
	for _, in := range peer.Instances {
		urls = append(urls, fmt.Sprintf("http://127.0.0.1:%d/health", in.Port))
		// who holds the port's connections: the old process, closing, may still answer on the
		// gateway's kept-alive connection while the new one listens
		if out, err := exec.Command("ss", "-tnp", fmt.Sprintf("( sport = :%d )", in.Port)).CombinedOutput(); err == nil {
			fmt.Fprintf(os.Stderr, "reloadbench: connections to the peer's port %d:\n%s", in.Port, out)
		}
	}
	for _, u := range urls {
		resp, err := http.Get(u)
		if err != nil {
			fmt.Fprintf(os.Stderr, "reloadbench: GET %s: %v\n", u, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(os.Stderr, "reloadbench: GET %s: %s %s\n", u, resp.Status, b)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, ".devstack", "*", e.peer+".log"))
	more, _ := filepath.Glob(filepath.Join(dir, ".devstack", e.peer+".log"))
	for _, l := range append(logs, more...) {
		if b, err := os.ReadFile(l); err == nil {
			fmt.Fprintf(os.Stderr, "reloadbench: %s (tail):\n%s\n", l, b[max(0, len(b)-3000):])
		}
	}
}

func must(err error) {
	if err != nil {
		fail(err.Error())
	}
}

// stop ends the copy's devstack (and removes the copy); fail calls it before exiting.
var stop = func() {}

var logPath string // the copy's devstack up output, shown when the bench fails

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "reloadbench:", msg)
	if b, err := os.ReadFile(logPath); err == nil {
		fmt.Fprintf(os.Stderr, "devstack up output (tail):\n%s\n", b[max(0, len(b)-4000):])
	}
	stop()
	os.Exit(1)
}
