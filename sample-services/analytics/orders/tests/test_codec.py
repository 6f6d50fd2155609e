"""The Avro hop through a real schema registry: devstack's, with sample-services/schemas registered as
devstack.yaml's registry.subjects does. `devstack test` runs it (tests: analytics-avro in devstack.yaml),
which sets ANALYTICS_TEST_SCHEMA_REGISTRY_URL; without it the registry tests are skipped with a note,
unless DEVSTACK_REQUIRE_ALL=1 (then they fail)."""

import os
import socket
import unittest

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from django.test import SimpleTestCase

from orders import codec

from . import fixtures as fx

REGISTRY = os.environ.get("ANALYTICS_TEST_SCHEMA_REGISTRY_URL", "")
WHY = "set ANALYTICS_TEST_SCHEMA_REGISTRY_URL (devstack test does) to run the registry tests"
if not REGISTRY and os.environ.get("DEVSTACK_REQUIRE_ALL") == "1":
    raise RuntimeError(f"DEVSTACK_REQUIRE_ALL=1 but {WHY}")


def framed(schema_id: int, body: bytes = b"\x02") -> bytes:
    return b"\x00" + schema_id.to_bytes(4, "big") + body


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WithoutRegistry(SimpleTestCase):
    def test_registry_down_is_not_a_bad_message(self):
        # The consumer retries RegistryUnavailable; a BadMessage would be skipped for good.
        dec = codec.AvroDecoder(f"http://127.0.0.1:{closed_port()}")
        with self.assertRaises(codec.RegistryUnavailable):
            dec("orders.placed", framed(1))

    def test_needs_a_registry(self):
        with self.assertRaisesRegex(ValueError, "SCHEMA_REGISTRY_URL is not set"):
            codec.AvroDecoder("")


@unittest.skipUnless(REGISTRY, WHY)
class ThroughTheRegistry(SimpleTestCase):
    def setUp(self):
        self.client = SchemaRegistryClient({"url": REGISTRY})
        self.decode = codec.AvroDecoder(REGISTRY)

    def encode(self, topic: str, doc: dict) -> bytes:
        # As a producer in another language would: the subject's latest version, nothing registered.
        ser = AvroSerializer(self.client, conf={"auto.register.schemas": False, "use.latest.version": True})
        return ser(doc, SerializationContext(topic, MessageField.VALUE))

    def test_round_trip(self):
        for topic, doc in [("orders.placed", fx.placed()), ("orders.scored", fx.scored())]:
            with self.subTest(topic):
                value = self.encode(topic, doc)
                latest = self.client.get_latest_version(f"{topic}-value")
                self.assertEqual(int.from_bytes(value[1:5], "big"), latest.schema_id)
                got = self.decode(topic, value)
                self.assertEqual({k: got[k] for k in doc}, doc)

    def test_optional_field_absent(self):
        doc = {k: v for k, v in fx.placed().items() if k != "shipping_country"}
        self.assertIsNone(self.decode("orders.placed", self.encode("orders.placed", doc))["shipping_country"])

    def test_undecodable(self):
        good = self.encode("orders.placed", fx.placed())
        cases = {
            "unknown schema id": framed(2**31 - 1),
            "truncated Avro": good[:12],
        }
        for name, value in cases.items():
            with self.subTest(name):
                with self.assertRaises(codec.BadMessage):
                    self.decode("orders.placed", value)
