import uuid

from django.test import TestCase, override_settings
from rest_framework.test import APIClient

from orders import ingest

from . import fixtures as fx
from . import tokens as tk

ANALYST = tk.bearer(tk.hs256(scope="analytics:read"))
OTHER_USER = "b4d2e8b9-3d2f-4a8d-9e7b-4cafa0e2d3c5"


@override_settings(JWT=tk.JWT)
class Api(TestCase):
    def setUp(self):
        self.client = APIClient()
        o1, o2, o3 = (str(uuid.uuid4()) for _ in range(3))
        for order_id, user, total, score, decision in [
            (o1, fx.USER, 1000, 0, "approve"),
            (o2, fx.USER, 300000, 85, "reject"),
            (o3, OTHER_USER, 5000, None, None),
        ]:
            ingest.store("orders.placed", fx.placed(order_id, user, total), {})
            if score is not None:
                ingest.store("orders.scored", fx.scored(order_id, user, score, decision, total), {})
        ingest.store("orders.dlq", fx.dead_letter(), {})
        self.scored_ids = {o1, o2}

    def test_auth(self):
        cases = [
            ("no token", {}, 401),
            ("forged gateway headers, no token", {"HTTP_X_AUTH_SUBJECT": "e2e", "HTTP_X_AUTH_SCOPES": "analytics:read"}, 401),
            ("bad token", tk.bearer("not.a.jwt"), 401),
            ("wrong scope", tk.bearer(tk.hs256(scope="orders:read profile")), 403),
            ("analytics scope", ANALYST, 200),
        ]
        for name, headers, status in cases:
            with self.subTest(name):
                self.assertEqual(self.client.get("/api/analytics/summary", **headers).status_code, status)

    def test_summary(self):
        s = self.client.get("/api/analytics/summary", **ANALYST).json()
        self.assertEqual((s["orders"], s["scored"], s["pending"], s["users"], s["dead_letters"]), (3, 2, 1, 2, 1))
        self.assertEqual(s["decisions"], {"approve": 1, "review": 0, "reject": 1})
        self.assertEqual(s["revenue_cents"], {"EUR": 306000})
        self.assertEqual((s["average_score"], s["max_score"]), (42.5, 85))
        self.assertEqual({o["order_id"] for o in s["recent"]}, self.scored_ids)

    def test_user_stats(self):
        s = self.client.get(f"/api/analytics/users/{fx.USER}", **ANALYST).json()
        self.assertEqual((s["orders"], s["scored"], s["max_score"]), (2, 2, 85))
        self.assertEqual(len(s["recent"]), 2)
        empty = self.client.get(f"/api/analytics/users/{uuid.uuid4()}", **ANALYST).json()
        self.assertEqual((empty["orders"], empty["recent"], empty["average_score"]), (0, [], None))

    def test_order_detail_and_dead_letters(self):
        self.assertEqual(self.client.get(f"/api/analytics/orders/{uuid.uuid4()}", **ANALYST).status_code, 404)
        some = next(iter(self.scored_ids))
        self.assertTrue(self.client.get(f"/api/analytics/orders/{some}", **ANALYST).json()["scored"])
        dl = self.client.get("/api/analytics/dead-letters", **ANALYST).json()
        self.assertEqual(dl[0]["value"], "not json")

    def test_health(self):
        self.assertEqual(self.client.get("/health").json()["status"], "ok")
