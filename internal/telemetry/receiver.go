// Package telemetry receives OpenTelemetry data over OTLP and keeps traces. Its one job: an OTLP
// receiver (HTTP with protobuf or JSON bodies, and gRPC) that turns trace exports into event.Span and
// keeps them in a bounded Store (persisted in the stack's state dir), hands log records to a callback
// as event.LogLine and metric exports to another, and counts what it received and dropped.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // OTLP/gRPC clients may compress with gzip
	"google.golang.org/grpc/status"

	"github.com/devstack-dev/devstack/internal/event"
)

// Options configure a Receiver. The config decides every value.
type Options struct {
	// HTTPAddr and GRPCAddr are the listen addresses ("127.0.0.1:4318", "127.0.0.1:4317"); "" runs
	// no listener of that kind.
	HTTPAddr string
	GRPCAddr string
	// Store keeps the spans received (required).
	Store *Store
	// Logs receives OTLP log records as log lines (Stream "otlp"); nil drops them (counted).
	Logs func(event.LogLine)
	// Metrics receives OTLP metric exports as they came; nil drops them (counted).
	Metrics func(*colmetricspb.ExportMetricsServiceRequest)
	// MaxBodyBytes bounds one request body, decompressed (must be > 0).
	MaxBodyBytes int64
	Logger       *slog.Logger
}

// Receiver is a running OTLP receiver.
type Receiver struct {
	o        Options
	httpLn   net.Listener
	grpcLn   net.Listener
	httpSrv  *http.Server
	grpcSrv  *grpc.Server
	stats    stats
	stopOnce sync.Once
}

// stats are the receiver's own counters (the store counts spans).
type stats struct {
	logRecords, logDropped atomic.Uint64
	metrics                atomic.Uint64 // metrics received (kept or not: Options.Metrics decides)
	rejected, badRequests  atomic.Uint64
}

// Listen binds the receiver's listeners; Serve serves them.
func Listen(o Options) (*Receiver, error) {
	if o.Store == nil {
		return nil, errors.New("telemetry: no span store")
	}
	if o.MaxBodyBytes <= 0 {
		return nil, errors.New("telemetry: MaxBodyBytes must be > 0")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Receiver{o: o}
	var err error
	if o.HTTPAddr != "" {
		if r.httpLn, err = net.Listen("tcp", o.HTTPAddr); err != nil {
			return nil, fmt.Errorf("telemetry: OTLP/HTTP listener: %w (telemetry.http_port in devstack.yaml; another collector running?)", err)
		}
	}
	if o.GRPCAddr != "" {
		if r.grpcLn, err = net.Listen("tcp", o.GRPCAddr); err != nil {
			if r.httpLn != nil {
				r.httpLn.Close()
			}
			return nil, fmt.Errorf("telemetry: OTLP/gRPC listener: %w (telemetry.grpc_port in devstack.yaml; another collector running?)", err)
		}
	}
	r.httpSrv = &http.Server{Handler: r.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug)}
	r.grpcSrv = grpc.NewServer(grpc.MaxRecvMsgSize(int(min(o.MaxBodyBytes, 1<<31-1))))
	coltracepb.RegisterTraceServiceServer(r.grpcSrv, grpcTraces{r: r})
	collogspb.RegisterLogsServiceServer(r.grpcSrv, grpcLogs{r: r})
	colmetricspb.RegisterMetricsServiceServer(r.grpcSrv, grpcMetrics{r: r})
	return r, nil
}

// HTTPAddr is the OTLP/HTTP host:port ("" without that listener).
func (r *Receiver) HTTPAddr() string {
	if r.httpLn == nil {
		return ""
	}
	return r.httpLn.Addr().String()
}

// GRPCAddr is the OTLP/gRPC host:port ("" without that listener).
func (r *Receiver) GRPCAddr() string {
	if r.grpcLn == nil {
		return ""
	}
	return r.grpcLn.Addr().String()
}

// Serve serves until ctx ends, then stops the listeners (requests under way get a moment to finish).
// It returns a listener's failure, or nil after ctx ended.
func (r *Receiver) Serve(ctx context.Context) error {
	errc := make(chan error, 2)
	var wg sync.WaitGroup
	if r.httpLn != nil {
		wg.Go(func() {
			if err := r.httpSrv.Serve(r.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("telemetry: OTLP/HTTP: %w", err)
			}
		})
	}
	if r.grpcLn != nil {
		wg.Go(func() {
			if err := r.grpcSrv.Serve(r.grpcLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				errc <- fmt.Errorf("telemetry: OTLP/gRPC: %w", err)
			}
		})
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	r.shutdown()
	wg.Wait()
	return err
}

func (r *Receiver) shutdown() {
	r.stopOnce.Do(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if r.httpSrv.Shutdown(sctx) != nil {
			r.httpSrv.Close()
		}
		stopped := make(chan struct{})
		go func() { r.grpcSrv.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-sctx.Done():
			r.grpcSrv.Stop()
			<-stopped
		}
		if r.httpLn != nil {
			r.httpLn.Close()
		}
		if r.grpcLn != nil {
			r.grpcLn.Close()
		}
	})
}

// exportTraces is where both transports hand a trace export.
func (r *Receiver) exportTraces(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	spans, rejected, reason := convertTraces(req)
	if err := r.o.Store.Ingest(ctx, spans); err != nil {
		return nil, err
	}
	resp := &coltracepb.ExportTraceServiceResponse{}
	if rejected > 0 {
		r.stats.rejected.Add(uint64(rejected))
		resp.PartialSuccess = &coltracepb.ExportTracePartialSuccess{RejectedSpans: rejected, ErrorMessage: reason}
	}
	return resp, nil
}

func (r *Receiver) exportLogs(req *collogspb.ExportLogsServiceRequest) *collogspb.ExportLogsServiceResponse {
	lines := convertLogs(req)
	if r.o.Logs == nil {
		r.stats.logDropped.Add(uint64(len(lines)))
		return &collogspb.ExportLogsServiceResponse{}
	}
	r.stats.logRecords.Add(uint64(len(lines)))
	for _, l := range lines {
		r.o.Logs(l)
	}
	return &collogspb.ExportLogsServiceResponse{}
}

func (r *Receiver) exportMetrics(req *colmetricspb.ExportMetricsServiceRequest) *colmetricspb.ExportMetricsServiceResponse {
	n := 0
	for _, rm := range req.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			n += len(sm.GetMetrics())
		}
	}
	r.stats.metrics.Add(uint64(n))
	if r.o.Metrics != nil {
		r.o.Metrics(req)
	}
	return &colmetricspb.ExportMetricsServiceResponse{}
}

type grpcTraces struct {
	coltracepb.UnimplementedTraceServiceServer
	r *Receiver
}

func (g grpcTraces) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	resp, err := g.r.exportTraces(ctx, req)
	if err != nil {
		return nil, grpcUnavailable(err)
	}
	return resp, nil
}

type grpcLogs struct {
	collogspb.UnimplementedLogsServiceServer
	r *Receiver
}

func (g grpcLogs) Export(_ context.Context, req *collogspb.ExportLogsServiceRequest) (*collogspb.ExportLogsServiceResponse, error) {
	return g.r.exportLogs(req), nil
}

type grpcMetrics struct {
	colmetricspb.UnimplementedMetricsServiceServer
	r *Receiver
}

func (g grpcMetrics) Export(_ context.Context, req *colmetricspb.ExportMetricsServiceRequest) (*colmetricspb.ExportMetricsServiceResponse, error) {
	return g.r.exportMetrics(req), nil
}

// grpcUnavailable answers a trace export the store could not take: Unavailable, which OTLP clients retry.
func grpcUnavailable(err error) error {
	return status.Error(codes.Unavailable, err.Error())
}
