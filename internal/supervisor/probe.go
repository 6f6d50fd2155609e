package supervisor

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// prober checks one instance's readiness. check returns nil when ready, else what it saw.
type prober struct {
	probe   Probe
	port    int
	dir     string
	env     []string
	logRe   *regexp.Regexp
	logSeen chan struct{}
	once    sync.Once
	client  *http.Client
	checks  int // how many checks ran (by one goroutine at a time)
}

func newProber(p Probe, port int, dir string, env []string) (*prober, error) {
	pr := &prober{probe: p, port: port, dir: dir, env: env, logSeen: make(chan struct{})}
	if p.Log != "" {
		re, err := regexp.Compile(p.Log)
		if err != nil {
			return nil, fmt.Errorf("ready.log: %w", err)
		}
		pr.logRe = re
	}
	if p.HTTP != "" {
		pr.client = &http.Client{
			Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	return pr, nil
}

// none reports whether there is no probe: the instance is ready once started.
func (pr *prober) none() bool {
	return pr.probe.HTTP == "" && !pr.probe.TCP && pr.probe.Log == "" && pr.probe.Exec == ""
}

// line feeds one output line to a log probe.
func (pr *prober) line(s string) {
	if pr.logRe != nil && pr.logRe.MatchString(s) {
		pr.once.Do(func() { close(pr.logSeen) })
	}
}

// describe names the probe for messages: "http /health on :3001".
func (pr *prober) describe() string {
	switch {
	case pr.probe.HTTP != "":
		return fmt.Sprintf("http %s on :%d", pr.probe.HTTP, pr.port)
	case pr.probe.TCP:
		return fmt.Sprintf("tcp :%d", pr.port)
	case pr.probe.Log != "":
		return fmt.Sprintf("log line matching %q", pr.probe.Log)
	case pr.probe.Exec != "":
		return fmt.Sprintf("exec %q", pr.probe.Exec)
	}
	return "start"
}

func (pr *prober) attemptTimeout() time.Duration {
	return max(2*time.Second, pr.interval())
}

func (pr *prober) interval() time.Duration { return pr.probe.Interval }

func (pr *prober) check(ctx context.Context) error {
	pr.checks++
	ctx, cancel := context.WithTimeout(ctx, pr.attemptTimeout())
	defer cancel()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(pr.port))
	switch {
	case pr.probe.HTTP != "":
		p := pr.probe.HTTP
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+p, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "devstack-probe")
		resp, err := pr.client.Do(req)
		if err != nil {
			return shortNetErr(err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		resp.Body.Close()
		if resp.StatusCode >= 200 && resp.StatusCode < 400 {
			return nil
		}
		msg := fmt.Sprintf("HTTP %d", resp.StatusCode)
		if b := strings.TrimSpace(string(body)); b != "" {
			msg += " " + strconv.Quote(b)
		}
		return fmt.Errorf("%s", msg)
	case pr.probe.TCP:
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return shortNetErr(err)
		}
		c.Close()
		return nil
	case pr.probe.Log != "":
		select {
		case <-pr.logSeen:
			return nil
		default:
			return fmt.Errorf("no matching line yet")
		}
	case pr.probe.Exec != "":
		return runExecProbe(ctx, pr.dir, pr.probe.Exec, pr.env)
	}
	return nil
}

// runExecProbe runs the probe command under the shim and reports its failure with its last output.
func runExecProbe(ctx context.Context, dir, command string, env []string) error {
	tail := newTail(5)
	p, err := startProc(procSpec{Dir: dir, Command: command, Env: env, Stdout: "probe", Stderr: "probe",
		OnLine: func(_, s string) { tail.add(s) }})
	if err != nil {
		return err
	}
	select {
	case <-p.Done():
	case <-ctx.Done():
		p.Kill()
		return fmt.Errorf("timed out")
	}
	if c := p.ExitCode(); c != 0 {
		out := strings.TrimSpace(tail.String())
		if out != "" {
			return fmt.Errorf("exit %d: %s", c, lastLine(out))
		}
		return fmt.Errorf("exit %d", c)
	}
	return nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func shortNetErr(err error) error {
	s := err.Error()
	switch {
	case strings.Contains(s, "connection refused"):
		return fmt.Errorf("connection refused")
	case strings.Contains(s, "deadline exceeded") || strings.Contains(s, "timeout"):
		return fmt.Errorf("no answer (timed out)")
	case strings.Contains(s, "connection reset"):
		return fmt.Errorf("connection reset")
	case strings.Contains(s, "EOF"):
		return fmt.Errorf("connection closed without a response")
	}
	return err
}

// hint explains a common cause of a failed network probe: the service listens on IPv6 loopback only
// (Node resolves "localhost" to ::1), where devstack and the gateway do not look.
func (pr *prober) hint(err error) string {
	if pr.probe.HTTP == "" && !pr.probe.TCP || err == nil || err.Error() != "connection refused" {
		return ""
	}
	c, derr := net.DialTimeout("tcp", net.JoinHostPort("::1", strconv.Itoa(pr.port)), time.Second)
	if derr != nil {
		return ""
	}
	c.Close()
	return fmt.Sprintf("; it listens on [::1]:%d only: listen on 127.0.0.1 or 0.0.0.0 instead", pr.port)
}
