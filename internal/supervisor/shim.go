package supervisor

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The shim is devstack re-executing itself (env DEVSTACK_SHIM=1) between the supervisor and every
// process it runs. It is the leader of its own process group, starts the real command in a second,
// new process group and stays its parent, as a child subreaper, until the command exits. It:
//   - forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the command's whole group;
//   - kills the command's group, and every descendant that was reparented to it, with SIGKILL as soon
//     as its parent (devstack) dies, however it dies: it holds the read end of a pipe whose write end
//     only devstack holds (EOF means devstack is gone) and it also gets SIGTERM as parent-death
//     signal, confirmed by getppid();
//   - when the command exits, kills what is left of the group and of the reparented descendants, so a
//     service's stray background processes never outlive it;
//   - reports the command's pid and its exit status on a second pipe and exits with the command's
//     status (128+signal when it was killed by a signal).
const (
	envShim         = "DEVSTACK_SHIM"
	envShimPPID     = "DEVSTACK_SHIM_PPID"
	envInstanceID   = "DEVSTACK_INSTANCE_ID"
	envShimGrace    = "DEVSTACK_SHIM_GRACE"
	shimLifeFD      = 3 // read end of the liveness pipe
	shimReportFD    = 4 // write end of the report pipe
	shimReapTimeout = 5 * time.Second
)

// MaybeRunShim turns the process into a supervisor shim when it was started as one (env DEVSTACK_SHIM=1)
// and never returns in that case. Call it first thing in main (and in TestMain of packages that run the
// supervisor); otherwise it returns at once.
func MaybeRunShim() {
	if os.Getenv(envShim) != "1" {
		return
	}
	os.Exit(runShim(os.Args[1:]))
}

func runShim(argv []string) int {
	report := os.NewFile(shimReportFD, "report")
	life := os.NewFile(shimLifeFD, "life")
	if report == nil || life == nil || len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "devstack shim: started without its pipes; this process is internal to devstack")
		return 125
	}
	syscall.CloseOnExec(shimLifeFD)
	syscall.CloseOnExec(shimReportFD)
	fail := func(format string, args ...any) int {
		fmt.Fprintf(report, "err "+format+"\n", args...)
		report.Close()
		return 127
	}

	// The parent may have died between fork and now; the parent-death signal would then never come.
	want, _ := strconv.Atoi(os.Getenv(envShimPPID))
	if want != 0 && os.Getppid() != want {
		return fail("devstack exited before the process started")
	}
	becomeSubreaper()

	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGCHLD)

	env := make([]string, 0, len(os.Environ()))
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, envShim+"=") || strings.HasPrefix(kv, envShimPPID+"=") || strings.HasPrefix(kv, envShimGrace+"=") {
			continue
		}
		env = append(env, kv)
	}
	path := argv[0]
	if !strings.Contains(path, "/") {
		p, err := exec.LookPath(path)
		if err != nil {
			return fail("%s: not found in PATH", path)
		}
		path = p
	}
	proc, err := os.StartProcess(path, argv, &os.ProcAttr{
		Env:   env,
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		return fail("%v", err)
	}
	child := proc.Pid
	fmt.Fprintf(report, "pid %d\n", child)

	lifeGone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, life)
		close(lifeGone)
	}()

	orphaned := func() bool { return want != 0 && os.Getppid() != want }
	status := -1
	var ws syscall.WaitStatus
	reap := func() bool { // reaps every exited child; true once the command itself has exited
		for {
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if err == syscall.EINTR {
				continue
			}
			if pid <= 0 || err != nil {
				return status >= 0
			}
			if pid == child {
				switch {
				case ws.Exited():
					status = ws.ExitStatus()
				case ws.Signaled():
					status = 128 + int(ws.Signal())
				default:
					status = 1
				}
			}
		}
	}
	// After a stop was asked for, the command's leader may exit before the rest of its group has
	// finished shutting down gracefully; they get until the grace period ends (devstack SIGKILLs the
	// group then anyway). A command that exits by itself takes its leftovers with it at once.
	grace, _ := time.ParseDuration(os.Getenv(envShimGrace))
	var termAt time.Time
	groupLeft := func() bool {
		for _, p := range listProcs() {
			if p.pgid == child && p.state != 'Z' {
				return true
			}
		}
		return false
	}
	exited := func() bool {
		if !reap() {
			return false
		}
		return termAt.IsZero() || time.Since(termAt) >= grace || !groupLeft()
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var drain <-chan time.Time
loop:
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGCHLD {
				if exited() {
					break loop
				}
				if status >= 0 && drain == nil {
					t := time.NewTicker(50 * time.Millisecond)
					defer t.Stop()
					drain = t.C
				}
				continue
			}
			if sig == syscall.SIGTERM && orphaned() {
				break loop
			}
			if termAt.IsZero() && sig != syscall.SIGUSR1 && sig != syscall.SIGUSR2 {
				termAt = time.Now()
			}
			_ = syscall.Kill(-child, sig.(syscall.Signal))
		case <-lifeGone:
			break loop
		case <-drain:
			if exited() {
				break loop
			}
		case <-tick.C: // belt and braces: a missed SIGCHLD or parent death
			if exited() || orphaned() {
				break loop
			}
		}
	}
	killAll(child)
	reap()
	if status < 0 {
		status = 128 + int(syscall.SIGKILL)
	}
	fmt.Fprintf(report, "exit %d\n", status)
	report.Close()
	return status
}

// killAll SIGKILLs the command's process group and every remaining descendant (strays: on Linux they
// are reparented to the shim because it is a subreaper), repeating until none is left or a deadline passes.
func killAll(pgid int) {
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	self := os.Getpid()
	deadline := time.Now().Add(shimReapTimeout)
	for time.Now().Before(deadline) {
		kids := strays(self)
		if len(kids) == 0 {
			return
		}
		for _, pid := range kids {
			if pg, err := syscall.Getpgid(pid); err == nil && pg == pid {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if err == syscall.EINTR {
				continue
			}
			if pid <= 0 || err != nil {
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// childrenOf lists the pids whose parent is ppid, zombies included.
func childrenOf(ppid int) []int {
	var out []int
	for _, p := range listProcs() {
		if p.ppid == ppid {
			out = append(out, p.pid)
		}
	}
	return out
}

// readReport parses the shim's report pipe: the command's pid first, its exit status last.
func readReport(r io.Reader, pid chan<- int, errText *string, status *int) {
	sc := bufio.NewScanner(r)
	sentPID := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "pid "):
			n, _ := strconv.Atoi(strings.TrimPrefix(line, "pid "))
			if !sentPID {
				pid <- n
				sentPID = true
			}
		case strings.HasPrefix(line, "err "):
			*errText = strings.TrimPrefix(line, "err ")
		case strings.HasPrefix(line, "exit "):
			n, err := strconv.Atoi(strings.TrimPrefix(line, "exit "))
			if err == nil {
				*status = n
			}
		}
	}
	if !sentPID {
		pid <- 0
	}
}
