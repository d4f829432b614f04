"""The live feed's topics: which events, for which roles, encoded how, and their snapshot.

| topic | events | roles |
|---|---|---|
| calls | call events, queues, PBX connection | switchboard, admin |
| phones | phone states (the lamps) | switchboard, admin |
| nurse_calls | nurse calls raised, escalated, acknowledged, cleared | nurse (own ward), desk |
| terminals | terminal offline / back online | nurse (own ward), admin |
| stays | a bed became occupied or free (no patient, no clinical data) | nurse, desk |

(desk: switchboard and admin)
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web

from kiosk_ui.auth import SignedIn
from kiosk_ui.inventory_read import ward_codes
from kiosk_ui.live import LiveFeed, Topic
from wardline import appkeys as k
from wardline.domain.call_events import (
    CallEvent,
    PbxConnectionChanged,
    PhoneStateChanged,
    QueueChanged,
)
from wardline.domain.events import (
    DomainEvent,
    StayAdmitted,
    StayCancelled,
    StayDischarged,
    StayReopened,
    StayTransferred,
)
from wardline.domain.nurse_call_events import NurseCallEvent
from wardline.domain.terminal_events import TerminalBackOnline, TerminalOfflineAlert

STAFF_DESK = frozenset({"switchboard", "admin"})


def _own_ward(user: SignedIn, event: DomainEvent) -> bool:
    if user.roles & STAFF_DESK or user.ward_code is None:
        return True
    return getattr(event, "ward_code", user.ward_code) == user.ward_code


def _stay(event: DomainEvent) -> dict[str, Any] | None:
    """Which beds changed occupancy: bed labels and wards only."""
    if isinstance(event, StayTransferred):
        return {
            "freed": {"bed": event.from_bed.label, "ward_code": event.from_bed.ward_code},
            "occupied": {"bed": event.to_bed.label, "ward_code": event.to_bed.ward_code},
        }
    if isinstance(event, StayAdmitted | StayReopened):
        return {"occupied": {"bed": event.bed.label, "ward_code": event.bed.ward_code}}
    if isinstance(event, StayDischarged | StayCancelled) and event.bed is not None:
        return {"freed": {"bed": event.bed.label, "ward_code": event.bed.ward_code}}
    return None


async def calls_snapshot(app: web.Application, user: SignedIn) -> dict[str, Any]:
    board = app.get(k.SWITCHBOARD)
    if board is None:
        return {"calls": [], "queues": {}, "parked": {}}
    snap = board.snapshot()
    return {
        "calls": [plain_call(c) for c in snap.calls],
        "queues": {q: list(ids) for q, ids in snap.queues.items()},
        "parked": dict(snap.parked),
    }


def plain_call(call: Any) -> dict[str, Any]:
    out = asdict(call)
    out["extensions"] = list(call.extensions)
    return out


async def phones_snapshot(app: web.Application, user: SignedIn) -> dict[str, str]:
    board = app.get(k.SWITCHBOARD)
    return dict(board.snapshot().phones) if board is not None else {}


async def nurse_calls_snapshot(app: web.Application, user: SignedIn) -> list[dict[str, Any]]:
    port = app.get(k.NURSE_CALLS)
    if port is None:
        return []
    wards = [user.ward_code] if user.ward_code and not user.roles & STAFF_DESK else None
    if wards is None:
        wards = await ward_codes(app[k.DATABASE])
    rings = app.get(k.NURSE_CALL_RINGS)
    out: list[dict[str, Any]] = []
    for ward in wards:
        for c in await port.open_calls(ward):
            item = asdict(c)
            item["ring"] = rings.ring_state(c.call_id) if rings is not None else None
            out.append(item)
    return out


def register(feed: LiveFeed) -> None:
    feed.add_topic(
        Topic(
            "calls",
            STAFF_DESK,
            (CallEvent, QueueChanged, PbxConnectionChanged),
            snapshot=calls_snapshot,
        )
    )
    feed.add_topic(Topic("phones", STAFF_DESK, (PhoneStateChanged,), snapshot=phones_snapshot))
    feed.add_topic(
        Topic(
            "nurse_calls",
            STAFF_DESK | {"nurse"},
            (NurseCallEvent,),
            snapshot=nurse_calls_snapshot,
            visible=_own_ward,
        )
    )
    feed.add_topic(
        Topic(
            "terminals",
            frozenset({"admin", "nurse"}),
            (TerminalOfflineAlert, TerminalBackOnline),
            visible=_own_ward,
        )
    )
    feed.add_topic(
        Topic(
            "stays",
            STAFF_DESK | {"nurse"},
            (StayAdmitted, StayTransferred, StayDischarged, StayCancelled, StayReopened),
            encode=_stay,
        )
    )
