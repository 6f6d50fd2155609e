// Command corebench measures devstack's start-up (cold and warm, per component) and its hot-reload
// latency for a Go, a NestJS and a Django service against the tool a user would otherwise use (air,
// `nest start --watch`, Django's runserver autoreloader), in one run on one machine. It prints Markdown.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/devstack-dev/devstack/bench/benchkit"
)

var (
	devstack = flag.String("devstack", "bin/devstack", "devstack binary")
	appsDir  = flag.String("apps", "bench/core/apps", "benchmark apps")
	work     = flag.String("work", "", "scratch directory (default: a temp dir)")
	runs     = flag.Int("runs", 5, "edits per reload measurement")
	starts   = flag.Int("starts", 3, "start-ups per start measurement")
	airBin   = flag.String("air", "", "air binary (Go peer)")
	python   = flag.String("python", "python3", "python with Django installed")
)

func main() {
	flag.Parse()
	var err error
	*devstack, _ = filepath.Abs(*devstack)
	*appsDir, _ = filepath.Abs(*appsDir)
	if *work == "" {
		*work, err = os.MkdirTemp("", "corebench")
		must(err)
		defer os.RemoveAll(*work)
	}
	fmt.Printf("## Start-up and hot reload (devstack core)\n\n")
	fmt.Printf("Measured %s on %d cores (%s/%s). Medians; each figure's peer runs in the same session.\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	startup()
	reload()
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "corebench:", err)
		os.Exit(1)
	}
}

var (
	freePort = benchkit.FreePort
	median   = benchkit.Median
	ms       = benchkit.MS
)

func copyDir(src, dst string) {
	cmd := exec.Command("cp", "-a", src+"/.", dst)
	must(os.MkdirAll(dst, 0o755))
	out, err := cmd.CombinedOutput()
	if err != nil {
		must(fmt.Errorf("cp %s: %v: %s", src, err, out))
	}
}

// ---- start-up ----

const startYAML = `name: benchcore
control: {port: %d}
broker: {port: %d, topics: {orders: {partitions: 3}}}
postgres: {port: %d}
gateway: {http_port: %d, https_port: -1, routes: [{path: /, service: hello}]}
registry: %s
telemetry: {http_port: 0, grpc_port: 0}
services:
  hello:
    dir: hello
    build: go build -o bin/hello .
    command: ./bin/hello
    database: true
    ready: {http: /}
`

type status struct {
	Components []struct {
		Name      string
		StartedIn time.Duration `json:"started_in"`
	}
	Services []struct {
		Name      string
		StartedIn time.Duration `json:"started_in"`
	}
}

// upOnce starts devstack up in dir, returns time to "all ready" and the per-component breakdown.
func upOnce(dir string, env []string) (time.Duration, map[string]time.Duration) {
	cmd := exec.Command(*devstack, "up", "--no-tui")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, "NO_COLOR=1")
	out, err := cmd.StdoutPipe()
	must(err)
	cmd.Stderr = cmd.Stdout
	t0 := time.Now()
	must(cmd.Start())
	ready := make(chan time.Duration, 1)
	var (
		mu      sync.Mutex
		readyAt = map[string]time.Duration{} // when up printed "✓ NAME" first, from exec
	)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			log.WriteString(line + "\n")
			if _, rest, ok := strings.Cut(line, "✓ "); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					mu.Lock()
					if _, seen := readyAt[f[0]]; !seen {
						readyAt[f[0]] = time.Since(t0)
					}
					mu.Unlock()
				}
			}
			if strings.Contains(line, "all ready") {
				ready <- time.Since(t0)
			}
		}
	}()
	var took time.Duration
	select {
	case took = <-ready:
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		must(fmt.Errorf("devstack up not ready after 3 minutes:\n%s", log.String()))
	}
	st := exec.Command(*devstack, "status", "--json")
	st.Dir = dir
	b, err := st.Output()
	must(err)
	var s status
	must(json.Unmarshal(b, &s))
	parts := map[string]time.Duration{}
	// infra ready: the last component of the infrastructure (broker, PostgreSQL, registry, telemetry,
	// gateway, ...) reported ready; the services wait for it.
	mu.Lock()
	for _, c := range s.Components {
		parts[c.Name] = c.StartedIn
		if at, ok := readyAt[c.Name]; ok && at > parts["infra"] {
			parts["infra"] = at
		}
	}
	mu.Unlock()
	for _, sv := range s.Services {
		parts["service "+sv.Name] = sv.StartedIn
	}
	cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
	}
	return took, parts
}

func startup() {
	base := filepath.Join(*work, "startup")
	type row struct {
		name     string
		registry bool // the schema registry runs (the default); the other rows turn it off
		fresh    bool // a new .devstack, with the initdb template cached by the cold run
		total    []time.Duration
		parts    map[string][]time.Duration
	}
	cold := &row{name: "cold: new stack, no initdb template cached", registry: true, fresh: true}
	fresh := &row{name: "fresh: new stack, template cached", registry: true, fresh: true}
	warm := &row{name: "warm: existing .devstack", registry: true}
	freshOff := &row{name: "fresh, `registry: {enabled: false}`", fresh: true}
	warmOff := &row{name: "warm, `registry: {enabled: false}`"}
	rows := []*row{cold, fresh, warm, freshOff, warmOff}
	for _, r := range rows {
		r.parts = map[string][]time.Duration{}
	}
	for i := 0; i < *starts; i++ {
		dir := filepath.Join(base, fmt.Sprint(i))
		copyDir(filepath.Join(*appsDir, "go"), filepath.Join(dir, "hello"))
		control, broker, pg, gw, reg := freePort(), freePort(), freePort(), freePort(), freePort()
		// a fresh devstack cache (no initdb template) for the cold run; the Go build cache stays warm, as on
		// any developer's machine. Under /var/tmp: as root, postgres runs as an unprivileged user that must
		// be able to reach the cache.
		cache := fmt.Sprintf("/var/tmp/devstack-corebench-%d-%d", os.Getpid(), i)
		defer os.RemoveAll(cache)
		env := []string{"DEVSTACK_CACHE_DIR=" + cache}
		// the registry's on and off rows take turns going first, so neither always starts after the other
		order := []*row{cold, fresh, warm, freshOff, warmOff}
		if i%2 == 1 {
			order = []*row{cold, freshOff, warmOff, fresh, warm}
		}
		for _, r := range order {
			registry := fmt.Sprintf("{port: %d}", reg)
			if !r.registry {
				registry = "{enabled: false}"
			}
			must(os.WriteFile(filepath.Join(dir, "devstack.yaml"), []byte(fmt.Sprintf(startYAML, control, broker, pg, gw, registry)), 0o644))
			if r.fresh && r != cold { // a new stack that finds the template cached by the cold run
				os.RemoveAll(filepath.Join(dir, ".devstack"))
			}
			t, parts := upOnce(dir, env)
			r.total = append(r.total, t)
			for k, v := range parts {
				r.parts[k] = append(r.parts[k], v)
			}
		}
	}
	fmt.Printf("### `devstack up` to all-ready\n\n")
	fmt.Printf("Stack: broker (1 declared topic), PostgreSQL (1 service database), schema registry (no subjects), OTLP receiver, gateway (1 route), one Go service (build + HTTP probe). %d runs each; the rows with and without the registry take turns going first.\n\n", *starts)
	fmt.Printf("Broker and PostgreSQL start in parallel, then the registry (after the broker), the receiver and the gateway; \"infra ready\" is from exec to the last of them ready (the services wait for all of them). Each component's column is its own start.\n\n")
	fmt.Printf("| start | total | infra ready | broker | postgres | registry | gateway | service (build+start+ready) |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		reg := "off"
		if r.registry {
			reg = ms(median(r.parts["registry"]))
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.name, ms(median(r.total)), ms(median(r.parts["infra"])), ms(median(r.parts["broker"])),
			ms(median(r.parts["postgres"])), reg, ms(median(r.parts["gateway"])), ms(median(r.parts["service hello"])))
	}
	fmt.Println()
	for _, p := range [][2]*row{{fresh, freshOff}, {warm, warmOff}} {
		fmt.Printf("- infra ready, %s vs %s: %+.1f ms (median of the per-run differences)\n", p[0].name, p[1].name, pairedDiff(p[0].parts["infra"], p[1].parts["infra"]))
	}
	fmt.Println()
}

// pairedDiff is the median over runs of a[i]-b[i] in milliseconds: the two rows ran back to back in
// each run, so the difference cancels what the shared machine did in between runs.
func pairedDiff(a, b []time.Duration) float64 {
	n := min(len(a), len(b))
	if n == 0 {
		return 0
	}
	d := make([]time.Duration, n)
	for i := range n {
		d[i] = a[i] - b[i]
	}
	return float64(median(d)) / float64(time.Millisecond)
}

// ---- hot reload ----

type reloadCase struct {
	lang     string
	app      string // dir under apps
	file     string // file edited, relative to app
	devYAML  string // service definition for devstack
	peerName string
	peer     func(dir string, port int) *exec.Cmd
	setup    func(dir string)
}

func reload() {
	cases := []reloadCase{
		{
			lang: "Go", app: "go", file: "main.go", peerName: "air",
			devYAML: `    build: go build -o bin/hello .
    command: ./bin/hello
    watch: {include: ["**/*.go"]}`,
			peer: func(dir string, port int) *exec.Cmd {
				toml := "root = \".\"\ntmp_dir = \"tmp\"\n[build]\ncmd = \"go build -o ./tmp/hello .\"\nbin = \"./tmp/hello\"\ninclude_ext = [\"go\"]\ndelay = 200\n[log]\nmain_only = true\n"
				must(os.WriteFile(filepath.Join(dir, ".air.toml"), []byte(toml), 0o644))
				return exec.Command(*airBin, "-c", ".air.toml")
			},
		},
		{
			lang: "NestJS (tsc)", app: "nest", file: "src/app.controller.ts", peerName: "nest start --watch",
			devYAML: `    build: ./node_modules/.bin/tsc -p tsconfig.json
    command: node dist/main.js
    watch: {paths: [src]}`,
			peer: func(dir string, port int) *exec.Cmd {
				return exec.Command("./node_modules/.bin/nest", "start", "--watch")
			},
		},
		{
			lang: "NestJS (swc)", app: "nest", file: "src/app.controller.ts", peerName: "nest start --watch -b swc",
			devYAML: `    build: ./node_modules/.bin/swc src -d dist --strip-leading-paths -q
    command: node dist/main.js
    watch: {paths: [src]}`,
			peer: func(dir string, port int) *exec.Cmd {
				return exec.Command("./node_modules/.bin/nest", "start", "--watch", "-b", "swc")
			},
		},
		{
			lang: "Django", app: "django", file: "benchapp/views.py", peerName: "manage.py runserver",
			devYAML: `    command: exec ` + *python + ` manage.py runserver --noreload 127.0.0.1:$PORT
    watch: {include: ["**/*.py"]}`,
			peer: func(dir string, port int) *exec.Cmd {
				return exec.Command(*python, "manage.py", "runserver", fmt.Sprintf("127.0.0.1:%d", port))
			},
		},
	}
	fmt.Printf("### Hot reload: file saved → new code answers HTTP\n\n")
	fmt.Printf("Each of %d edits rewrites the handler's version string, then polls every 2 ms until the new string is served "+
		"(through devstack's gateway for devstack; directly for the peer). air is given the same 200 ms debounce as devstack "+
		"(its default is 1 s). For NestJS both sides are measured with the TypeScript compiler (devstack: `tsc` with incremental build info, a fresh process per change; nest: tsc in watch mode) and with SWC (no type check; `swc` vs `nest start --watch -b swc`). Django runs `runserver --noreload` and devstack restarts it. These small apps run without `watch.warm` (a fresh process per reload): the sample services, with a warm standby, are measured in \"Hot reload on the sample services\" (bench/reload).\n\n", *runs)
	fmt.Printf("| service | devstack | peer | peer median | ratio devstack/peer |\n|---|---|---|---|---|\n")
	for _, c := range cases {
		if c.lang == "Go" && *airBin == "" {
			fmt.Printf("| %s | - | %s | not installed | - |\n", c.lang, c.peerName)
			continue
		}
		dev := measureDevstack(c)
		peer := measurePeer(c)
		ratio := "-"
		if peer > 0 && dev > 0 {
			ratio = fmt.Sprintf("%.2f", float64(dev)/float64(peer))
		}
		fmt.Printf("| %s | %s | %s | %s | %s |\n", c.lang, ms(dev), c.peerName, ms(peer), ratio)
	}
	fmt.Println()
}

func prepApp(c reloadCase, name string) string {
	dir := filepath.Join(*work, "reload", c.app+"-"+name)
	os.RemoveAll(dir)
	copyDir(filepath.Join(*appsDir, c.app), dir)
	if c.app == "nest" {
		// share the installed node_modules instead of copying them per run
		os.RemoveAll(filepath.Join(dir, "node_modules"))
		must(os.Symlink(filepath.Join(*appsDir, "nest", "node_modules"), filepath.Join(dir, "node_modules")))
	}
	return dir
}

func waitBody(url, want string, timeout time.Duration) (time.Duration, bool) {
	d, ok, _ := benchkit.Poll(url, want, 2*time.Millisecond, timeout)
	return d, ok
}

// edits rewrites the version marker runs times and measures until served.
func edits(file, url string) time.Duration {
	var ds []time.Duration
	b, err := os.ReadFile(file)
	must(err)
	cur := "v0"
	for i := 1; i <= *runs; i++ {
		next := fmt.Sprintf("v%d", i)
		b = []byte(strings.Replace(string(b), cur, next, 1))
		time.Sleep(500 * time.Millisecond) // let the tool settle after the previous reload
		must(os.WriteFile(file, b, 0o644))
		d, ok := waitBody(url, next, 90*time.Second)
		if !ok {
			fmt.Fprintf(os.Stderr, "corebench: %s never served %s\n", url, next)
			return 0
		}
		ds = append(ds, d)
		cur = next
	}
	return median(ds)
}

func measureDevstack(c reloadCase) time.Duration {
	dir := prepApp(c, "devstack")
	root := filepath.Dir(dir)
	stackDir := filepath.Join(root, c.app+"-stack")
	os.RemoveAll(stackDir)
	must(os.MkdirAll(stackDir, 0o755))
	must(os.Rename(dir, filepath.Join(stackDir, "app")))
	gw := freePort()
	yaml := fmt.Sprintf("name: reload\ncontrol: {port: %d}\nbroker: {enabled: false}\npostgres: {enabled: false}\ntelemetry: {http_port: 0, grpc_port: 0}\n"+
		"gateway: {http_port: %d, https_port: -1, routes: [{path: /, service: app}]}\nservices:\n  app:\n    dir: app\n%s\n    ready: {http: /}\n",
		freePort(), gw, c.devYAML)
	must(os.WriteFile(filepath.Join(stackDir, "devstack.yaml"), []byte(yaml), 0o644))
	cmd := exec.Command(*devstack, "up", "--no-tui")
	cmd.Dir = stackDir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	must(cmd.Start())
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	url := fmt.Sprintf("http://127.0.0.1:%d/", gw)
	if _, ok := waitBody(url, "v0", 3*time.Minute); !ok {
		fmt.Fprintf(os.Stderr, "corebench: devstack %s never served v0\n", c.lang)
		return 0
	}
	return edits(filepath.Join(stackDir, "app", c.file), url)
}

func measurePeer(c reloadCase) time.Duration {
	dir := prepApp(c, "peer")
	port := freePort()
	cmd := c.peer(dir, port)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port))
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(cmd.Start())
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}()
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if _, ok := waitBody(url, "v0", 3*time.Minute); !ok {
		fmt.Fprintf(os.Stderr, "corebench: %s never served v0\n", c.peerName)
		return 0
	}
	return edits(filepath.Join(dir, c.file), url)
}
