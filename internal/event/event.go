// Package event defines the stack's observable state, its events and the bus that carries them to UIs.
package event

import (
	"slices"
	"strings"
	"time"
)

// Status is the lifecycle state of a component, a service or one of its instances.
type Status string

// Statuses, roughly in lifecycle order.
const (
	StatusPending   Status = "pending"   // waiting for dependencies
	StatusSetup     Status = "setup"     // installing dependencies
	StatusBuilding  Status = "building"  // running the build step
	StatusStarting  Status = "starting"  // process started, not yet ready
	StatusReady     Status = "ready"     // readiness probe passed (or no probe)
	StatusBackoff   Status = "backoff"   // waiting before a restart
	StatusStopping  Status = "stopping"  // SIGTERM sent
	StatusStopped   Status = "stopped"   // stopped on purpose
	StatusCompleted Status = "completed" // exited 0 and is not restarted
	StatusFailed    Status = "failed"    // exited non-zero / gave up / never became ready
)

// Component is one piece of infrastructure: broker, postgres, registry, gateway, control.
type Component struct {
	Name      string        `json:"name"`
	Status    Status        `json:"status"`
	Addr      string        `json:"addr,omitempty"`
	Detail    string        `json:"detail,omitempty"`
	StartedIn time.Duration `json:"started_in,omitempty"`
	Error     string        `json:"error,omitempty"`
	// Problems are what a running component refused and the user should fix, one line each
	// ("schemas/orders.avsc:12:5: subject orders-value: ..."); the component still serves. Replaced as a
	// whole, never changed in place.
	Problems []string `json:"problems,omitempty"`
}

// Instance is one running replica of a service.
type Instance struct {
	Replica   int       `json:"replica"`
	PID       int       `json:"pid,omitempty"`
	Port      int       `json:"port,omitempty"`
	Status    Status    `json:"status"`
	Ready     bool      `json:"ready"`
	StartedAt time.Time `json:"started_at,omitempty"`
	Restarts  int       `json:"restarts"`
	ExitCode  int       `json:"exit_code,omitempty"`
	CPU       float64   `json:"cpu,omitempty"` // percent of one core
	RSS       uint64    `json:"rss,omitempty"` // bytes
	// Generation increases each time the instance is replaced by a reload.
	Generation int `json:"generation"`
}

// Reload describes the last hot reload (or rebuild) of a service.
type Reload struct {
	At       time.Time     `json:"at"`
	Duration time.Duration `json:"duration"`
	OK       bool          `json:"ok"`
	Trigger  string        `json:"trigger,omitempty"` // the changed file, or "manual"
	Error    string        `json:"error,omitempty"`   // build output when it failed
	// Timeline is where the time went, phase by phase in order: debounce (first file event to the
	// deploy's start), setup (the setup check, and setup when its inputs changed), build, start
	// (spawning the new process), ready (until its readiness probe passed), switch (until the new
	// instance was published to the gateway) and, once it is done, drain (until the old one stopped).
	Timeline []Phase `json:"timeline,omitempty"`
}

// FormatTimeline renders phases as "debounce 200ms · build 812ms · ready 95ms (3 probes)".
func FormatTimeline(ps []Phase) string {
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		s := p.Name + " " + p.Took.Round(time.Millisecond).String()
		if p.Note != "" {
			s += " (" + p.Note + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " · ")
}

// Phase is one step of a reload's timeline.
type Phase struct {
	Name string        `json:"name"`
	Took time.Duration `json:"took"`
	Note string        `json:"note,omitempty"` // "skipped", "3 probes", ...
}

// Service is the state of one configured service and its replicas.
type Service struct {
	Name       string        `json:"name"`
	Status     Status        `json:"status"`
	Replicas   int           `json:"replicas"`
	Instances  []Instance    `json:"instances,omitempty"`
	Restarts   int           `json:"restarts"`
	LastReload *Reload       `json:"last_reload,omitempty"`
	Error      string        `json:"error,omitempty"`
	StartedIn  time.Duration `json:"started_in,omitempty"`
}

// Ready reports whether at least one instance is ready (or the service completed).
func (s Service) Ready() bool {
	if s.Status == StatusCompleted {
		return true
	}
	for _, in := range s.Instances {
		if in.Ready {
			return true
		}
	}
	return false
}

// State is a snapshot of the whole stack.
type State struct {
	Name       string      `json:"name"`
	StartedAt  time.Time   `json:"started_at"`
	Components []Component `json:"components"`
	Services   []Service   `json:"services"`
}

// Service returns the named service's state.
func (s State) Service(name string) (Service, bool) {
	for _, sv := range s.Services {
		if sv.Name == name {
			return sv, true
		}
	}
	return Service{}, false
}

// Component returns the named component's state.
func (s State) Component(name string) (Component, bool) {
	for _, c := range s.Components {
		if c.Name == name {
			return c, true
		}
	}
	return Component{}, false
}

// Kind says what an Event carries.
type Kind string

// Event kinds.
const (
	KindComponent Kind = "component" // Component is set
	KindService   Kind = "service"   // Service is set
	KindAccess    Kind = "access"    // Access is set
	KindStack     Kind = "stack"     // Message is set: stack-level notices (ready, stopping, errors)
)

// Event is one change to the stack's state, or one notable occurrence.
type Event struct {
	Seq       uint64     `json:"seq"`
	Time      time.Time  `json:"time"`
	Kind      Kind       `json:"kind"`
	Component *Component `json:"component,omitempty"`
	Service   *Service   `json:"service,omitempty"`
	Access    *Access    `json:"access,omitempty"`
	Message   string     `json:"message,omitempty"`
	Level     string     `json:"level,omitempty"` // for KindStack: info, warn, error
}

// Access is one request through the gateway.
type Access struct {
	Time      time.Time     `json:"time"`
	RequestID string        `json:"request_id"`
	Method    string        `json:"method"`
	Host      string        `json:"host,omitempty"`
	Path      string        `json:"path"`
	Route     string        `json:"route,omitempty"`
	Service   string        `json:"service,omitempty"`
	Upstream  string        `json:"upstream,omitempty"`
	Status    int           `json:"status"`
	Latency   time.Duration `json:"latency"`
	Bytes     int64         `json:"bytes"`
	Subject   string        `json:"subject,omitempty"` // authenticated JWT subject
	Auth      string        `json:"auth,omitempty"`    // decision: none, ok, missing, invalid: …, forbidden: …
	ClientIP  string        `json:"client_ip,omitempty"`
	// TraceID is the trace of the request's span ("" when tracing is off).
	TraceID string `json:"trace_id,omitempty"`
}

// Apply folds a state-changing event (a component or a service, added or replaced by name) into s and
// reports whether it was one; other kinds leave s alone. The bus and every UI keep state this way.
func (s *State) Apply(ev Event) bool {
	switch {
	case ev.Kind == KindComponent && ev.Component != nil:
		s.Components = upsert(s.Components, *ev.Component, func(c Component) string { return c.Name })
	case ev.Kind == KindService && ev.Service != nil:
		s.Services = upsert(s.Services, *ev.Service, func(sv Service) string { return sv.Name })
	default:
		return false
	}
	return true
}

func upsert[T any](xs []T, x T, name func(T) string) []T {
	if i := slices.IndexFunc(xs, func(y T) bool { return name(y) == name(x) }); i >= 0 {
		xs[i] = x
		return xs
	}
	return append(xs, x)
}
