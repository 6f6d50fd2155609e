// Package control defines the Controller through which UIs and the CLI read and steer a running stack,
// and carries it over a loopback HTTP API.
package control

import (
	"context"
	"errors"

	"github.com/devstack-dev/devstack/internal/event"
)

// Controller is everything a UI may ask of a running stack. The stack implements it in-process; Client
// implements it over the control API so `devstack tui`, `status`, `logs` … attach from another terminal.
type Controller interface {
	// Subscribe returns the current state and every later event until ctx ends. The channel is closed
	// when ctx ends or when the subscriber falls behind; call Subscribe again to resume.
	Subscribe(ctx context.Context) (event.State, <-chan event.Event, error)
	// Snapshot returns the current state.
	Snapshot(ctx context.Context) (event.State, error)
	// Logs returns recent log lines (q.Follow false), or recent lines then a live channel (q.Follow true).
	Logs(ctx context.Context, q LogQuery) ([]event.LogLine, <-chan event.LogLine, error)

	Restart(ctx context.Context, service string) error
	Stop(ctx context.Context, service string) error
	Start(ctx context.Context, service string) error
	Rebuild(ctx context.Context, service string) error

	Topics(ctx context.Context) ([]event.TopicInfo, error)
	Groups(ctx context.Context) ([]event.GroupInfo, error)
	ResetGroup(ctx context.Context, r ResetRequest) error
	// Messages reads a topic from a position without joining any consumer group. With Follow the
	// channel stays open for new records until ctx ends.
	Messages(ctx context.Context, q MessageQuery) (<-chan event.Message, error)
	Produce(ctx context.Context, topic string, msgs []event.Message) error

	Routes(ctx context.Context) ([]event.RouteStats, error)

	// Traces lists the kept traces that match q, newest first. Without telemetry it returns
	// ErrNoTelemetry (wrapped).
	Traces(ctx context.Context, q event.TraceQuery) ([]event.TraceSummary, error)
	// Trace returns every kept span of one trace (ErrNotFound, wrapped, for an unknown id).
	Trace(ctx context.Context, traceID string) ([]event.Span, error)
	// ServiceMetrics lists the OTLP metric series a service exported (the latest point of each), sorted
	// by name. Without telemetry it returns ErrNoTelemetry (wrapped); ErrNotFound for an unknown service.
	ServiceMetrics(ctx context.Context, service string) ([]event.ServiceMetric, error)
}

// ErrNoTelemetry is returned (wrapped) by Traces, Trace and ServiceMetrics when the stack runs no telemetry receiver.
var ErrNoTelemetry = errors.New("this stack runs no telemetry receiver (telemetry.enabled is false in devstack.yaml)")

// LogQuery selects log lines.
type LogQuery struct {
	Source string `json:"source,omitempty"` // service name; "" for all
	Tail   int    `json:"tail,omitempty"`   // how many recent lines (0: all that are kept)
	Follow bool   `json:"follow,omitempty"`
}

// MessageQuery selects where a tap starts reading (defined in event so components can use it).
type MessageQuery = event.MessageQuery

// ResetRequest moves a consumer group's committed offsets. The group must have no active members.
type ResetRequest struct {
	Group  string `json:"group"`
	Topic  string `json:"topic,omitempty"` // "" for every topic the group has offsets for
	To     string `json:"to"`              // "earliest", "latest", "offset"
	Offset int64  `json:"offset,omitempty"`
}
