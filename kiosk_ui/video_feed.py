"""The live feed's video topics (docs/video.md):

| topic | events | roles |
|---|---|---|
| tv_visit | the bed's invitation, acceptance, refusal, end | terminal (own bed) |
| visits | every step of the ward's visits | clinician, nurse (own ward) |
| visit_guest | admitted, ended | guest (own visit) |

Names people are known by in the visit and bed labels only."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kiosk_ui.auth import SignedIn
from kiosk_ui.live import LiveFeed, Topic
from kiosk_ui.video_api import staff_caller, visits_port
from kiosk_ui.video_models import tv_visit_out, visit_out
from wardline import appkeys as k
from wardline.domain.events import DomainEvent
from wardline.domain.video_events import (
    ALL_VISIT_EVENTS,
    VisitAccepted,
    VisitDeclined,
    VisitEnded,
    VisitEvent,
    VisitGuestAdmitted,
    VisitInvited,
    VisitParticipantEvent,
)
from wardline.domain.video_port import Caller


def _terminal_id(user: SignedIn) -> str | None:
    return user.username.removeprefix("terminal:") if "terminal" in user.roles else None


def _guest(user: SignedIn) -> tuple[int, int] | None:
    parts = user.username.split(":")
    if "guest" not in user.roles or len(parts) != 3 or not all(p.isdigit() for p in parts[1:]):
        return None
    return int(parts[1]), int(parts[2])


def _encode(event: DomainEvent) -> dict[str, Any] | None:
    if not isinstance(event, VisitEvent):
        return None
    out: dict[str, Any] = {
        "visit_id": event.visit_id,
        "bed": event.bed_label,
        "ward_code": event.ward_code,
    }
    if isinstance(event, VisitInvited):
        out.update(
            invited_by=event.invited_by,
            invited_by_role=event.invited_by_role,
            others=list(event.others),
        )
    if isinstance(event, VisitEnded):
        out["reason"] = event.reason
    if isinstance(event, VisitParticipantEvent):
        out.update(participant_id=event.participant_id, kind=event.kind, name=event.who)
    return out


def _own_bed(user: SignedIn, event: DomainEvent) -> bool:
    return isinstance(event, VisitEvent) and event.terminal_id == _terminal_id(user)


def _own_ward(user: SignedIn, event: DomainEvent) -> bool:
    return isinstance(event, VisitEvent) and user.ward_code in (None, event.ward_code)


def _own_visit(user: SignedIn, event: DomainEvent) -> bool:
    guest = _guest(user)
    if guest is None or not isinstance(event, VisitEvent) or event.visit_id != guest[0]:
        return False
    return not isinstance(event, VisitGuestAdmitted) or event.participant_id == guest[1]


async def _tv_snapshot(app: web.Application, user: SignedIn) -> dict[str, Any]:
    terminal = _terminal_id(user)
    port = app.get(k.VIDEO_VISITS)
    if port is None or terminal is None:
        return {"visit": None}
    view = await port.bed_visit(Caller("tv", terminal, user.display_name))
    if view is None:
        return {"visit": None}
    zone = await app[k.WARD_TIME].of_ward(view.ward_code)
    return {"visit": tv_visit_out(view, zone).model_dump(mode="json")}


async def _ward_snapshot(app: web.Application, user: SignedIn) -> dict[str, Any]:
    if app.get(k.VIDEO_VISITS) is None:
        return {"visits": []}
    views = await visits_port(app).visits(staff_caller(user), None)
    out = []
    for view in views:
        zone = await app[k.WARD_TIME].of_ward(view.ward_code)
        out.append(visit_out(view, zone).model_dump(mode="json"))
    return {"visits": out}


def register(feed: LiveFeed) -> None:
    feed.add_topic(
        Topic(
            "tv_visit",
            frozenset({"terminal"}),
            (VisitInvited, VisitAccepted, VisitDeclined, VisitEnded),
            encode=_encode,
            snapshot=_tv_snapshot,
            visible=_own_bed,
        )
    )
    feed.add_topic(
        Topic(
            "visits",
            frozenset({"clinician", "nurse"}),
            ALL_VISIT_EVENTS,
            encode=_encode,
            snapshot=_ward_snapshot,
            visible=_own_ward,
        )
    )
    feed.add_topic(
        Topic(
            "visit_guest",
            frozenset({"guest"}),
            (VisitGuestAdmitted, VisitEnded),
            encode=_encode,
            visible=_own_visit,
        )
    )
