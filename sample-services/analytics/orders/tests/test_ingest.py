from django.test import TestCase

from orders import codec, ingest
from orders.models import DeadLetter, Order

from . import fixtures as fx

CORR = {"correlation-id": "req-42"}


class FixturesMatchSchemas(TestCase):
    def test_fixtures_are_valid_messages(self):
        for topic, doc in [("orders.placed", fx.placed()), ("orders.scored", fx.scored()), ("orders.dlq", fx.dead_letter())]:
            with self.subTest(topic=topic):
                fx.validator(topic).validate(doc)

    def test_schemas_are_not_vacuous(self):
        bad = fx.placed(currency="eur")
        self.assertFalse(fx.validator("orders.placed").is_valid(bad))


class Ingest(TestCase):
    def test_placed_then_scored(self):
        r = ingest.store("orders.placed", fx.placed(), CORR)
        self.assertTrue(r.created)
        o = Order.objects.get(order_id=fx.ORDER)
        self.assertEqual((o.total_cents, o.units, o.shipping_country, o.score), (2500, 2, "DE", None))
        self.assertEqual(o.correlation_id, "req-42")

        r = ingest.store("orders.scored", fx.scored(), CORR)
        self.assertFalse(r.created)
        o.refresh_from_db()
        self.assertEqual((o.score, o.decision, o.units), (45, "review", 2))
        self.assertEqual(o.reasons[0]["rule"], "huge_order")

    def test_scored_before_placed(self):
        ingest.store("orders.scored", fx.scored(), {})
        o = Order.objects.get(order_id=fx.ORDER)
        self.assertEqual((o.score, o.total_cents, o.units), (45, 2500, 0))
        ingest.store("orders.placed", fx.placed(), CORR)
        o.refresh_from_db()
        self.assertEqual((o.score, o.units, o.correlation_id), (45, 2, "req-42"))

    def test_redelivery_changes_nothing(self):
        for _ in range(3):
            ingest.store("orders.placed", fx.placed(), CORR)
            ingest.store("orders.scored", fx.scored(), CORR)
            ingest.store("orders.dlq", fx.dead_letter(), CORR)
        self.assertEqual(Order.objects.count(), 1)
        self.assertEqual(DeadLetter.objects.count(), 1)

    def test_dead_letter(self):
        ingest.store("orders.dlq", fx.dead_letter(offset=9), CORR)
        d = DeadLetter.objects.get()
        self.assertEqual((d.source_topic, d.offset, d.value, d.correlation_id), ("orders.placed", 9, "not json", "req-42"))

    def test_placed_as_avro_decodes_it(self):
        # What AvroDeserializer returns for orders.placed.avsc: the unset optional field is None.
        ingest.store("orders.placed", {**fx.placed(), "shipping_country": None}, CORR)
        self.assertEqual(Order.objects.get(order_id=fx.ORDER).shipping_country, "")

    def test_bad_messages(self):
        json_only = codec.AvroDecoder("http://127.0.0.1:1")  # never asked: these fail before the registry
        cases = {
            "not framed Avro": (ingest.TOPIC_PLACED, b"{nope"),
            "JSON on an Avro topic": (ingest.TOPIC_SCORED, fx.encode(fx.scored())),
            "too short": (ingest.TOPIC_PLACED, b"\x00\x00\x00"),
            "tombstone": (ingest.TOPIC_SCORED, None),
            "dead letter not json": (ingest.TOPIC_DLQ, b"{nope"),
            "dead letter not an object": (ingest.TOPIC_DLQ, b"[1, 2]"),
            "dead letter missing fields": (ingest.TOPIC_DLQ, fx.encode({"source_topic": "orders.placed"})),
            "unknown topic": ("orders.other", fx.encode(fx.placed())),
        }
        for name, (topic, value) in cases.items():
            with self.subTest(name):
                with self.assertRaises(ingest.BadMessage):
                    ingest.handle(topic, value, {}, json_only)
        for name, (topic, doc) in {
            "missing fields": (ingest.TOPIC_PLACED, {"order_id": fx.ORDER}),
            "bad date": (ingest.TOPIC_SCORED, {**fx.scored(), "scored_at": "yesterday"}),
        }.items():
            with self.subTest(name):
                with self.assertRaises(ingest.BadMessage):
                    ingest.store(topic, doc, {})
        self.assertEqual(Order.objects.count(), 0)
