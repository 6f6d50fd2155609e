// Command reloadbench measures hot reloads on the sample services themselves: it runs a copy of the
// sample stack (internal/stackcopy) on free ports, saves a source file of each service several times
// and reads each reload's timeline from `devstack status --json` (save to switch, phase by phase). It
// prints Markdown. The peers (air, `nest start --watch -b swc`, runserver) are not measured here yet:
// bench/core compares them on small apps of its own.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
	"github.com/devstack-dev/devstack/internal/stackcopy"
)

var (
	devstack = flag.String("devstack", "bin/devstack", "devstack binary")
	runs     = flag.Int("runs", 5, "saves per service")
)

// edits are the saved files: a comment appended, so every save builds and replaces the instance.
var edits = []struct{ service, file, comment string }{
	{"scorer", "scorer/cmd/scorer/main.go", "// bench"},
	{"users", "users/src/app.module.ts", "// bench"},
	{"analytics", "analytics/orders/views.py", "# bench"},
}

var phases = []string{"debounce", "setup", "build", "start", "ready", "switch"}

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

	env := os.Environ()
	for _, k := range []string{"CONTROL_PORT", "BROKER_PORT", "POSTGRES_PORT", "GATEWAY_PORT", "GATEWAY_HTTPS_PORT"} {
		env = append(env, fmt.Sprintf("%s=%d", k, freePort()))
	}
	logPath = filepath.Join(dir, "up.log")
	logf, err := os.Create(logPath)
	must(err)
	up := exec.Command(bin, "up", "--no-tui")
	up.Dir, up.Env, up.Stdout, up.Stderr = dir, env, logf, logf
	up.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(up.Start())
	stop = func() {
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

	fmt.Printf("## Hot reload on the sample services\n\n")
	fmt.Printf("A copy of the sample stack; each service's source file saved %d times (a comment appended). Median of "+
		"each reload's timeline from `devstack status --json`: from the first file event to the new instance published to "+
		"the gateway (switch). The drain of the old instance comes after and is not counted.\n\n", *runs)
	fmt.Printf("| service | total | %s |\n|---|---:|%s\n", strings.Join(phases, " | "), strings.Repeat("---:|", len(phases)))
	for _, e := range edits {
		var totals []time.Duration
		per := map[string][]time.Duration{}
		for range *runs {
			prev := service(e.service).LastReload
			f, err := os.OpenFile(filepath.Join(dir, "sample-services", e.file), os.O_APPEND|os.O_WRONLY, 0)
			must(err)
			_, err = fmt.Fprintln(f, e.comment)
			must(err)
			must(f.Close())
			var r *event.Reload
			for end := time.Now().Add(5 * time.Minute); r == nil; time.Sleep(100 * time.Millisecond) {
				if time.Now().After(end) {
					fail("no reload of " + e.service + " within 5 minutes")
				}
				if cur := service(e.service).LastReload; cur != nil && (prev == nil || cur.At.After(prev.At)) {
					if !cur.OK {
						fail(e.service + " reload failed: " + cur.Error)
					}
					r = cur
				}
			}
			totals = append(totals, r.Duration)
			for _, p := range r.Timeline {
				per[p.Name] = append(per[p.Name], p.Took)
			}
			time.Sleep(2 * time.Second) // let the old instance drain
		}
		row := []string{e.service, ms(median(totals))}
		for _, p := range phases {
			row = append(row, ms(median(per[p])))
		}
		fmt.Printf("| %s |\n", strings.Join(row, " | "))
	}
	fmt.Println()
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
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
