"""Wiring of the telephony edge into the application: ``setup(app)``.

Adds the PBX session (AMI link + live state + actions) under :data:`TELEPHONY`, the
switchboard and AstDB ports under :data:`SWITCHBOARD` and :data:`ASTDB`, a call-record
writer on the bus, a readiness check ``pbx`` (connection state, last resync time) and a
cleanup context that starts the link (when ``ami_enabled``) and stops it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from telephony.call_records import CallRecordWriter
from telephony.pbx_session import PbxSession
from wardline import appkeys as k
from wardline.domain.call_events import CallEnded

TELEPHONY = web.AppKey("telephony", PbxSession)
SWITCHBOARD = k.SWITCHBOARD
"""Implemented by :class:`PbxActions` (``wardline.domain.switchboard_port.Switchboard``)."""
ASTDB = k.ASTDB
"""Implemented by :class:`PbxActions` (``wardline.domain.switchboard_port.AstDB``)."""


def setup(app: web.Application) -> None:
    settings, bus = app[k.SETTINGS], app[k.BUS]
    session = PbxSession.from_settings(settings, bus.publish)
    app[TELEPHONY] = session
    app[SWITCHBOARD] = session.actions
    app[ASTDB] = session.actions
    writer = CallRecordWriter(unit_of_work=app[k.DATABASE].session)
    bus.subscribe(CallEnded, writer, name="telephony.call_records")

    def pbx_check() -> dict[str, Any]:
        if not settings.ami_enabled:
            return {"state": "disabled"}
        return session.link.readiness()

    app[k.READINESS].register("pbx", pbx_check)
    app.cleanup_ctx.append(_pbx_context)


async def _pbx_context(app: web.Application) -> AsyncIterator[None]:
    session = app[TELEPHONY]
    if app[k.SETTINGS].ami_enabled:
        await session.start()
    yield
    await session.stop()
