// Package schemareg is devstack's schema registry: Confluent Schema Registry's v1 REST API, with the
// schemas kept in the broker's _schemas topic (compacted, one partition) so they survive restarts and
// work the same on any broker. Compatibility rules come from internal/schemas.
package schemareg

// STUB: the server slice implements this package; the signatures below are the contract the stack, the
// CLI and the tests build against. Change them only in agreement with the merger.

import (
	"context"
	"log/slog"

	"github.com/devstack-dev/devstack/internal/schemas"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Options configure a registry. Every field is required except Logger.
type Options struct {
	// Addr is the host:port the REST API listens on (port 0: a free one).
	Addr string
	// Kafka says how to reach the broker (seed brokers, SASL, TLS); the registry adds its own options.
	Kafka []kgo.Opt
	// Topic keeps the schemas ("_schemas"); it is created compacted with one partition when missing.
	Topic string
	// Compatibility is the global level until PUT /config changes it.
	Compatibility schemas.Level
	Logger        *slog.Logger
}

// Registry is a running schema registry.
type Registry struct{}

// Start reads the topic to its end (so every id and version registered before is back), then listens.
// It returns when the API answers; ctx bounds the start only.
func Start(ctx context.Context, o Options) (*Registry, error) { panic("todo") }

// Addr is the host:port the API listens on.
func (r *Registry) Addr() string { panic("todo") }

// URL is the API's base URL (what services get in SCHEMA_REGISTRY_URL).
func (r *Registry) URL() string { panic("todo") }

// Failed delivers an error if the registry stops on its own (its listener or its topic fails).
func (r *Registry) Failed() <-chan error { panic("todo") }

// Close stops the API and the topic reader.
func (r *Registry) Close() error { panic("todo") }

// Error is a registry error with Confluent's error code (40401 subject not found, 409 incompatible,
// 42201 invalid schema, …) and the HTTP status it is served with.
type Error struct {
	Status  int
	Code    int
	Message string
	// Reasons are the compatibility checker's messages (409).
	Reasons []string
}

func (e *Error) Error() string { return e.Message }

// Register registers s under subject as POST /subjects/{subject}/versions does (an identical schema
// returns its existing id and version). Schemas as code (registry.subjects in devstack.yaml) use it.
func (r *Registry) Register(ctx context.Context, subject string, s schemas.Schema, normalize bool) (id, version int, err error) {
	panic("todo")
}

// SetLevel sets subject's compatibility level as PUT /config/{subject} does.
func (r *Registry) SetLevel(ctx context.Context, subject string, l schemas.Level) error {
	panic("todo")
}
