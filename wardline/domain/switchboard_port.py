"""What the other edges may ask of the telephony edge: the switchboard's actions on calls,
a read of the live state, and the PBX key-value store the bed lines are written to.

Implemented by ``telephony``; used by the web console and the bed-line feature through these
Protocols only. Errors raised are ``wardline.errors.WardlineError`` subclasses with stable ids:
``pbx.unreachable``, ``pbx.login_refused``, ``pbx.action_failed``, ``pbx.timeout``,
``pbx.call_conflict``, ``pbx.unknown_call``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from wardline.domain.call_events import PhoneState

CallPhase = Literal["ringing", "talking", "queued", "parked", "on_hold", "dialing"]


@dataclass(frozen=True, kw_only=True)
class CallView:
    call_id: str
    phase: CallPhase
    caller_number: str
    caller_name: str
    called_extension: str
    extensions: tuple[str, ...]
    started_at: datetime
    answered_at: datetime | None
    queue: str | None = None
    queue_position: int | None = None
    queued_since: datetime | None = None
    parked_space: str | None = None
    handled_by: str | None = None
    """The operator (extension) who took this call, while they hold it."""


@dataclass(frozen=True, kw_only=True)
class SwitchboardSnapshot:
    calls: tuple[CallView, ...]
    phones: dict[str, PhoneState]
    queues: dict[str, tuple[str, ...]]
    parked: dict[str, str] = field(default_factory=dict)
    """Parking space -> call id."""


class Switchboard(Protocol):
    """Actions of a switchboard operator (``operator`` is the operator's phone extension).

    The first operator to act on a call takes it (``CallView.handled_by``) until it ends or is
    parked; another operator's action on it raises ``pbx.call_conflict`` and sends nothing.
    Every action has a timeout (``pbx.timeout``) and fails at once when the PBX is down
    (``pbx.unreachable``); nothing is ever sent later on its own.
    """

    async def call_bed(self, operator: str, bed_extension: str) -> str:
        """Ring the operator's phone, then the bed; returns the new call id."""
        ...

    async def transfer_blind(self, call_id: str, to_extension: str, operator: str) -> None: ...

    async def transfer_attended(self, call_id: str, to_extension: str, operator: str) -> None:
        """Consult ``to_extension`` from the operator's leg; hanging up completes it."""
        ...

    async def complete_transfer(self, call_id: str, operator: str) -> None:
        """Complete the operator's attended transfer (their leg leaves the call)."""
        ...

    async def cancel_transfer(self, call_id: str, operator: str) -> None:
        """Abandon the consultation: the target is hung up, the operator is back with the
        caller."""
        ...

    async def hangup(self, call_id: str, operator: str) -> None: ...

    async def park(self, call_id: str, operator: str) -> str:
        """Park the caller's side of the call; returns the parking space."""
        ...

    async def pickup(self, space: str, operator: str) -> None: ...

    def snapshot(self) -> SwitchboardSnapshot: ...


class AstDB(Protocol):
    """The PBX's persistent key-value store the dialplan reads (bed line state)."""

    async def put(self, family: str, key: str, value: str) -> None: ...

    async def get(self, family: str, key: str) -> str | None: ...

    async def delete(self, family: str, key: str) -> bool:
        """True when the key existed."""
        ...

    async def tree(self, family: str) -> dict[str, str]:
        """Every key under ``family`` (``family/`` stripped), value by key."""
        ...

    async def write(self, puts: Mapping[str, str], deletes: Iterable[str]) -> None:
        """Write ``puts`` and delete ``deletes`` (full keys ``family/key``), in as few
        round trips as the PBX allows."""
        ...


class ClaimStore(Protocol):
    """Where the operators' claims on calls live when several instances share them (the
    database, ``wardline.fanout.claims``): one holder per call."""

    async def claim(self, call_id: str, operator: str) -> str:
        """Claim unless another holds the call; return the holder."""
        ...

    async def release(self, call_id: str, operator: str) -> None: ...

    async def ended(self, call_id: str) -> None: ...
