package config

// maxMaxSpans bounds telemetry.max_spans: ten million spans are several GiB of memory.
const maxMaxSpans = 10_000_000

func validateTelemetry(l *loader, c *Config) {
	t := c.Telemetry
	if t.HTTPPort < 0 || t.HTTPPort > 65535 {
		l.errf("telemetry.http_port", "must be between 0 (a free port) and 65535, got %d", t.HTTPPort)
	}
	if t.GRPCPort < -1 || t.GRPCPort > 65535 {
		l.errf("telemetry.grpc_port", "must be between 0 (a free port) and 65535, or -1 for no gRPC listener, got %d", t.GRPCPort)
	}
	if t.MaxSpans < 1 || t.MaxSpans > maxMaxSpans {
		l.errf("telemetry.max_spans", "must be between 1 and %d, got %d (set telemetry.enabled: false to keep no traces)", maxMaxSpans, t.MaxSpans)
	}
}
