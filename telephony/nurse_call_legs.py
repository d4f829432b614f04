"""The rings Wardline placed for nurse calls, as the PBX reports them (pure bookkeeping, no I/O).

Each ring of one phone is a *leg*: an ``Originate`` of ``Local/<phone>@wl-nurse-ring`` whose
``ChannelId`` Wardline chooses (``wlnc-<call>-<n>``), so the Local channel's ``Uniqueid`` is
known before the PBX creates it, and every channel of the ring shares it as ``Linkedid`` (the
Local channels and the phone's channel the dialplan's ``Dial`` creates). A leg is *ringing*
once one of its channels is ``Ringing``, *answered* once the phone's channel is ``Up``, and
*ended* when its Local channel hangs up (or the ``OriginateResponse`` of its ``ActionID``,
the ring id too, says it failed: the PBX could not even create it). Other calls' channels
are never looked at.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from telephony.ami.frames import AmiMessage

ANSWERED_EVENT = "WardlineNurseCallAnswered"
"""The ``UserEvent`` the ring's dialplan sends when a phone answers (``wl-nurse-answered``)."""


@dataclass
class RingLeg:
    ring_id: str
    call_id: int
    phone: str
    placed_at: float
    seen: bool = False
    ringing: bool = False
    answered: bool = False
    ended: bool = False

    @property
    def live(self) -> bool:
        return not self.ended


LegChange = Literal["ringing", "answered", "ended", "seen"]


@dataclass
class RingBook:
    """Every leg still of interest, by ring id (the Local channel's Uniqueid)."""

    clock: Callable[[], float] = time.monotonic
    legs: dict[str, RingLeg] = field(default_factory=dict)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def new_leg(self, call_id: int, phone: str) -> RingLeg:
        ring_id = f"wlnc-{self._run}-{call_id}-{next(self._seq)}"
        leg = RingLeg(ring_id=ring_id, call_id=call_id, phone=phone, placed_at=self.clock())
        self.legs[ring_id] = leg
        return leg

    def of_call(self, call_id: int) -> list[RingLeg]:
        return [leg for leg in self.legs.values() if leg.call_id == call_id]

    def forget(self, ring_id: str) -> None:
        self.legs.pop(ring_id, None)

    def on_frame(self, frame: AmiMessage) -> tuple[RingLeg, LegChange] | None:
        """Apply one AMI event; return the leg it changed and how (None: not one of ours)."""
        name = frame.name
        if name == "OriginateResponse":  # ActionID: the ring id (set on the Originate)
            failed = self.legs.get(frame.get("ActionID"))
            if failed is None or frame.get("Response") != "Failure" or failed.ended:
                return None
            failed.ended = True  # never created, or gone before anyone answered
            return failed, "ended"
        if name not in {"Newchannel", "Newstate", "Hangup"}:
            return None
        leg = self.legs.get(frame.get("Linkedid")) or self.legs.get(frame.get("Uniqueid"))
        if leg is None:
            return None
        own = frame.get("Uniqueid") == leg.ring_id
        if name == "Newchannel" and own and not leg.seen:
            leg.seen = True
            return leg, "seen"
        if name == "Hangup" and own:
            leg.ended = True
            return leg, "ended"
        if name == "Newstate":
            state = frame.get("ChannelStateDesc")
            if state == "Ringing" and not leg.ringing:
                leg.ringing = True
                return leg, "ringing"
            phone_leg = frame.get("Channel").startswith(("PJSIP/", "SIP/", "IAX2/"))
            if state == "Up" and phone_leg and not leg.answered:
                leg.answered = True
                return leg, "answered"
        return None


def answered_call(frame: AmiMessage) -> tuple[int, str, str] | None:
    """(nurse call id, answering phone, ring id) of the ring dialplan's answer report."""
    if frame.name != "UserEvent" or frame.get("UserEvent") != ANSWERED_EVENT:
        return None
    raw, phone = frame.get("NurseCall"), frame.get("Station")
    if not raw.isdigit() or not phone.isdigit():
        return None
    return int(raw), phone, frame.get("Uniqueid")
