import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';

/**
 * The trace context across the outbox: the Nest Kafka transport (ClientKafka) and the outbox relay run
 * outside the request that placed the order, so no instrumentation links the produced record to it.
 * The request's context goes into the outbox row's headers (W3C traceparent/tracestate) and the relay
 * produces the row inside it, so the kafkajs instrumentation's publish span is a child of the request's
 * span and writes its own traceparent into the record for the consumers. Without the SDK (no OTEL_*
 * env) the API is a no-op: no headers, no spans.
 */
export function currentTraceHeaders(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/** Runs fn in the trace context carried by headers (none: a new trace, if anything is traced). */
export function withTraceHeaders<T>(headers: Record<string, string> | null | undefined, fn: () => T): T {
  return context.with(propagation.extract(ROOT_CONTEXT, headers ?? {}), fn);
}

/** Runs fn untraced: the relay's own polling, SQL and registry lookups are no request's work. */
export function untraced<T>(fn: () => T): T {
  return context.with(suppressTracing(context.active()), fn);
}
