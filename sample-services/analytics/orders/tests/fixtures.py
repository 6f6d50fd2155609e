"""Messages as the producers send them; each is checked against sample-services/schemas."""

import json
from pathlib import Path

import jsonschema

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"

USER = "a3c1f7a8-2c1e-4f7c-8d6a-3b9e8f1d2c4b"
ORDER = "7b0c7a5e-6a0e-4c55-9f27-0b2f6ac3e0c1"


def validator(topic: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / f"{topic}.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def placed(order_id: str = ORDER, user_id: str = USER, total: int = 2500, **extra) -> dict:
    return {
        "schema_version": 1,
        "order_id": order_id,
        "user_id": user_id,
        "items": [{"sku": "book", "quantity": 2, "unit_price_cents": total // 2}],
        "total_cents": total,
        "currency": "EUR",
        "shipping_country": "DE",
        "placed_at": "2026-01-02T03:04:05.678Z",
        **extra,
    }


def scored(order_id: str = ORDER, user_id: str = USER, score: int = 45, decision: str = "review", total: int = 2500) -> dict:
    return {
        "schema_version": 1,
        "order_id": order_id,
        "user_id": user_id,
        "score": score,
        "decision": decision,
        "reasons": [{"rule": "huge_order", "points": 45, "detail": "total above 2000.00"}] if score else [],
        "total_cents": total,
        "currency": "EUR",
        "window": {"seconds": 600, "orders": 1, "spend_cents": total},
        "placed_at": "2026-01-02T03:04:05.678Z",
        "scored_at": "2026-01-02T03:04:05.900Z",
    }


def dead_letter(offset: int = 7) -> dict:
    return {
        "source_topic": "orders.placed",
        "partition": 0,
        "offset": offset,
        "key": None,
        "consumer_group": "scorer",
        "error": "decode JSON: invalid character 'n'",
        "value": "not json",
        "value_base64": "bm90IGpzb24=",
        "failed_at": "2026-01-02T03:04:06Z",
    }


def encode(doc: dict) -> bytes:
    return json.dumps(doc).encode()
