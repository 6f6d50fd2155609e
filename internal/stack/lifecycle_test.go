package stack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// recorder is what the fake components and the lifecycle's reports write to: one ordered journal, and the
// parts running now.
type recorder struct {
	mu      sync.Mutex
	journal []string
	running map[string]bool
	events  []event.Component
}

func newRecorder() *recorder { return &recorder{running: map[string]bool{}} }

func (r *recorder) log(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.journal = append(r.journal, fmt.Sprintf(format, a...))
}

func (r *recorder) report(c event.Component) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, c)
}

func (r *recorder) lines(prefix string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, l := range r.journal {
		if strings.HasPrefix(l, prefix) {
			out = append(out, strings.TrimPrefix(l, prefix))
		}
	}
	return out
}

func (r *recorder) stillRunning() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for n, on := range r.running {
		if on {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// statuses is the sequence of statuses reported for name.
func (r *recorder) statuses(name string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if e.Name == name {
			out = append(out, string(e.Status))
		}
	}
	return out
}

func (r *recorder) last(name string) event.Component {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.events) - 1; i >= 0; i-- {
		if r.events[i].Name == name {
			return r.events[i]
		}
	}
	return event.Component{}
}

// fake is a component whose Start runs wait (if any) before it is ready, and fails with err if set.
type fake struct {
	name  string
	after []string
	wait  func(ctx context.Context) error
	err   error
}

func (f fake) component(r *recorder) Component {
	return Component{Name: f.name, After: f.after, Start: func(ctx context.Context) (*Running, error) {
		r.log("start %s", f.name)
		if f.wait != nil {
			if err := f.wait(ctx); err != nil {
				r.log("abandoned %s", f.name)
				return nil, err
			}
		}
		if f.err != nil {
			return nil, f.err
		}
		r.mu.Lock()
		r.running[f.name] = true
		r.mu.Unlock()
		r.log("ready %s", f.name)
		return &Running{Addr: "127.0.0.1:1" + f.name, Detail: "fake " + f.name, Stop: func() error {
			r.mu.Lock()
			r.running[f.name] = false
			r.mu.Unlock()
			r.log("stop %s", f.name)
			return nil
		}}, nil
	}}
}

func fakes(r *recorder, fs ...fake) []Component {
	var cs []Component
	for _, f := range fs {
		cs = append(cs, f.component(r))
	}
	return cs
}

// untilCtx blocks until the start is abandoned.
func untilCtx(ctx context.Context) error {
	<-ctx.Done()
	return context.Cause(ctx)
}

// startWithin fails the test when start does not return in time (a hang).
func startWithin(t *testing.T, ctx context.Context, lc *lifecycle, d time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- lc.start(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("start did not return within %s", d)
		return nil
	}
}

// Components start once what they come after is ready; the ones whose dependencies are ready start
// together (the broker and the database do), and each is reported starting, then ready with its address.
func TestLifecycleStartOrderAndParallelStage(t *testing.T) {
	r := newRecorder()
	// broker and postgres each wait until the other has started: they deadlock unless started together
	brokerIn, pgIn := make(chan struct{}), make(chan struct{})
	meet := func(mine, other chan struct{}) func(context.Context) error {
		return func(ctx context.Context) error {
			close(mine)
			select {
			case <-other:
				time.Sleep(5 * time.Millisecond) // a start time to report
				return nil
			case <-time.After(5 * time.Second):
				return errors.New("started alone: the other one of the stage did not start meanwhile")
			}
		}
	}
	lc := newLifecycle(fakes(r,
		fake{name: "control"},
		fake{name: "broker", after: []string{"control"}, wait: meet(brokerIn, pgIn)},
		fake{name: "postgres", after: []string{"control"}, wait: meet(pgIn, brokerIn)},
		fake{name: "registry", after: []string{"broker"}},
		fake{name: "gateway", after: []string{"control"}},
		fake{name: "services", after: []string{"broker", "postgres", "gateway", "registry", "disabled-part"}},
	), r.report, nil)
	if err := startWithin(t, context.Background(), lc, 10*time.Second); err != nil {
		t.Fatalf("start: %v", err)
	}
	defer lc.stop()

	pos := func(line string) int {
		i := slices.Index(r.lines(""), line)
		if i < 0 {
			t.Fatalf("%q never happened: %q", line, r.lines(""))
		}
		return i
	}
	before := [][2]string{
		{"ready control", "start broker"},
		{"ready control", "start postgres"},
		{"ready control", "start gateway"},
		{"ready broker", "start registry"},
		{"ready broker", "start services"},
		{"ready postgres", "start services"},
		{"ready gateway", "start services"},
		{"ready registry", "start services"},
	}
	for _, b := range before {
		if pos(b[0]) > pos(b[1]) {
			t.Errorf("%q after %q; want before: %q", b[0], b[1], r.lines(""))
		}
	}
	for _, name := range []string{"control", "broker", "postgres", "registry", "gateway", "services"} {
		if got := r.statuses(name); !slices.Equal(got, []string{"starting", "ready"}) {
			t.Errorf("%s reported %q, want starting, ready", name, got)
		}
		c := r.last(name)
		if c.Addr != "127.0.0.1:1"+name || c.Detail != "fake "+name {
			t.Errorf("%s ready with addr %q detail %q", name, c.Addr, c.Detail)
		}
	}
	if c := r.last("broker"); c.StartedIn <= 0 {
		t.Errorf("broker ready without its start time: %+v", c)
	}
}

// A part that fails to start stops the start: the starts under way are abandoned, nothing after it starts,
// what had started is stopped in reverse order, and the failure names the part.
func TestLifecycleFailedStartUnwinds(t *testing.T) {
	r := newRecorder()
	pgStarted := make(chan struct{})
	lc := newLifecycle(fakes(r,
		fake{name: "control"},
		fake{name: "gateway", after: []string{"control"}},
		// postgres is still starting when the broker fails: its start is abandoned
		fake{name: "postgres", after: []string{"control"}, wait: func(ctx context.Context) error { close(pgStarted); return untilCtx(ctx) }},
		fake{name: "broker", after: []string{"control"}, wait: func(context.Context) error { <-pgStarted; return nil }, err: errors.New("port 9092 in use")},
		fake{name: "services", after: []string{"broker", "postgres", "gateway"}},
	), r.report, nil)
	err := startWithin(t, context.Background(), lc, 10*time.Second)
	if err == nil {
		t.Fatal("start succeeded with a failing broker")
	}
	if want := "start broker: port 9092 in use"; err.Error() != want {
		t.Errorf("start error %q, want %q", err, want)
	}
	if c := r.last("broker"); c.Status != event.StatusFailed || !strings.Contains(c.Error, "port 9092 in use") {
		t.Errorf("broker reported %+v, want failed with the error", c)
	}
	if got := r.statuses("postgres"); !slices.Equal(got, []string{"starting", "stopped"}) {
		t.Errorf("postgres (abandoned) reported %q, want starting, stopped", got)
	}
	if got := r.lines("start services"); len(got) > 0 {
		t.Errorf("services started after the broker failed")
	}
	if got := r.statuses("services"); len(got) > 0 {
		t.Errorf("services reported %q without being started", got)
	}

	lc.stop()
	if left := r.stillRunning(); len(left) > 0 {
		t.Errorf("still running after the unwind: %q", left)
	}
	// gateway came after control, so it stops first
	if got, want := r.lines("stop "), []string{"gateway", "control"}; !slices.Equal(got, want) {
		t.Errorf("stopped %q, want %q", got, want)
	}
	if got := r.statuses("gateway"); !slices.Equal(got, []string{"starting", "ready", "stopped"}) {
		t.Errorf("gateway reported %q", got)
	}
}

// Parts stop in reverse order of readiness: a part before the parts it came after.
func TestLifecycleStopsInReverse(t *testing.T) {
	r := newRecorder()
	slow := func(context.Context) error { time.Sleep(50 * time.Millisecond); return nil }
	lc := newLifecycle(fakes(r,
		fake{name: "control"},
		fake{name: "broker", after: []string{"control"}, wait: slow},
		fake{name: "postgres", after: []string{"control"}},
		fake{name: "registry", after: []string{"broker"}},
		fake{name: "services", after: []string{"registry", "postgres"}},
	), r.report, nil)
	if err := startWithin(t, context.Background(), lc, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	lc.stop()
	lc.stop() // a second stop is a no-op
	want := []string{"services", "registry", "broker", "postgres", "control"}
	if got := r.lines("stop "); !slices.Equal(got, want) {
		t.Errorf("stopped %q, want %q", got, want)
	}
	if left := r.stillRunning(); len(left) > 0 {
		t.Errorf("still running: %q", left)
	}
	for _, n := range want {
		if got := r.statuses(n); len(got) == 0 || got[len(got)-1] != "stopped" {
			t.Errorf("%s last reported %q, want stopped", n, got)
		}
	}
}

// When ctx ends while parts are starting, start returns at once with ctx's error, the starts under way
// are abandoned (reported stopped, not failed), and what had started is stopped.
func TestLifecycleCtxEndsMidStart(t *testing.T) {
	r := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hanging := make(chan struct{})
	lc := newLifecycle(fakes(r,
		fake{name: "control"},
		fake{name: "postgres", after: []string{"control"}, wait: func(ctx context.Context) error { close(hanging); return untilCtx(ctx) }},
		// the broker finishes its start although ctx ended: it is stopped too
		fake{name: "broker", after: []string{"control"}, wait: func(context.Context) error { <-hanging; cancel(); time.Sleep(20 * time.Millisecond); return nil }},
		fake{name: "services", after: []string{"broker", "postgres"}},
	), r.report, nil)
	err := startWithin(t, ctx, lc, 5*time.Second)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("start returned %v, want context.Canceled", err)
	}
	if got := r.statuses("postgres"); !slices.Equal(got, []string{"starting", "stopped"}) {
		t.Errorf("postgres reported %q, want starting, stopped", got)
	}
	if len(r.lines("start services")) > 0 {
		t.Errorf("services started after ctx ended")
	}
	lc.stop()
	if left := r.stillRunning(); len(left) > 0 {
		t.Errorf("still running after stop: %q", left)
	}
	if got := r.lines("stop "); !slices.Equal(got, []string{"broker", "control"}) {
		t.Errorf("stopped %q, want broker, control", got)
	}
}

// A part that fails while it runs is reported through Failed, named.
func TestLifecycleRuntimeFailure(t *testing.T) {
	failed := make(chan error, 1)
	lc := newLifecycle([]Component{
		{Name: "gateway", Start: func(context.Context) (*Running, error) { return &Running{Failed: failed}, nil }},
		{Name: "services", Hidden: true, Start: func(context.Context) (*Running, error) { return nil, nil }},
	}, nil, nil)
	if err := lc.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer lc.stop()
	failed <- errors.New("listener closed")
	select {
	case err := <-lc.Failed():
		if err.Error() != "gateway: listener closed" {
			t.Errorf("failure %q, want it named", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the runtime failure was not reported")
	}
}

// Hidden parts report nothing on the bus; a part's start error that names it is not named twice.
func TestLifecycleHiddenAndNamedErrors(t *testing.T) {
	r := newRecorder()
	lc := newLifecycle([]Component{
		{Name: "services", Hidden: true, Start: func(context.Context) (*Running, error) {
			return nil, errors.New("services: web: no command")
		}},
	}, r.report, nil)
	err := lc.start(context.Background())
	if err == nil || err.Error() != "services: web: no command" {
		t.Errorf("start error %v", err)
	}
	if len(r.events) > 0 {
		t.Errorf("a hidden part reported %+v", r.events)
	}
	lc.stop()
}

// Parts that wait for each other are an error, not a hang; so are two parts of one name.
func TestLifecycleBadGraph(t *testing.T) {
	r := newRecorder()
	tests := []struct {
		name  string
		comps []Component
		want  string
	}{
		{"cycle", fakes(r, fake{name: "a"}, fake{name: "b", after: []string{"c"}}, fake{name: "c", after: []string{"b"}}),
			"components b, c wait for each other"},
		{"duplicate", fakes(r, fake{name: "a"}, fake{name: "a"}), `two components are named "a"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lc := newLifecycle(tc.comps, nil, nil)
			defer lc.stop()
			err := startWithin(t, context.Background(), lc, 5*time.Second)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("start error %v, want %q", err, tc.want)
			}
		})
	}
}

// A component's detail counts in words: "1 topic declared", never "1 topics declared".
func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{{0, "0 topics"}, {1, "1 topic"}, {2, "2 topics"}, {12, "12 topics"}} {
		if got := count(tc.n, "topic", "topics"); got != tc.want {
			t.Errorf("count(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
