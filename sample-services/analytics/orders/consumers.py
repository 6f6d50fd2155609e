"""WebSocket /ws/orders: pushes every scored order to connected clients as it is stored."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from .auth import TokenError, bearer_token, principal_from_token

GROUP = "orders.scored"
# Close codes in the 4000-4999 range are the application's; these mirror HTTP 401/403.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


class ScoredOrdersConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self.scope.get("headers", [])}
        token = bearer_token(headers.get("authorization"))
        try:
            # may fetch the gateway's JWKS: off the event loop
            principal = await sync_to_async(principal_from_token)(token) if token else None
        except TokenError:
            principal = None
        if principal is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not principal.has_scope(settings.ANALYTICS_SCOPE):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "subscribed": GROUP})

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def order_scored(self, event: dict) -> None:
        """Handler for group messages of type "order.scored"."""
        await self.send_json({"type": "order.scored", "order": event["order"]})
