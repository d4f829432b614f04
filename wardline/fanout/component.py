"""Wires the bridge between instances into the application (PostgreSQL only).

On SQLite (one instance by nature) or with ``WARDLINE_CLUSTER_EVENTS=false`` nothing is added:
the bus stays in-process, as with one instance.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from wardline import appkeys as k
from wardline.fanout.bridge import PeerEvents, PeerEventsCollector

PEER_EVENTS = web.AppKey("peer_events", PeerEvents)


def setup(app: web.Application) -> None:
    settings, database = app[k.SETTINGS], app[k.DATABASE]
    if database.is_sqlite or not settings.cluster_events:
        return
    bridge = PeerEvents(database, app[k.BUS], channel=settings.cluster_events_channel)
    app[PEER_EVENTS] = bridge
    app[k.METRICS].register(PeerEventsCollector(bridge))
    app[k.READINESS].register("cluster_events", bridge.health)

    async def context(app: web.Application) -> AsyncIterator[None]:
        await bridge.start()
        yield
        await bridge.stop()

    app.cleanup_ctx.append(context)
