from django.test import TestCase

from orders import ingest
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
        r = ingest.handle("orders.placed", fx.encode(fx.placed()), CORR)
        self.assertTrue(r.created)
        o = Order.objects.get(order_id=fx.ORDER)
        self.assertEqual((o.total_cents, o.units, o.shipping_country, o.score), (2500, 2, "DE", None))
        self.assertEqual(o.correlation_id, "req-42")

        r = ingest.handle("orders.scored", fx.encode(fx.scored()), CORR)
        self.assertFalse(r.created)
        o.refresh_from_db()
        self.assertEqual((o.score, o.decision, o.units), (45, "review", 2))
        self.assertEqual(o.reasons[0]["rule"], "huge_order")

    def test_scored_before_placed(self):
        ingest.handle("orders.scored", fx.encode(fx.scored()), {})
        o = Order.objects.get(order_id=fx.ORDER)
        self.assertEqual((o.score, o.total_cents, o.units), (45, 2500, 0))
        ingest.handle("orders.placed", fx.encode(fx.placed()), CORR)
        o.refresh_from_db()
        self.assertEqual((o.score, o.units, o.correlation_id), (45, 2, "req-42"))

    def test_redelivery_changes_nothing(self):
        for _ in range(3):
            ingest.handle("orders.placed", fx.encode(fx.placed()), CORR)
            ingest.handle("orders.scored", fx.encode(fx.scored()), CORR)
            ingest.handle("orders.dlq", fx.encode(fx.dead_letter()), CORR)
        self.assertEqual(Order.objects.count(), 1)
        self.assertEqual(DeadLetter.objects.count(), 1)

    def test_dead_letter(self):
        ingest.handle("orders.dlq", fx.encode(fx.dead_letter(offset=9)), CORR)
        d = DeadLetter.objects.get()
        self.assertEqual((d.source_topic, d.offset, d.value, d.correlation_id), ("orders.placed", 9, "not json", "req-42"))

    def test_bad_messages(self):
        cases = {
            "not json": (ingest.TOPIC_PLACED, b"{nope"),
            "not an object": (ingest.TOPIC_PLACED, b"[1, 2]"),
            "tombstone": (ingest.TOPIC_SCORED, None),
            "missing fields": (ingest.TOPIC_PLACED, fx.encode({"order_id": fx.ORDER})),
            "bad date": (ingest.TOPIC_SCORED, fx.encode({**fx.scored(), "scored_at": "yesterday"})),
            "unknown topic": ("orders.other", fx.encode(fx.placed())),
        }
        for name, (topic, value) in cases.items():
            with self.subTest(name):
                with self.assertRaises(ingest.BadMessage):
                    ingest.handle(topic, value, {})
        self.assertEqual(Order.objects.count(), 0)
