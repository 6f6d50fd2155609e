"""Consumes orders.placed, orders.scored and orders.dlq into the analytics database.

orders.placed and orders.scored are Avro through the schema registry (SCHEMA_REGISTRY_URL, orders/codec.py);
orders.dlq is JSON.

Run as its own supervised process (devstack service `analytics-consumer`). Offsets are committed after
the message is stored, so delivery is at least once and the idempotent handlers make redelivery harmless.
A message that cannot be stored is logged and skipped (the scorer dead-letters bad orders already), so
one bad message never stops the stream.
"""

from __future__ import annotations

import logging
import signal
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Message
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from orders import codec, ingest, telemetry

log = logging.getLogger("orders.consumer")


class Command(BaseCommand):
    help = "Consume orders.placed, orders.scored and orders.dlq into the analytics database."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--brokers", default=settings.KAFKA["BROKERS"])
        parser.add_argument("--group", default=settings.KAFKA["GROUP"])
        parser.add_argument("--schema-registry", default=settings.KAFKA["SCHEMA_REGISTRY_URL"])
        parser.add_argument("--max-messages", type=int, default=0, help="Stop after this many (0: run until stopped)")

    def handle(self, *args, brokers: str, group: str, schema_registry: str, max_messages: int, **options) -> None:
        stopping = False
        self._group = group
        telemetry.setup(django_requests=False)  # off without OTEL_* env
        try:
            self._decode = codec.AvroDecoder(schema_registry)
        except ValueError as e:
            raise CommandError(str(e)) from e

        def stop(signum, _frame) -> None:
            nonlocal stopping
            log.info("signal %s: finishing the current message and leaving the group", signum)
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

        consumer = Consumer(
            {
                "bootstrap.servers": brokers,
                "group.id": group,
                "client.id": "analytics-consumer",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "partition.assignment.strategy": "cooperative-sticky",
                "allow.auto.create.topics": True,
                "enable.metrics.push": False,  # KIP-714 client telemetry: nothing collects it here
                "error_cb": lambda err: log.warning("kafka: %s", err),
            }
        )
        consumer.subscribe(
            list(ingest.TOPICS),
            on_assign=lambda c, parts: log.info("partitions assigned: %s", _fmt(parts)),
            on_revoke=lambda c, parts: log.info("partitions revoked: %s", _fmt(parts)),
        )
        log.info(
            "consumer started: topics=%s group=%s brokers=%s schema-registry=%s",
            ",".join(ingest.TOPICS),
            group,
            brokers,
            schema_registry,
        )
        handled = 0
        try:
            while not stopping and (max_messages == 0 or handled < max_messages):
                msg = consumer.poll(0.5)
                if msg is None:
                    continue
                if msg.error():
                    if msg.error().code() in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART):
                        continue
                    raise KafkaException(msg.error())
                self._process(msg)
                consumer.commit(message=msg, asynchronous=False)
                handled += 1
        finally:
            consumer.close()  # commits nothing more; leaves the group so partitions move at once
            log.info("consumer stopped after %d messages", handled)

    def _process(self, msg: Message) -> None:
        headers = {k: (v or b"").decode("utf-8", "replace") for k, v in (msg.headers() or [])}
        where = f"{msg.topic()}[{msg.partition()}]@{msg.offset()}"
        close_old_connections()
        # One span per record, continuing the trace of the record's traceparent (the producer's span).
        with telemetry.consuming(msg.topic(), msg.partition(), msg.offset(), self._group, headers):
            self._store(msg, headers, where)

    def _store(self, msg: Message, headers: dict[str, str], where: str) -> None:
        for attempt in range(1, 6):
            try:
                result = ingest.handle(msg.topic(), msg.value(), headers, self._decode, msg.partition(), msg.offset())
                log.info(
                    "stored %s %s (%s) correlation-id=%s",
                    where,
                    result.key,
                    "new" if result.created else "update",
                    headers.get(ingest.CORRELATION_HEADER, "-"),
                )
                return
            except ingest.BadMessage as e:
                log.warning("skipping %s: %s", where, e)
                return
            except Exception:  # database or registry hiccup: retry, then crash so the supervisor restarts us
                if attempt == 5:
                    raise
                log.exception("storing %s failed (attempt %d), retrying", where, attempt)
                close_old_connections()
                time.sleep(0.2 * 2**attempt)


def _fmt(parts) -> str:
    return ", ".join(f"{p.topic}[{p.partition}]" for p in parts) or "none"
