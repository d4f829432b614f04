"""Domain events of live calls and phones, published by the telephony edge.

Calls are identified by ``call_id`` (stable for the whole call, across transfers); phones by
their extension. No PBX vocabulary here: consumers see calls, extensions, queues, parking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from wardline.domain.events import DomainEvent

PhoneState = Literal["idle", "ringing", "in_use", "on_hold", "unavailable"]
Disposition = Literal["answered", "no_answer", "busy", "failed", "abandoned", "merged", "unknown"]
"""``merged``: the call joined an older one (a parked call picked up) and goes on there."""
TransferKind = Literal["blind", "attended"]


@dataclass(frozen=True, kw_only=True)
class CallEvent(DomainEvent):
    call_id: str


@dataclass(frozen=True, kw_only=True)
class CallRinging(CallEvent):
    """A phone rings for this call (``ringing_extension``); the first ring opens the call."""

    caller_number: str
    caller_name: str
    called_extension: str
    ringing_extension: str


@dataclass(frozen=True, kw_only=True)
class CallAnswered(CallEvent):
    answered_by: str


@dataclass(frozen=True, kw_only=True)
class CallQueued(CallEvent):
    queue: str
    caller_number: str
    position: int


@dataclass(frozen=True, kw_only=True)
class CallTransferred(CallEvent):
    kind: TransferKind
    to_extension: str
    by_extension: str


@dataclass(frozen=True, kw_only=True)
class CallParked(CallEvent):
    space: str
    timeout_seconds: int


@dataclass(frozen=True, kw_only=True)
class CallUnparked(CallEvent):
    space: str
    by_extension: str
    timed_out: bool


@dataclass(frozen=True, kw_only=True)
class CallEnded(CallEvent):
    caller_number: str
    called_extension: str
    extensions: tuple[str, ...]
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    disposition: Disposition
    transferred: bool


@dataclass(frozen=True, kw_only=True)
class PhoneStateChanged(DomainEvent):
    extension: str
    state: PhoneState
    previous: PhoneState | None


@dataclass(frozen=True, kw_only=True)
class QueueChanged(DomainEvent):
    """The waiting callers of a queue changed (``waiting`` holds their call ids, in order)."""

    queue: str
    waiting: tuple[str, ...]
    abandoned: str | None = None


@dataclass(frozen=True, kw_only=True)
class PbxConnectionChanged(DomainEvent):
    state: Literal["up", "down"]
