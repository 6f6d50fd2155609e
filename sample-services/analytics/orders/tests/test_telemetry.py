"""The consumer continues the producer's trace (the real OpenTelemetry SDK, spans kept in memory)."""

from __future__ import annotations

from django.test import SimpleTestCase
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from orders import telemetry

_exporter = InMemorySpanExporter()
_provider = TracerProvider(sampler=telemetry.sampler())
_provider.add_span_processor(SimpleSpanProcessor(_exporter))
trace.set_tracer_provider(_provider)  # once per process: the SDK refuses a second one

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PRODUCER_SPAN = "00f067aa0ba902b7"


class ConsumingTests(SimpleTestCase):
    def setUp(self) -> None:
        _exporter.clear()
        self.tracer = _provider.get_tracer("test")

    def test_record_with_traceparent_continues_its_trace(self) -> None:
        headers = {"traceparent": f"00-{TRACE_ID}-{PRODUCER_SPAN}-01", "correlation-id": "req-1"}
        with telemetry.consuming("orders.scored", 2, 41, "analytics", headers):
            with self.tracer.start_as_current_span("UPDATE", kind=trace.SpanKind.CLIENT):
                pass
        sql, process = _exporter.get_finished_spans()
        self.assertEqual(process.name, "orders.scored process")
        self.assertEqual(process.kind, trace.SpanKind.CONSUMER)
        self.assertEqual(format(process.context.trace_id, "032x"), TRACE_ID)
        self.assertEqual(format(process.parent.span_id, "016x"), PRODUCER_SPAN)
        self.assertEqual(process.attributes["messaging.destination.name"], "orders.scored")
        self.assertEqual(process.attributes["messaging.kafka.offset"], 41)
        self.assertEqual(sql.parent.span_id, process.context.span_id, "the SQL is the record's work")

    def test_record_without_traceparent_starts_a_trace(self) -> None:
        with telemetry.consuming("orders.dlq", 0, 0, "analytics", {}):
            pass
        (process,) = _exporter.get_finished_spans()
        self.assertIsNone(process.parent)

    def test_lone_queries_start_no_trace(self) -> None:
        with self.tracer.start_as_current_span("SELECT", kind=trace.SpanKind.CLIENT):
            pass
        self.assertEqual(_exporter.get_finished_spans(), ())


class EnabledTests(SimpleTestCase):
    def test_enabled_by_the_otlp_endpoint(self) -> None:
        cases = [
            ({}, False),
            ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
            ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
            ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ]
        for env, want in cases:
            with self.subTest(env=env):
                self.assertEqual(telemetry.enabled(env), want)
