"""The in-memory picture of the PBX: channels, calls (grouped by Linkedid), bridges, queue
callers, parked calls and phones. Plain data, no I/O; :mod:`telephony.calls.state` moves it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from telephony.config.dialplan import DIALPLAN
from wardline.domain.call_events import Disposition, PhoneState
from wardline.domain.switchboard_port import CallPhase, CallView

PHONE_TECHS = ("PJSIP/", "SIP/", "IAX2/")

DEVICE_STATES: dict[str, PhoneState] = {
    "NOT_INUSE": "idle",
    "INUSE": "in_use",
    "BUSY": "in_use",
    "RINGING": "ringing",
    "RINGINUSE": "ringing",
    "ONHOLD": "on_hold",
    "UNAVAILABLE": "unavailable",
    "INVALID": "unavailable",
    "UNKNOWN": "unavailable",
}

DIAL_DISPOSITIONS: dict[str, Disposition] = {
    "BUSY": "busy",
    "NOANSWER": "no_answer",
    "CANCEL": "no_answer",
    "CHANUNAVAIL": "failed",
    "CONGESTION": "failed",
}

# Q.850 causes of the calling side's hang-up that say why an unanswered call failed.
HANGUP_CAUSES: dict[str, Disposition] = {
    "1": "failed",
    "3": "failed",
    "17": "busy",
    "19": "no_answer",
    "21": "failed",
    "27": "failed",
    "34": "failed",
    "38": "failed",
}


def now() -> datetime:
    return datetime.now(UTC)


_HOUSEKEEPING = f"Local/{DIALPLAN.astdb_write}@{DIALPLAN.astdb_context}-"


def not_a_call(channel: str) -> bool:
    """Wardline's own AstDB writes (Local channels into the AstDB context): never a call."""
    return channel.startswith(_HOUSEKEEPING)


def phone_of_channel(channel: str) -> str | None:
    """``PJSIP/2001-0000000a`` -> ``2001``; None for Local channels, the trunk
    (``PJSIP/wardline-trunk-...``: phones are extensions, digits only) and odd channels."""
    for tech in PHONE_TECHS:
        if channel.startswith(tech):
            rest = channel[len(tech) :]
            name, sep, _ = rest.rpartition("-")
            phone = name if sep and name else rest
            return phone if phone.isdigit() else None
    return None


def extension_of_channel(channel: str) -> str | None:
    """A phone's extension, or the extension a Local channel runs (``Local/2003@from-staff-
    00000001;1`` -> ``2003``, as Asterisk dials an attended transfer's target)."""
    phone = phone_of_channel(channel)
    if phone is None and channel.startswith("Local/"):
        exten = channel.removeprefix("Local/").partition("@")[0]
        return exten if exten.isdigit() else None
    return phone


def dialled_extension(dial_string: str) -> str | None:
    """``2002``, ``PJSIP/2002`` or ``2002@from-staff`` -> ``2002``; None when no digits."""
    text = dial_string.rpartition("/")[2].partition("@")[0].partition(",")[0]
    return text if text.isdigit() else None


def phone_of_device(device: str) -> str | None:
    """``PJSIP/2001`` -> ``2001``; None for Queue:, Park:, Local devices."""
    for tech in PHONE_TECHS:
        if device.startswith(tech):
            name = device[len(tech) :]
            return name if name.isdigit() else None
    return None


def clean(value: str) -> str:
    return "" if value in ("<unknown>", "<Unknown>") else value


@dataclass(slots=True)
class Channel:
    uniqueid: str
    name: str
    linkedid: str
    state: str
    caller_number: str
    caller_name: str
    exten: str
    created_at: datetime
    bridge: str | None = None
    on_hold: bool = False

    @property
    def phone(self) -> str | None:
        return phone_of_channel(self.name)


@dataclass(slots=True)
class Call:
    call_id: str
    caller_number: str
    caller_name: str
    called_extension: str
    started_at: datetime
    channels: dict[str, Channel] = field(default_factory=dict)
    extensions: list[str] = field(default_factory=list)
    answered_at: datetime | None = None
    queue: str | None = None
    parked_space: str | None = None
    transferred: bool = False
    abandoned: bool = False
    merged: bool = False
    dial_failure: Disposition | None = None
    handled_by: str | None = None
    rang: set[str] = field(default_factory=set)

    def add_extension(self, extension: str | None) -> None:
        if extension and extension not in self.extensions:
            self.extensions.append(extension)

    def disposition(self) -> Disposition:
        if self.merged:
            return "merged"
        if self.abandoned:
            return "abandoned"
        if self.answered_at is not None:
            return "answered"
        return self.dial_failure or "no_answer"

    def phase(self) -> CallPhase:
        if self.parked_space is not None:
            return "parked"
        if self.queue is not None:
            return "queued"
        if any(ch.on_hold for ch in self.channels.values()):
            return "on_hold"
        if self.answered_at is not None:
            return "talking"
        if any(ch.state == "Ringing" for ch in self.channels.values()):
            return "ringing"
        if any(ch.state == "Up" for ch in self.channels.values()):
            return "talking"  # answered by the dialplan itself (an announcement, a wait)
        return "dialing"

    def present_extensions(self) -> list[str]:
        """The phones on the call now (a phone whose channels all left is no longer shown;
        :attr:`extensions` keeps every phone the call reached, for the call record)."""
        here = {ch.phone for ch in self.channels.values() if ch.phone}
        return [ext for ext in self.extensions if ext in here]

    def view(self) -> CallView:
        return CallView(
            call_id=self.call_id,
            phase=self.phase(),
            caller_number=self.caller_number,
            caller_name=self.caller_name,
            called_extension=self.called_extension,
            extensions=tuple(self.present_extensions()),
            started_at=self.started_at,
            answered_at=self.answered_at,
            queue=self.queue,
            parked_space=self.parked_space,
            handled_by=self.handled_by,
        )


@dataclass(slots=True)
class QueueCaller:
    uniqueid: str
    call_id: str
    position: int
    joined_at: datetime


@dataclass(slots=True)
class ParkedCall:
    space: str
    uniqueid: str
    call_id: str
    lot: str
    timeout_seconds: int
    parked_at: datetime


@dataclass(slots=True)
class Phone:
    extension: str
    state: PhoneState = "unavailable"
    registered: bool = False
