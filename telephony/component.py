"""Wiring of the telephony edge into the application: ``setup(app)``.

Adds the PBX session (AMI link + live state + actions) under :data:`TELEPHONY`, the
switchboard and AstDB ports under :data:`SWITCHBOARD` and :data:`ASTDB`, a call-record
writer on the bus, the nurse-call ring (an open nurse call keeps the phones its ward's policy
names ringing until it is acknowledged or cleared, again after a PBX outage) under
:data:`NURSE_CALL_RING`, the bed lines (AstDB following the stays,
:data:`BED_LINES`) and line management (:data:`LINES`), readiness checks ``pbx`` (connection
state, last resync time, rings placed and failed) and ``bed_lines``, and a cleanup context
that starts the link (when ``ami_enabled``) and stops it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from aiohttp import web

from telephony.calls.records import CallRecordWriter
from telephony.calls.session import PbxSession
from telephony.lines.bed_lines import BedLines
from telephony.nurse_call_ring import NurseCallRinger
from wardline import appkeys as k
from wardline.cluster import leases
from wardline.domain.call_events import CallEnded
from wardline.domain.lines import Lines
from wardline.fanout.claims import CallClaims

TELEPHONY = web.AppKey("telephony", PbxSession)
NURSE_CALL_RING = web.AppKey("telephony.nurse_call_ring", NurseCallRinger)
SWITCHBOARD = k.SWITCHBOARD
"""Implemented by :class:`PbxActions` (``wardline.domain.switchboard_port.Switchboard``)."""
ASTDB = k.ASTDB
"""Implemented by :class:`PbxActions` (``wardline.domain.switchboard_port.AstDB``)."""
BED_LINES = web.AppKey("bed_lines", BedLines)
"""AstDB following the stays; reconciled after every (re)connect."""
LINES = web.AppKey("lines", Lines)
"""Line management (suspend, restore, barring, do-not-disturb, swap DID), audited."""


def setup(app: web.Application) -> None:
    settings, bus = app[k.SETTINGS], app[k.BUS]
    session = PbxSession.from_settings(settings, bus.publish)
    app[TELEPHONY] = session
    app[SWITCHBOARD] = session.actions
    app[ASTDB] = session.actions
    claims = CallClaims(app[k.DATABASE])  # one operator per call, whichever instance
    session.actions.share_claims(claims)
    bus.subscribe(CallEnded, lambda e: claims.ended(e.call_id), name="telephony.call_claims")
    writer = CallRecordWriter(unit_of_work=app[k.DATABASE].session)
    bus.subscribe(CallEnded, writer, name="telephony.call_records")
    ringer = NurseCallRinger(session.link, bus.publish)
    app[NURSE_CALL_RING] = ringer
    app[k.NURSE_CALL_RINGS] = ringer
    bus.subscribe(NurseCallRinger.EVENTS, ringer, name="telephony.nurse_call_ring")
    session.link.subscribe(ringer.on_frame)
    lease = app[k.LEASES].duty(leases.BED_LINES)
    bed_lines = BedLines(session.actions, app[k.DATABASE], lease=lease)
    bed_lines.subscribe(bus)
    app[BED_LINES] = bed_lines
    app[LINES] = Lines(
        app[k.DATABASE],
        bus,
        app[k.AUDIT],
        clock=app[k.CLOCK],
        quarantine=timedelta(hours=settings.did_quarantine_hours),
    )

    def pbx_check() -> dict[str, Any]:
        if not settings.ami_enabled:
            return {"state": "disabled"}
        return {**session.link.readiness(), "nurse_call_rings": ringer.readiness()}

    app[k.READINESS].register("pbx", pbx_check)
    app[k.READINESS].register("bed_lines", bed_lines.readiness)
    app.cleanup_ctx.append(_pbx_context)


async def _pbx_context(app: web.Application) -> AsyncIterator[None]:
    session, settings = app[TELEPHONY], app[k.SETTINGS]
    audits: asyncio.Task[None] | None = None
    if settings.ami_enabled:
        await session.start()
        if settings.lines_audit_seconds > 0:
            audits = asyncio.create_task(
                app[BED_LINES].audit_forever(settings.lines_audit_seconds),
                name="bed-lines-audit",
            )
    yield
    if audits is not None:
        audits.cancel()
        await asyncio.gather(audits, return_exceptions=True)
    await app[NURSE_CALL_RING].close()
    await session.stop()
    await app[BED_LINES].close()
