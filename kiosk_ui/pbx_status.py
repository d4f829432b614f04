"""What the console shows of the telephony link: up, or down since when.

The web edge follows :class:`PbxConnectionChanged` on the bus from the moment the service
starts, so a console loaded while the PBX is unreachable shows it at once, and one that is
open sees the change on its live feed within the second the link drops.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from aiohttp import web

from wardline import appkeys as k
from wardline.domain.call_events import PbxConnectionChanged

PbxState = Literal["up", "down", "absent"]


@dataclass
class PbxStatus:
    state: PbxState
    since: datetime

    async def on_change(self, event: PbxConnectionChanged) -> None:
        if event.state != self.state:
            self.state = event.state
            self.since = datetime.now(UTC)


PBX_STATUS = web.AppKey("kiosk_ui.pbx_status", PbxStatus)


def track(app: web.Application) -> None:
    """Start following the link (call once, when the web edge is set up)."""
    state: PbxState = "down" if app.get(k.SWITCHBOARD) is not None else "absent"
    status = PbxStatus(state, datetime.now(UTC))
    app[PBX_STATUS] = status
    app[k.BUS].subscribe(PbxConnectionChanged, status.on_change, name="kiosk_ui.pbx_status")


def status_of(app: web.Application) -> PbxStatus:
    status = app.get(PBX_STATUS)
    if status is None:
        return PbxStatus("absent", datetime.now(UTC))
    if status.state == "absent" and app.get(k.SWITCHBOARD) is not None:
        status.state = "down"  # the telephony edge was wired after the web
    return status
