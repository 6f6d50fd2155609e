"""Decoding the sample's Kafka values. orders.placed and orders.scored carry Avro through the schema
registry (Confluent framing: magic byte 0, 4-byte schema id, Avro binary); confluent-kafka's
AvroDeserializer fetches the writer's schema by id from SCHEMA_REGISTRY_URL once and decodes with it.
orders.dlq stays JSON (sample-services/schemas/orders.dlq.schema.json).

A value that can never be decoded (not framed, an id the registry doesn't have, bytes that are not the
schema's Avro) raises BadMessage; a registry that can't be reached raises RegistryUnavailable, which the
consumer retries (the message is not skipped for that).
"""

from __future__ import annotations

import json
from typing import Callable

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext, SerializationError

MAGIC_BYTE = 0
AVRO_TOPICS = ("orders.placed", "orders.scored")


class BadMessage(ValueError):
    """The message cannot be stored; it is logged and skipped (the scorer already dead-letters bad orders)."""


class RegistryUnavailable(RuntimeError):
    """The schema registry did not answer; try the message again."""


Decoder = Callable[[str, "bytes | None"], dict]


def decode_json(value: bytes | None) -> dict:
    if value is None:
        raise BadMessage("empty message (tombstone)")
    try:
        doc = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadMessage(f"not JSON: {e}") from e
    if not isinstance(doc, dict):
        raise BadMessage("not a JSON object")
    return doc


class AvroDecoder:
    """Decodes a topic's value: Avro through the registry for AVRO_TOPICS, JSON for the others."""

    def __init__(self, registry_url: str, client: SchemaRegistryClient | None = None) -> None:
        if not registry_url and client is None:
            raise ValueError(
                "SCHEMA_REGISTRY_URL is not set: run under devstack (it injects it when registry: is enabled) or export it"
            )
        self.registry_url = registry_url
        self._client = client or SchemaRegistryClient({"url": registry_url, "timeout": 5})
        self._avro = AvroDeserializer(self._client)

    def __call__(self, topic: str, value: bytes | None) -> dict:
        if topic not in AVRO_TOPICS:
            return decode_json(value)
        if value is None:
            raise BadMessage("empty message (tombstone)")
        if len(value) < 5 or value[0] != MAGIC_BYTE:
            raise BadMessage("not Confluent-framed Avro (magic byte 0, 4-byte schema id)")
        schema_id = int.from_bytes(value[1:5], "big")
        try:
            doc = self._avro(value, SerializationContext(topic, MessageField.VALUE))
        except SchemaRegistryError as e:
            if e.http_status_code == 404:
                raise BadMessage(f"schema id {schema_id} is not in the registry: {e}") from e
            raise RegistryUnavailable(f"schema id {schema_id} from {self.registry_url}: {e}") from e
        except SerializationError as e:
            raise BadMessage(f"not Avro of schema id {schema_id}: {e}") from e
        except (EOFError, ValueError, TypeError, IndexError, UnicodeDecodeError) as e:
            raise BadMessage(f"not Avro of schema id {schema_id}: {e}") from e
        except Exception as e:  # connection refused, timeouts: the HTTP client's own exception types
            raise RegistryUnavailable(f"schema id {schema_id} from {self.registry_url}: {e}") from e
        if not isinstance(doc, dict):
            raise BadMessage(f"schema id {schema_id} is not a record")
        return doc
