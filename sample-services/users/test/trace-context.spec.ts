import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { currentTraceHeaders, untraced, withTraceHeaders } from '../src/common/trace-context';
import { telemetryEnabled } from '../src/telemetry';

// The request's trace context across the outbox, with the real SDK (in memory instead of OTLP): what
// the request writes into the row is what the relay's publish continues.
describe('trace context through the outbox row', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('test');
  const contextManager = new AsyncLocalStorageContextManager().enable();

  beforeAll(() => {
    context.setGlobalContextManager(contextManager);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    propagation.disable();
    context.disable();
  });
  beforeEach(() => exporter.reset());

  it('stores the active span as traceparent and publishes under it, later and elsewhere', async () => {
    let headers: Record<string, string> = {};
    const request = tracer.startSpan('POST /api/orders');
    context.with(trace.setSpan(context.active(), request), () => {
      headers = currentTraceHeaders();
    });
    request.end();
    const { traceId, spanId } = request.spanContext();
    expect(headers.traceparent).toBe(`00-${traceId}-${spanId}-01`);

    // the relay, in its own (untraced) run, publishes the row inside the row's context
    await untraced(async () => {
      await new Promise((r) => setTimeout(r, 5));
      tracer.startSpan('relay poll').end(); // suppressed: the relay's own work
      await withTraceHeaders(headers, async () => {
        await Promise.resolve();
        tracer.startSpan('send orders.placed').end();
      });
    });

    const spans = exporter.getFinishedSpans().map((s) => ({
      name: s.name,
      trace: s.spanContext().traceId,
      parent: s.parentSpanContext?.spanId,
    }));
    expect(spans).toEqual([
      { name: 'POST /api/orders', trace: traceId, parent: undefined },
      { name: 'send orders.placed', trace: traceId, parent: spanId },
    ]);
  });

  it('writes no trace headers outside a trace, and a row without them starts none', () => {
    expect(currentTraceHeaders()).toEqual({});
    withTraceHeaders({ 'correlation-id': 'x' }, () => tracer.startSpan('send').end());
    expect(exporter.getFinishedSpans()[0].parentSpanContext).toBeUndefined();
  });
});

describe('telemetryEnabled', () => {
  it.each([
    [{}, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' }, true],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' }, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'false' }, true],
  ])('%j -> %s', (env, want) => {
    expect(telemetryEnabled(env as NodeJS.ProcessEnv)).toBe(want);
  });
});
