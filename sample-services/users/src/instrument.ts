// Imported first by main.ts: OpenTelemetry patches http, pg and kafkajs before anything loads them
// (nothing happens without OTEL_EXPORTER_OTLP_ENDPOINT, see telemetry.ts).
import { startTelemetry, telemetryEnabled } from './telemetry';

if (telemetryEnabled()) startTelemetry();
