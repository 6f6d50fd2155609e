package event

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Bus holds the stack's state and fans out every change to subscribers.
//
// A new subscriber receives the current snapshot and then every later event, with nothing missed in
// between (both happen under one lock). A subscriber that cannot keep up has its channel closed and must
// subscribe again; the bus never blocks a publisher.
type Bus struct {
	mu    sync.Mutex
	seq   uint64
	state State
	subs  map[chan Event]struct{}
	now   func() time.Time
}

// NewBus returns a bus for the named stack.
func NewBus(name string) *Bus {
	return &Bus{
		state: State{Name: name, StartedAt: time.Now()},
		subs:  map[chan Event]struct{}{},
		now:   time.Now,
	}
}

// Snapshot returns a deep copy of the current state.
func (b *Bus) Snapshot() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.snapshotLocked()
}

func (b *Bus) snapshotLocked() State {
	s := b.state
	s.Components = slices.Clone(b.state.Components)
	s.Services = make([]Service, len(b.state.Services))
	for i, sv := range b.state.Services {
		s.Services[i] = cloneService(sv)
	}
	return s
}

func cloneService(sv Service) Service {
	sv.Instances = slices.Clone(sv.Instances)
	if sv.LastReload != nil {
		r := *sv.LastReload
		r.Timeline = slices.Clone(r.Timeline)
		sv.LastReload = &r
	}
	return sv
}

// Subscribe returns the current state and a channel of every later event. buf is the channel's
// capacity (at least 64 is used). The channel is closed when cancel is called or when the subscriber
// falls behind by more than buf events.
func (b *Bus) Subscribe(buf int) (State, <-chan Event, func()) {
	if buf < 64 {
		buf = 64
	}
	ch := make(chan Event, buf)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs[ch] = struct{}{}
	var once sync.Once
	cancel := func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			if _, ok := b.subs[ch]; ok {
				delete(b.subs, ch)
				close(ch)
			}
		})
	}
	return b.snapshotLocked(), ch, cancel
}

// publishLocked stamps ev and delivers it to every subscriber, dropping the slow ones.
func (b *Bus) publishLocked(ev Event) {
	b.seq++
	ev.Seq = b.seq
	if ev.Time.IsZero() {
		ev.Time = b.now()
	}
	for ch := range b.subs {
		select {
		case ch <- ev:
		default:
			delete(b.subs, ch)
			close(ch)
		}
	}
}

// SetComponent records a component's state (added or replaced by name) and publishes it.
func (b *Bus) SetComponent(c Component) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ev := Event{Kind: KindComponent, Component: &c}
	b.state.Apply(ev)
	b.publishLocked(ev)
}

// SetService records a service's state (added or replaced by name) and publishes it.
func (b *Bus) SetService(s Service) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.setServiceLocked(cloneService(s))
}

func (b *Bus) setServiceLocked(s Service) {
	b.state.Apply(Event{Kind: KindService, Service: &s})
	pub := cloneService(s)
	b.publishLocked(Event{Kind: KindService, Service: &pub})
}

// UpdateService applies fn to the named service's state (a zero Service with that name if it is new)
// and publishes the result.
func (b *Bus) UpdateService(name string, fn func(*Service)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var s Service
	if i := slices.IndexFunc(b.state.Services, func(x Service) bool { return x.Name == name }); i >= 0 {
		s = cloneService(b.state.Services[i])
	} else {
		s = Service{Name: name}
	}
	fn(&s)
	s.Name = name
	b.setServiceLocked(s)
}

// PublishAccess publishes one gateway access record. Access records are not kept in the state.
func (b *Bus) PublishAccess(a Access) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.subs) == 0 {
		b.seq++ // nobody listens: skip the copy (the gateway publishes one per request)
		return
	}
	b.publishAccessLocked(a)
}

// publishAccessLocked is PublishAccess's slow half, kept apart so that only it takes the address
// of its copy of a (the copy escapes to the heap only when there are subscribers).
func (b *Bus) publishAccessLocked(a Access) {
	b.publishLocked(Event{Kind: KindAccess, Access: &a, Time: a.Time})
}

// Notify publishes a stack-level notice (level is info, warn or error).
func (b *Bus) Notify(level, msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.publishLocked(Event{Kind: KindStack, Level: level, Message: msg})
}

// Follow calls onEvent for the current state (as one synthetic event per component and service) and
// then for every later event, until ctx ends. A subscriber that falls behind is resubscribed with a fresh
// snapshot, so onEvent always converges on the current state. It blocks; run it in its own goroutine.
func (b *Bus) Follow(ctx context.Context, buf int, onEvent func(Event)) {
	for ctx.Err() == nil {
		st, ch, cancel := b.Subscribe(buf)
		for _, c := range st.Components {
			onEvent(Event{Kind: KindComponent, Component: &c})
		}
		for _, s := range st.Services {
			onEvent(Event{Kind: KindService, Service: &s})
		}
		b.drain(ctx, ch, onEvent)
		cancel()
	}
}

// drain delivers events from ch until it closes (the subscriber was dropped) or ctx ends.
func (b *Bus) drain(ctx context.Context, ch <-chan Event, onEvent func(Event)) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-ch:
			if !ok {
				return
			}
			onEvent(ev)
		}
	}
}
