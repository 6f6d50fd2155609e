package stack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// Component is one part of the stack: the control API, the broker, the database, the gateway, the
// services, or a part added later (a schema registry after the broker, say). Every part has the same
// lifecycle: Start brings it up and returns once clients can use it, with the addresses they use;
// the returned Running stops it. The stack starts its components in dependency order (parts whose
// dependencies are ready start together), unwinds a failed start and stops them in reverse order.
type Component struct {
	// Name is the part's name on the event bus and in errors.
	Name string
	// After names the components that must be ready before this one starts (it needs their addresses,
	// say). A name that is not a component of this stack is ignored: that part is disabled.
	After []string
	// Hidden parts report no component status on the bus (the services report themselves, one by one).
	Hidden bool
	// Start brings the part up and returns when it is ready. ctx ends when the start is abandoned (the
	// stack is stopping, or another part failed to start): Start then undoes what it began and returns.
	// ctx is for the start only: what keeps running lives until Running.Stop.
	Start func(ctx context.Context) (*Running, error)
}

// Running is a started component.
type Running struct {
	Addr   string // where clients reach it ("" if nowhere)
	Detail string // a short status ("3 topics declared")
	// Problems are what the part refused and the user should fix, while it runs on (a schema file the
	// registry did not register). They show with the component in status and the TUI.
	Problems []string
	// Failed delivers the error of a part that fails while it runs; the stack then stops. nil: it
	// cannot fail on its own.
	Failed <-chan error
	// Stop stops the part and returns when nothing of it runs any more. nil: nothing to stop.
	Stop func() error
}

// lifecycle starts and stops a stack's components. It is the only place that knows the order.
type lifecycle struct {
	comps []Component
	// report receives the status of every component that is not hidden.
	report func(event.Component)
	// warn receives errors of Stop, which do not stop the rest from stopping.
	warn func(name string, err error)

	mu      sync.Mutex
	started []started     // in the order they became ready
	failed  chan error    // runtime failures of started components
	quit    chan struct{} // closed when stop begins
	fwd     sync.WaitGroup
}

type started struct {
	c   Component
	run *Running
}

func newLifecycle(comps []Component, report func(event.Component), warn func(string, error)) *lifecycle {
	if report == nil {
		report = func(event.Component) {}
	}
	if warn == nil {
		warn = func(string, error) {}
	}
	return &lifecycle{comps: comps, report: report, warn: warn, failed: make(chan error, len(comps)), quit: make(chan struct{})}
}

func (l *lifecycle) status(c Component, st event.Status, r *Running, took time.Duration, err error) {
	if c.Hidden {
		return
	}
	ev := event.Component{Name: c.Name, Status: st, StartedIn: took}
	if r != nil {
		ev.Addr, ev.Detail, ev.Problems = r.Addr, r.Detail, r.Problems
	}
	if err != nil {
		ev.Error = err.Error()
	}
	l.report(ev)
}

// start starts every component, each as soon as the components it comes after are ready. When one fails
// to start, or ctx ends, the starts under way are abandoned (their ctx ends) and start returns the
// first failure, named by its component, or ctx's error; what did start is left to stop.
func (l *lifecycle) start(ctx context.Context) error {
	names := map[string]bool{}
	for _, c := range l.comps {
		if names[c.Name] {
			return fmt.Errorf("two components are named %q", c.Name)
		}
		names[c.Name] = true
	}
	sctx, abandon := context.WithCancel(ctx)
	defer abandon()

	type result struct {
		c    Component
		run  *Running
		err  error
		took time.Duration
	}
	results := make(chan result)
	launched := make([]bool, len(l.comps))
	ready := map[string]bool{}
	inflight := 0
	var firstErr error
	for {
		if firstErr == nil && sctx.Err() == nil {
			for i, c := range l.comps {
				if launched[i] || !depsReady(c, names, ready) {
					continue
				}
				launched[i] = true
				inflight++
				l.status(c, event.StatusStarting, nil, 0, nil)
				go func() {
					t0 := time.Now()
					r, err := c.Start(sctx)
					if err == nil && r == nil {
						r = &Running{}
					}
					results <- result{c, r, err, since(t0)}
				}()
			}
		}
		if inflight == 0 {
			break
		}
		res := <-results
		inflight--
		if res.err != nil {
			if sctx.Err() != nil && firstErr == nil && ctx.Err() != nil {
				// abandoned because the stack is stopping: not a failure of this part
				l.status(res.c, event.StatusStopped, nil, 0, nil)
				continue
			}
			if sctx.Err() != nil && firstErr != nil {
				// abandoned because another part failed
				l.status(res.c, event.StatusStopped, nil, 0, nil)
				continue
			}
			err := startError(res.c.Name, res.err)
			l.status(res.c, event.StatusFailed, nil, 0, err)
			firstErr = err
			abandon()
			continue
		}
		l.mu.Lock()
		l.started = append(l.started, started{res.c, res.run})
		l.mu.Unlock()
		l.forward(res.c.Name, res.run.Failed)
		l.status(res.c, event.StatusReady, res.run, res.took, nil)
		ready[res.c.Name] = true
	}
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	var waiting []string
	for i, c := range l.comps {
		if !launched[i] {
			waiting = append(waiting, c.Name)
		}
	}
	if len(waiting) > 0 {
		return fmt.Errorf("components %s wait for each other (After)", strings.Join(waiting, ", "))
	}
	return nil
}

func depsReady(c Component, names, ready map[string]bool) bool {
	for _, d := range c.After {
		if names[d] && !ready[d] {
			return false
		}
	}
	return true
}

// startError names the component in its start error, unless the error already does.
func startError(name string, err error) error {
	msg := err.Error()
	if strings.HasPrefix(msg, name) || strings.HasPrefix(msg, "start "+name) {
		return err
	}
	return fmt.Errorf("start %s: %w", name, err)
}

// forward passes a started component's runtime failure on to Failed, until stop begins.
func (l *lifecycle) forward(name string, failed <-chan error) {
	if failed == nil {
		return
	}
	l.fwd.Add(1)
	go func() {
		defer l.fwd.Done()
		select {
		case <-l.quit:
		case err, ok := <-failed:
			if !ok || err == nil || errors.Is(err, context.Canceled) {
				return
			}
			if !strings.HasPrefix(err.Error(), name) {
				err = fmt.Errorf("%s: %w", name, err)
			}
			select {
			case l.failed <- err:
			default:
			}
		}
	}()
}

// Failed delivers the first runtime failure of a started component.
func (l *lifecycle) Failed() <-chan error { return l.failed }

// stop stops the started components in reverse order of readiness (a part stops before the parts it
// came after), reporting each, and waits until nothing of them runs. It is safe to call more than once.
func (l *lifecycle) stop() {
	l.mu.Lock()
	select {
	case <-l.quit:
	default:
		close(l.quit)
	}
	list := slices.Clone(l.started)
	l.started = nil
	l.mu.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		st := list[i]
		if st.run.Stop != nil {
			if err := st.run.Stop(); err != nil {
				l.warn(st.c.Name, err)
			}
		}
		l.status(st.c, event.StatusStopped, nil, 0, nil)
	}
	l.fwd.Wait()
}

// serve runs f in a goroutine until the returned stop is called. failed delivers f's error if it
// returns one of its own before stop (not a cancellation).
func serve(f func(context.Context) error) (failed <-chan error, stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := f(ctx); err != nil && ctx.Err() == nil {
			ch <- err
		}
	}()
	return ch, func() error {
		cancel()
		<-done
		return nil
	}
}
