"""The TV's live topic ``tv_bed``: its bed's nurse calls (received, acknowledged, cleared) and
the calls ringing its phone. Bed labels, extensions and caller numbers only."""

from __future__ import annotations

from typing import Any

from kiosk_ui.auth import SignedIn
from kiosk_ui.live import Topic
from wardline.domain.call_events import CallAnswered, CallEnded, CallRinging
from wardline.domain.events import DomainEvent
from wardline.domain.nurse_call_events import (
    NurseCallAcknowledged,
    NurseCallCleared,
    NurseCallRaised,
)


def _own_bed(user: SignedIn, event: DomainEvent) -> bool:
    if isinstance(event, CallRinging):
        return event.ringing_extension == user.extension
    if isinstance(event, CallEnded):
        return user.extension in event.extensions or event.called_extension == user.extension
    if isinstance(event, CallAnswered):
        return event.answered_by == user.extension
    return getattr(event, "bed_label", None) == user.display_name


def _encode(event: DomainEvent) -> dict[str, Any] | None:
    if isinstance(event, CallRinging):
        return {"call_id": event.call_id, "caller": event.caller_name or event.caller_number}
    if isinstance(event, CallAnswered | CallEnded):
        return {"call_id": event.call_id}
    if isinstance(event, NurseCallRaised | NurseCallAcknowledged | NurseCallCleared):
        return {"call_id": event.call_id}
    return None


def tv_topic() -> Topic:
    return Topic(
        "tv_bed",
        frozenset({"terminal"}),
        (
            CallRinging,
            CallAnswered,
            CallEnded,
            NurseCallRaised,
            NurseCallAcknowledged,
            NurseCallCleared,
        ),
        encode=_encode,
        visible=_own_bed,
    )
