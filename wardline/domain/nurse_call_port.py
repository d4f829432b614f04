"""The nurse-call service as other edges see it (the web: the TV's call button, the console).

Implemented by ``bedside.nurse_call.NurseCalls``. Errors are domain errors:
``NotFound`` (unknown bed or call), ``Conflict`` (call already cleared),
``PermissionDenied`` (the user is neither a nurse nor the switchboard).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, kw_only=True)
class NurseCallView:
    call_id: int
    bed_label: str
    ward_code: str
    source: str
    state: str  # open, acknowledged, cleared
    level: int
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    cleared_at: datetime | None
    cleared_by: str | None
    response_seconds: float | None


class NurseCallPort(Protocol):
    async def raise_from_tv(self, bed_label: str) -> NurseCallView:
        """The patient asked for a nurse on the TV; an open call of the bed is returned as is."""
        ...

    async def acknowledge(self, call_id: int, user: str, via: str = "console") -> NurseCallView:
        """A nurse or the switchboard (user name) takes the call: the rings and the
        escalation stop; audited. An acknowledged call is returned as is."""
        ...

    async def clear_by_badge(self, bed_label: str, badge_id: str) -> NurseCallView | None:
        """A nurse's badge at the bed clears its call; None when nothing was cleared."""
        ...

    async def open_calls(self, ward_code: str) -> list[NurseCallView]:
        """Calls of the ward not cleared yet, oldest first."""
        ...


class NurseCallRingPort(Protocol):
    """What telephony tells of a nurse call's ring (for the console's snapshot)."""

    def ring_state(self, call_id: int) -> str | None:
        """``ringing``, ``failed:<reason>``, or None (not ringing, or not known)."""
        ...
