// Package telemetry starts the OpenTelemetry SDK from the standard environment variables, the way
// devstack configures every service: OTEL_EXPORTER_OTLP_ENDPOINT (OTLP over HTTP/protobuf),
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES. Without an endpoint (or with OTEL_SDK_DISABLED=true)
// nothing is exported and the scorer runs as before.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Telemetry is the scorer's tracer provider and propagator; Provider is nil when tracing is off.
type Telemetry struct {
	Provider   *sdktrace.TracerProvider
	Propagator propagation.TextMapPropagator
}

// Enabled reports whether the environment asks for spans to be exported.
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Start builds the SDK when Enabled and installs it as the global tracer provider and propagator (W3C
// trace context and baggage). The exporter batches in the background (OTEL_BSP_* tune it) and connects
// lazily, so starting never waits for the receiver.
func Start(ctx context.Context) (*Telemetry, error) {
	if !Enabled(os.Getenv) {
		return &Telemetry{}, nil
	}
	exp, err := otlptracehttp.New(ctx) // endpoint, headers, timeout from OTEL_EXPORTER_OTLP_*
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP exporter (check OTEL_EXPORTER_OTLP_ENDPOINT): %w", err)
	}
	// resource.Default: OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and the SDK's own attributes.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(resource.Default()))
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(prop)
	return &Telemetry{Provider: tp, Propagator: prop}, nil
}

// TracerProvider is the provider to hand to instrumentations: the SDK's, or the global no-op one.
func (t *Telemetry) TracerProvider() trace.TracerProvider {
	if t.Provider == nil {
		return otel.GetTracerProvider()
	}
	return t.Provider
}

// Shutdown exports the spans still buffered; ctx bounds how long it may take.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t.Provider == nil {
		return nil
	}
	if err := t.Provider.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("telemetry: flush spans: %w", err)
	}
	return nil
}
