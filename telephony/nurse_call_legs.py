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
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from telephony.ami.frames import AmiMessage
from telephony.config.dialplan import DIALPLAN
from wardline.domain.nurse_call_events import NurseCallRingWanted

_UNSAFE = re.compile(r"[^\w .'()/-]", re.UNICODE)

RING_ID_PREFIX = "wlnc-"
"""Every ring's id (its Local channel's Uniqueid, the Linkedid of all its channels) starts so."""
ANSWERED_EVENT = DIALPLAN.nurse_answered_event
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
        ring_id = f"{RING_ID_PREFIX}{self._run}-{call_id}-{next(self._seq)}"
        leg = RingLeg(ring_id=ring_id, call_id=call_id, phone=phone, placed_at=self.clock())
        self.legs[ring_id] = leg
        return leg

    def adopt(self, ring_id: str, phone: str, age: float) -> RingLeg | None:
        """A ring found on the PBX (placed before a restart of Wardline): known again, so
        that it is stopped with its call; None when the id is not one of ours."""
        call_id = call_of_ring(ring_id)
        if call_id is None or ring_id in self.legs:
            return None
        leg = RingLeg(ring_id=ring_id, call_id=call_id, phone=phone,
                      placed_at=self.clock() - age, seen=True, ringing=True)  # fmt: skip
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


def call_of_ring(ring_id: str) -> int | None:
    """The nurse call of a ring id (``wlnc-<run>-<call>-<n>``), or None."""
    parts = ring_id.split("-")
    if len(parts) != 4 or parts[0] + "-" != RING_ID_PREFIX or not parts[2].isdigit():
        return None
    return int(parts[2])


def is_nurse_ring(linkedid: str) -> bool:
    """A channel of a nurse-call ring Wardline placed: not a call of the switchboard's
    picture nor of the call history (a ring placed again every ``reissue_seconds`` would
    fill both); the phones' lamps still show the station ringing."""
    return linkedid.startswith(RING_ID_PREFIX)


def answered_call(frame: AmiMessage) -> tuple[int, str, str] | None:
    """(nurse call id, answering phone, ring id) of the ring dialplan's answer report."""
    if frame.name != "UserEvent" or frame.get("UserEvent") != ANSWERED_EVENT:
        return None
    raw, phone = frame.get("NurseCall"), frame.get("Station")
    if not raw.isdigit() or not phone.isdigit():
        return None
    return int(raw), phone, frame.get("Uniqueid")


class NurseCallRingSettings(BaseModel):
    """Edge-local settings of the nurse-call ring (defaults match ``asterisk_conf``)."""

    context: str = Field(default=DIALPLAN.nurse_ring_context, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    answered_context: str = Field(
        default=DIALPLAN.nurse_answered_context, pattern=r"^[A-Za-z0-9_-]{1,64}$"
    )


def duration_seconds(duration: str) -> float:
    """``HH:MM:SS`` of CoreShowChannel."""
    try:
        hours, minutes, seconds = (int(p) for p in duration.split(":"))
    except ValueError:
        return 0.0
    return float(hours * 3600 + minutes * 60 + seconds)


def _display(text: str) -> str:
    """A caller name safe in an AMI header and a dialplan variable (no comma, quote, CR/LF)."""
    return _UNSAFE.sub(" ", text)[:60].strip()


def ring_originate(
    want: NurseCallRingWanted, leg: RingLeg, s: NurseCallRingSettings
) -> dict[str, str | list[str]]:
    """The Originate of one ring (its ActionID and ChannelId are the ring id)."""
    name = _display(want.caller_name)
    number = want.caller_number if want.caller_number.isdigit() else ""
    variables = [
        f"WL_NC_ID={want.call_id}",
        f"WL_NC_STATION={leg.phone}",
        f"WL_NC_BED={want.bed_extension}",
        f"WL_NC_CALLER={name}",
        f"WL_NC_NAMES={'bed' if want.names_from_bed else 'wardline'}",
        f"WL_NC_LIMIT={want.dial_limit_seconds}",
        f"WL_NC_CONNECT={1 if want.connect_bed else 0}",
    ]
    return {
        "Action": "Originate",
        "Channel": f"Local/{leg.phone}@{s.context}",
        "Context": s.answered_context,
        "Exten": DIALPLAN.nurse_answered_exten,
        "Priority": "1",
        "Async": "true",
        "ChannelId": leg.ring_id,
        "ActionID": leg.ring_id,
        "Timeout": str((want.dial_limit_seconds + 5) * 1000),
        "CallerID": f'"{name}" <{number}>' if number else name,
        "Variable": variables,
    }
