"""``setup(app)``: the bedside edge in the composition root (cleanup context, app keys,
readiness check ``mqtt``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from bedside.edge import BedsideEdge
from bedside.options import BedsideOptions
from bedside.presence import TerminalRegistry
from wardline import appkeys as k
from wardline.domain.nurse_call_port import NurseCallPort

BEDSIDE = web.AppKey("bedside", BedsideEdge)
NURSE_CALLS: web.AppKey[NurseCallPort] = web.AppKey("nurse_calls")
TERMINALS = web.AppKey("terminals", TerminalRegistry)


def setup(app: web.Application) -> None:
    settings = app[k.SETTINGS]
    if not settings.mqtt_enabled:

        def disabled() -> dict[str, Any]:
            return {"state": "disabled"}

        app[k.READINESS].register("mqtt", disabled)
        return
    edge = BedsideEdge(
        settings, BedsideOptions(), db=app[k.DATABASE], bus=app[k.BUS], stays=app[k.STAYS],
        clock=app[k.CLOCK],
    )  # fmt: skip
    app[BEDSIDE] = edge
    app[NURSE_CALLS] = edge.nurse_calls
    app[TERMINALS] = edge.registry
    app[k.READINESS].register("mqtt", edge.health)
    app.cleanup_ctx.append(_bedside_context)


async def _bedside_context(app: web.Application) -> AsyncIterator[None]:
    edge = app[BEDSIDE]
    await edge.start()
    yield
    await edge.stop()
