"""Turning Kafka messages into rows. Pure functions of (topic, value, headers) and a decoder (codec.py:
Avro through the schema registry for orders.placed and orders.scored, JSON for orders.dlq): the consumer
command does the I/O, tests call these directly.

Every handler is idempotent (upsert keyed by order_id or by topic/partition/offset) because delivery is
at least once: a redelivered message changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils.dateparse import parse_datetime

from .codec import BadMessage, Decoder, decode_json
from .models import DeadLetter, Order

__all__ = ["BadMessage", "Result", "handle", "store", "decode_json"]

log = logging.getLogger(__name__)

TOPIC_PLACED = "orders.placed"
TOPIC_SCORED = "orders.scored"
TOPIC_DLQ = "orders.dlq"
TOPICS = (TOPIC_PLACED, TOPIC_SCORED, TOPIC_DLQ)
CORRELATION_HEADER = "correlation-id"
NOTIFY_CHANNEL = "orders_scored"


@dataclass(frozen=True)
class Result:
    topic: str
    key: str  # order_id, or topic/partition/offset for dead letters
    created: bool


def _dt(value: object, field: str) -> datetime:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise BadMessage(f"{field}: not an RFC 3339 date-time: {value!r}")
    return parsed


def _require(doc: dict, *fields: str) -> None:
    missing = [f for f in fields if f not in doc]
    if missing:
        raise BadMessage(f"missing fields: {', '.join(missing)}")


def handle(
    topic: str, value: bytes | None, headers: dict[str, str], decode: Decoder, partition: int = 0, offset: int = 0
) -> Result:
    """Decodes and stores one message; raises BadMessage when it cannot be stored (and
    codec.RegistryUnavailable when the registry did not answer)."""
    if topic not in TOPICS:
        raise BadMessage(f"unexpected topic {topic}")
    return store(topic, decode(topic, value), headers)


def store(topic: str, doc: dict, headers: dict[str, str]) -> Result:
    """Stores one decoded message in a transaction; raises BadMessage when it cannot be stored."""
    corr = headers.get(CORRELATION_HEADER, "")[:128]
    with transaction.atomic():
        if topic == TOPIC_PLACED:
            return _placed(doc, corr)
        if topic == TOPIC_SCORED:
            return _scored(doc, corr)
        if topic == TOPIC_DLQ:
            return _dead_letter(doc, corr)
    raise BadMessage(f"unexpected topic {topic}")


def _placed(doc: dict, corr: str) -> Result:
    _require(doc, "order_id", "user_id", "items", "total_cents", "currency", "placed_at")
    items = doc["items"]
    if not isinstance(items, list):
        raise BadMessage("items: not a list")
    defaults = {
        "user_id": doc["user_id"],
        "total_cents": int(doc["total_cents"]),
        "currency": doc["currency"],
        "shipping_country": doc.get("shipping_country") or "",  # Avro's null: none given
        "items": items,
        "units": sum(int(i.get("quantity", 0)) for i in items if isinstance(i, dict)),
        "placed_at": _dt(doc["placed_at"], "placed_at"),
    }
    if corr:
        defaults["correlation_id"] = corr
    _, created = Order.objects.update_or_create(order_id=doc["order_id"], defaults=defaults)
    return Result(TOPIC_PLACED, str(doc["order_id"]), created)


def _scored(doc: dict, corr: str) -> Result:
    _require(doc, "order_id", "user_id", "score", "decision", "total_cents", "currency", "scored_at")
    defaults = {
        "score": int(doc["score"]),
        "decision": doc["decision"],
        "reasons": doc.get("reasons", []),
        "scored_at": _dt(doc["scored_at"], "scored_at"),
    }
    # orders.scored may arrive before orders.placed (different topics): fill in what the score carries.
    create_defaults = {
        **defaults,
        "user_id": doc["user_id"],
        "total_cents": int(doc["total_cents"]),
        "currency": doc["currency"],
        "placed_at": _dt(doc["placed_at"], "placed_at") if doc.get("placed_at") else None,
        "correlation_id": corr,
    }
    order, created = Order.objects.update_or_create(
        order_id=doc["order_id"], defaults=defaults, create_defaults=create_defaults
    )
    _notify_scored(str(order.order_id))
    return Result(TOPIC_SCORED, str(order.order_id), created)


def _dead_letter(doc: dict, corr: str) -> Result:
    _require(doc, "source_topic", "partition", "offset", "consumer_group", "error", "failed_at")
    _, created = DeadLetter.objects.get_or_create(
        source_topic=doc["source_topic"],
        partition=int(doc["partition"]),
        offset=int(doc["offset"]),
        defaults={
            "consumer_group": doc["consumer_group"],
            "error": doc["error"],
            "value": doc.get("value", ""),
            "failed_at": _dt(doc["failed_at"], "failed_at"),
            "correlation_id": corr,
        },
    )
    return Result(TOPIC_DLQ, f"{doc['source_topic']}/{doc['partition']}/{doc['offset']}", created)


def _notify_scored(order_id: str) -> None:
    """Tells every web process (they LISTEN, see live.py) that an order was scored. PostgreSQL delivers
    the notification when the transaction commits, so listeners never see an order before it's stored."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, order_id])
