"""ASGI entry point: HTTP (Django + DRF), WebSocket (Channels) and lifespan (the live-push listener)."""

import asyncio
import contextlib
import logging
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_site.settings")

from orders import telemetry  # noqa: E402 - no Django import in it

telemetry.setup(django_requests=True)  # before Django loads its middleware; off without OTEL_* env
django_asgi_app = get_asgi_application()  # before importing anything that touches models

from asgiref.sync import sync_to_async  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from orders.consumers import ScoredOrdersConsumer  # noqa: E402
from orders.devprep import prepare  # noqa: E402
from orders.live import listen_forever  # noqa: E402

log = logging.getLogger("analytics.lifespan")


async def lifespan(scope, receive, send) -> None:
    """Runs the PostgreSQL LISTEN task for as long as the server runs."""
    task: asyncio.Task | None = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            # Under devstack: migrate when a migration is unapplied and ensure the dev superuser, before
            # the server listens (so readiness means migrated); a hot reload has nothing to migrate.
            if os.environ.get("ANALYTICS_PREPARE_ON_START") == "1":
                try:
                    await sync_to_async(prepare)()
                except Exception as exc:  # noqa: BLE001 - reported to the server, which exits
                    log.exception("preparing the database failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
            task = asyncio.create_task(listen_forever(), name="live-listener")
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await send({"type": "lifespan.shutdown.complete"})
            return


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter([path("ws/orders", ScoredOrdersConsumer.as_asgi())]),
        "lifespan": lifespan,
    }
)
