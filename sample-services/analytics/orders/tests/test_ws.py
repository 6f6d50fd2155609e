from channels.testing import WebsocketCommunicator
from django.test import SimpleTestCase, override_settings

from analytics_site.asgi import application
from orders.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from orders.live import broadcast_order

from . import tokens as tk


def communicator(**headers: str) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application, "/ws/orders", headers=[(k.encode(), v.encode()) for k, v in headers.items()]
    )


@override_settings(JWT=tk.JWT)
class ScoredOrdersSocket(SimpleTestCase):
    async def test_rejects_callers_without_the_scope(self):
        for name, headers, code in [
            ("anonymous", {}, CLOSE_UNAUTHENTICATED),
            ("forged gateway headers", {"x-auth-subject": "e2e", "x-auth-scopes": "analytics:read"}, CLOSE_UNAUTHENTICATED),
            ("bad token", {"authorization": "Bearer not.a.jwt"}, CLOSE_UNAUTHENTICATED),
            ("wrong scope", {"authorization": "Bearer " + tk.hs256(scope="orders:read")}, CLOSE_FORBIDDEN),
        ]:
            with self.subTest(name):
                ws = communicator(**headers)
                connected, close_code = await ws.connect()
                self.assertFalse(connected)
                self.assertEqual(close_code, code)

    async def test_pushes_scored_orders(self):
        ws = communicator(authorization="Bearer " + tk.hs256(scope="analytics:read"))
        connected, _ = await ws.connect()
        self.assertTrue(connected)
        self.assertEqual((await ws.receive_json_from())["type"], "hello")
        await broadcast_order({"order_id": "o-1", "score": 12})
        msg = await ws.receive_json_from(timeout=5)
        self.assertEqual(msg, {"type": "order.scored", "order": {"order_id": "o-1", "score": 12}})
        await ws.send_json_to({"type": "ping"})
        self.assertEqual(await ws.receive_json_from(), {"type": "pong"})
        await ws.disconnect()
