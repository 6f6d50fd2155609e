package proxy

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/devstack-dev/devstack/internal/event"
)

// instance is one upstream process.
type instance struct {
	id, addr  string
	ready     atomic.Bool
	inFlight  atomic.Int64
	downUntil atomic.Int64 // unix nanos; passive health: refused connections take it out until then
	failures  atomic.Int32
	conns     connPool    // idle kept-alive connections
	gone      atomic.Bool // removed from its pool: the fast path closes its idle connections
}

const (
	downMin = 250 * time.Millisecond
	downMax = 5 * time.Second
)

func (in *instance) healthy(now int64) bool { return in.downUntil.Load() <= now }

// markDown takes the instance out after a connection failure, with doubling backoff.
func (in *instance) markDown() {
	n := in.failures.Add(1)
	d := downMin << min(n-1, 5)
	d = min(d, downMax)
	in.downUntil.Store(time.Now().Add(d).UnixNano())
}

func (in *instance) markUp() {
	if in.failures.Load() != 0 || in.downUntil.Load() != 0 {
		in.failures.Store(0)
		in.downUntil.Store(0)
	}
}

// pool is the set of instances of one service. It outlives config reloads.
type pool struct {
	service string
	mu      sync.Mutex
	list    atomic.Pointer[[]*instance] // copy-on-write
	changed chan struct{}               // closed and replaced on every change
	rr      atomic.Uint64
	// noneComing says why no instance will become ready without a user's action (the service failed
	// for good, was stopped or completed); nil while one may still come. Waiting requests then end at
	// once instead of after wait_ready.
	noneComing atomic.Pointer[string]
}

func newPool(service string) *pool {
	p := &pool{service: service, changed: make(chan struct{})}
	p.list.Store(&[]*instance{})
	return p
}

// set replaces the instance list, keeping state (in-flight, health) of instances that stay.
func (p *pool) set(ups []Upstream) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.list.Load()
	byKey := make(map[string]*instance, len(old))
	for _, in := range old {
		byKey[in.id+"\x00"+in.addr] = in
	}
	next := make([]*instance, 0, len(ups))
	for _, u := range ups {
		if u.Addr == "" {
			continue
		}
		in := byKey[u.ID+"\x00"+u.Addr]
		if in == nil {
			in = &instance{id: u.ID, addr: u.Addr}
		} else if u.Ready && !in.ready.Load() {
			in.failures.Store(0)
			in.downUntil.Store(0)
		}
		in.ready.Store(u.Ready)
		next = append(next, in)
	}
	p.list.Store(&next)
	for _, in := range old {
		if !slices.Contains(next, in) {
			in.gone.Store(true)
			in.conns.closeAll()
		}
	}
	close(p.changed)
	p.changed = make(chan struct{})
}

// SetNoneComing tells the gateway that no instance of service will become ready until something
// changes (why says what, e.g. "it failed"): requests to it that find no ready instance get 503 at
// once instead of waiting wait_ready. An empty why clears it (the service is starting again).
func (g *Gateway) SetNoneComing(service, why string) {
	g.pool(service).setNoneComing(why)
}

func (p *pool) setNoneComing(why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if why == "" {
		p.noneComing.Store(nil)
	} else {
		p.noneComing.Store(&why)
	}
	close(p.changed)
	p.changed = make(chan struct{})
}

// unavailable is the 503 text when acquire found no instance after waiting up to wait.
func (p *pool) unavailable(wait time.Duration) string {
	if why := p.noneComing.Load(); why != nil {
		return fmt.Sprintf("service %q has no ready instance and none is coming (%s); check `devstack status` and its logs", p.service, *why)
	}
	return fmt.Sprintf("service %q has no ready instance (waited %s); check `devstack status` and its logs", p.service, wait)
}

func (p *pool) changedCh() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

// pick chooses a ready, healthy instance not in skip. It returns nil when none is available.
func (p *pool) pick(leastConn bool, skip *instance) *instance {
	list := *p.list.Load()
	n := len(list)
	if n == 0 {
		return nil
	}
	var now int64 // read lazily: only instances taken out by passive health need the clock
	start := int(p.rr.Add(1) % uint64(n))
	var best *instance
	for i := 0; i < n; i++ {
		in := list[(start+i)%n]
		if in == skip || !in.ready.Load() {
			continue
		}
		if du := in.downUntil.Load(); du != 0 {
			if now == 0 {
				now = time.Now().UnixNano()
			}
			if du > now {
				continue
			}
		}
		if !leastConn {
			return in
		}
		if best == nil || in.inFlight.Load() < best.inFlight.Load() {
			best = in
		}
	}
	return best
}

// acquire waits (bounded by wait and ctx) until an instance can be picked.
func (p *pool) acquire(ctx context.Context, leastConn bool, skip *instance, wait time.Duration) *instance {
	if in := p.pick(leastConn, skip); in != nil {
		return in
	}
	deadline := time.Now().Add(wait)
	timer := time.NewTimer(0)
	<-timer.C
	defer timer.Stop()
	for {
		ch := p.changedCh()
		if in := p.pick(leastConn, skip); in != nil {
			return in
		}
		if skip != nil {
			// after a failure, another try may go back to the same instance once it is retried
			if in := p.pick(leastConn, nil); in != nil {
				return in
			}
		}
		left := time.Until(deadline)
		if left <= 0 || p.noneComing.Load() != nil {
			return nil
		}
		// wake on a change, or periodically to re-check instances taken out by passive health
		timer.Reset(min(left, downMin))
		select {
		case <-ch:
			if !timer.Stop() {
				<-timer.C
			}
		case <-timer.C:
		case <-ctx.Done():
			return nil
		}
	}
}

func (p *pool) info() []event.UpstreamInfo {
	list := *p.list.Load()
	now := time.Now().UnixNano()
	out := make([]event.UpstreamInfo, 0, len(list))
	for _, in := range list {
		out = append(out, event.UpstreamInfo{Addr: in.addr, Ready: in.ready.Load(), Healthy: in.healthy(now), InFlight: in.inFlight.Load()})
	}
	return out
}
