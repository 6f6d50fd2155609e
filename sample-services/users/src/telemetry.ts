/**
 * OpenTelemetry for users, configured only by the standard environment (devstack sets it for every
 * service): OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf, OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES; OTEL_BSP_* tune the batching. Without an endpoint (or with
 * OTEL_SDK_DISABLED=true) nothing is loaded and users runs as before.
 *
 * main.ts starts it first (./instrument), so the http, pg and kafkajs instrumentations patch those
 * modules before Nest, TypeORM and the Kafka transport load them. Importing this module starts
 * nothing (the tests import the app without it). Spans are batched and exported in the background:
 * starting never waits for the receiver.
 */
export function telemetryEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

let sdk: { shutdown(): Promise<void> } | undefined;

/** Exports the spans still buffered; Nest calls it at shutdown (AppModule). */
export async function shutdownTelemetry(): Promise<void> {
  const s = sdk;
  sdk = undefined;
  await s?.shutdown().catch(() => undefined);
}

/** Starts the SDK (call telemetryEnabled first); the modules to trace must not be loaded yet. */
export function startTelemetry(): void {
  // Loaded only when tracing is on: the SDK costs nothing to a run without a receiver.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { OTLPTraceExporter } =
    require('@opentelemetry/exporter-trace-otlp-proto') as typeof import('@opentelemetry/exporter-trace-otlp-proto');
  const { HttpInstrumentation } =
    require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { PgInstrumentation } =
    require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  const { KafkaJsInstrumentation } =
    require('@opentelemetry/instrumentation-kafkajs') as typeof import('@opentelemetry/instrumentation-kafkajs');
  /* eslint-enable @typescript-eslint/no-require-imports */

  const nodeSDK = new NodeSDK({
    traceExporter: new OTLPTraceExporter(), // OTLP/HTTP protobuf to OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces
    instrumentations: [
      new HttpInstrumentation({
        // probes are nobody's request
        ignoreIncomingRequestHook: (req) => (req.url ?? '').split('?')[0] === '/health',
        // "POST /api/orders" rather than "POST": Express (under Nest) knows the route once it answered
        applyCustomAttributesOnSpan: (span, req) => {
          const route = (req as { route?: { path?: unknown } }).route?.path;
          if (typeof route === 'string') {
            span.updateName(`${(req as { method?: string }).method ?? 'HTTP'} ${route}`);
            span.setAttribute('http.route', route);
          }
        },
      }),
      // SQL only inside something traced (a request): no trace per background query.
      new PgInstrumentation({ requireParentSpan: true }),
      new KafkaJsInstrumentation(),
    ],
  });
  nodeSDK.start();
  sdk = nodeSDK;
}
