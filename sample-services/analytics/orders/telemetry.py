"""OpenTelemetry for analytics, configured only by the standard environment (devstack sets it for every
service): OTEL_EXPORTER_OTLP_ENDPOINT (OTLP over HTTP/protobuf), OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES; OTEL_BSP_* tune the batching. Without an endpoint (or with
OTEL_SDK_DISABLED=true) nothing is loaded and analytics runs as before.

- The web process (asgi.py) gets a server span per request (opentelemetry-instrumentation-django) with
  its SQL under it (opentelemetry-instrumentation-psycopg).
- The consumer (consume_orders) continues the producer's trace: each record is processed in a CONSUMER
  span whose parent is the record's W3C traceparent header, its SQL under it. (The confluent-kafka
  instrumentation is not used: it starts a new trace per record, linked to the producer's span, so an
  order would not be one trace.)
- SQL outside any traced work (migrations at start, the live listener, background checks) is not
  traced: the sampler drops client spans that would start a trace of their own.

Spans are batched and exported in the background; starting never waits for the receiver.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

from opentelemetry import propagate, trace

_tracer = trace.get_tracer("orders")


def enabled(env: Mapping[str, str] = os.environ) -> bool:
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def setup(*, django_requests: bool) -> bool:
    """Starts the SDK when enabled(); django_requests also traces Django's requests (call it before
    Django loads its middleware). Returns whether tracing is on."""
    if not enabled():
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    # Resource.create(): OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; the exporter reads the endpoint.
    provider = TracerProvider(resource=Resource.create(), sampler=sampler())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)  # flushed at exit (the SDK's atexit hook)
    PsycopgInstrumentor().instrument()
    if django_requests:
        from opentelemetry.instrumentation.django import DjangoInstrumentor

        DjangoInstrumentor().instrument(excluded_urls="/health$")  # probes are nobody's request
    return True


def sampler():
    """Children follow their parent's decision; of the spans that would start a trace, client spans (a
    query, a registry lookup outside any request or record) are dropped and everything else is kept."""
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler

    class NoLoneClientSpans(Sampler):
        def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None):
            root = ALWAYS_OFF if kind == trace.SpanKind.CLIENT else ALWAYS_ON
            return root.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

        def get_description(self) -> str:
            return "NoLoneClientSpans"

    return ParentBased(root=NoLoneClientSpans())


@contextlib.contextmanager
def consuming(
    topic: str, partition: int, offset: int, group: str, headers: Mapping[str, str]
) -> Iterator[trace.Span]:
    """The span of processing one record, a child of the span whose traceparent the record carries."""
    parent = propagate.extract(headers)
    with _tracer.start_as_current_span(
        f"{topic} process",
        context=parent,
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.destination.partition.id": str(partition),
            "messaging.kafka.offset": offset,
            "messaging.consumer.group.name": group,
        },
    ) as span:
        yield span
