// Command scorer scores orders for risk in real time: orders.placed in, orders.scored out.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/plugin/kotel"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/devstack-dev/devstack/sample-services/scorer/internal/codec"
	"github.com/devstack-dev/devstack/sample-services/scorer/internal/events"
	"github.com/devstack-dev/devstack/sample-services/scorer/internal/pipeline"
	"github.com/devstack-dev/devstack/sample-services/scorer/internal/risk"
	"github.com/devstack-dev/devstack/sample-services/scorer/internal/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: logLevel(os.Getenv("LOG_LEVEL"))}))
	if err := run(ctx, log); err != nil {
		log.Error("scorer stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	brokers := splitList(getenv("KAFKA_BROKERS", "127.0.0.1:9092"))
	addr := net.JoinHostPort(getenv("HOST", "127.0.0.1"), getenv("PORT", "0"))
	group := getenv("SCORER_GROUP", "scorer")

	// Traces go to OTEL_EXPORTER_OTLP_ENDPOINT (devstack sets it); without it nothing is exported.
	tel, err := telemetry.Start(ctx)
	if err != nil {
		return err
	}
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := tel.Shutdown(flushCtx); err != nil {
			log.Warn("spans not exported", "err", err)
		}
	}()
	var tracer *kotel.Tracer
	if tel.Provider != nil {
		tracer = kotel.NewTracer(kotel.TracerProvider(tel.Provider), kotel.TracerPropagator(tel.Propagator),
			kotel.ClientID("scorer"), kotel.ConsumerGroup(group))
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	scorer := risk.New(risk.DefaultConfig())
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "scorer_tracked_users", Help: "Users with a sliding window in memory.",
	}, func() float64 { return float64(scorer.Users()) }))

	// devstack injects SCHEMA_REGISTRY_URL (registry: in devstack.yaml) and registers the schema files.
	cdc, err := codec.New(codec.Options{
		RegistryURL:   os.Getenv("SCHEMA_REGISTRY_URL"),
		ScoredSubject: events.SubjectScored,
		RefreshEvery:  5 * time.Second, // a newly registered version of orders.scored is used within 5 s
	})
	if err != nil {
		return err
	}
	p, err := pipeline.New(pipeline.Options{
		Brokers: brokers,
		Codec:   cdc,
		Group:   group,
		Scorer:  scorer,
		Metrics: pipeline.NewMetrics(reg),
		Logger:  log,
		Tracer:  tracer,
	})
	if err != nil {
		return err
	}
	defer p.Close()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (PORT): %w", addr, err)
	}
	// A server span per request (continuing an incoming traceparent), not for probes and scrapes.
	handler := otelhttp.NewHandler(routes(p, reg, risk.DefaultConfig()), "scorer",
		otelhttp.WithTracerProvider(tel.TracerProvider()),
		otelhttp.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/health" && r.URL.Path != "/metrics" }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 2)
	go func() {
		log.Info("http listening", "addr", ln.Addr().String())
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http server: %w", err)
		}
	}()
	go func() { errc <- p.Run(ctx) }()

	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	log.Info("scorer stopped")
	return err
}

func routes(p *pipeline.Pipeline, reg *prometheus.Registry, rules risk.Config) http.Handler {
	mux := http.NewServeMux()
	// Routed by the gateway (/api/scorer/**): what the scorer does, for humans and dashboards.
	mux.HandleFunc("GET /api/scorer/rules", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rules)
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		status, code, detail := "ok", http.StatusOK, ""
		if err := p.Ping(ctx); err != nil {
			status, code, detail = "unavailable", http.StatusServiceUnavailable, "kafka: "+err.Error()
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": status, "service": "scorer", "detail": detail})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return mux
}

func getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func logLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}
