"""Live push from the consumer process to the web processes' WebSocket clients.

The Kafka consumer (manage.py consume_orders) runs as its own process, so an in-memory channel layer
cannot reach the web process's sockets. Instead the consumer runs pg_notify('orders_scored', order_id) in
the transaction that stores the score; PostgreSQL delivers it on commit to every connection that
LISTENs. Each web process keeps one such connection (started by the ASGI lifespan, see asgi.py), loads
the order and hands it to its in-memory channel layer group. Several web replicas each push to their
own clients; nothing is pushed before it is committed (so the REST API agrees with the socket); and no
extra infrastructure (Redis) is needed.
"""

from __future__ import annotations

import asyncio
import logging

import psycopg
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import close_old_connections, connections

from .consumers import GROUP
from .ingest import NOTIFY_CHANNEL
from .models import Order
from .serializers import OrderSerializer

log = logging.getLogger(__name__)


async def broadcast_order(order: dict) -> None:
    await get_channel_layer().group_send(GROUP, {"type": "order.scored", "order": order})


@sync_to_async
def _load(order_id: str) -> dict | None:
    close_old_connections()  # this thread lives as long as the server: drop connections past their age
    try:
        order = Order.objects.get(order_id=order_id)
    except (Order.DoesNotExist, ValueError):
        return None
    return dict(OrderSerializer(order).data)


def _conninfo() -> str | None:
    db = connections["default"].settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        return None
    return psycopg.conninfo.make_conninfo(
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        dbname=db["NAME"],
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        application_name="analytics-live",
    )


async def listen_forever() -> None:
    """LISTENs for scored orders and broadcasts them; reconnects with backoff until cancelled."""
    conninfo = _conninfo()
    if conninfo is None:
        log.info("live push disabled: the database is not PostgreSQL")
        return
    delay = 0.5
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                log.info("listening for scored orders on channel %s", NOTIFY_CHANNEL)
                delay = 0.5
                async for note in conn.notifies():
                    order = await _load(note.payload)
                    if order is not None:
                        await broadcast_order(order)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - keep the listener alive across database restarts
            log.warning("live listener lost its connection (%s); retrying in %.1fs", e, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)
