"""The wire form of the domain events that cross between instances: a pure, typed codec.

One notification is a compact JSON object ``{"v": 1, "o": origin, "t": type, "e": fields}``.
Only the event types of :data:`CROSSING` are encoded or decoded; each field is checked
against its dataclass annotation on the way in (a wrong type, a missing or an extra field is a
:class:`NoticeInvalid` with a stable id, never an exception from deep inside), so a garbled
notification cannot put a half-built event on the bus. Events carry ids, beds and extensions
only (see ``wardline.domain.events``): nothing clinical goes through the database's channel.

Which events cross, and why:

- **stays and lines** (admitted, transferred, discharged, cancelled, reopened, leave,
  patient updated, line changed): changes of the database, made by one instance; every
  console and TV shows the beds, and the owner of the bed-line effects (a lease) acts on them
  whichever instance applied the ADT message;
- **nurse calls** (raised, escalated, acknowledged, cleared, ringing, ring failed): the press
  is handled by one instance (a shared subscription), the consoles of all show it, and the
  instance ringing the station stops when a nurse acknowledges on another;
- **EHR refusals** (a bedside write refused, an ADT message refused): the admin and the nurse
  see them on whichever instance they are signed in;
- **sessions ended** (signed out, account changed): the sockets of the session are closed on
  every instance at once (each also checks its sockets' sessions every few seconds).

What does not cross: what every instance derives from its own AMI connection (calls, phone
lamps, queues, the PBX link, a ring answered at a phone: each instance sees Asterisk itself,
so crossing would show everything twice); what every instance derives from the broker (a
terminal offline or back: every instance reads the terminals' retained status); the ring
wanted for a nurse call (a command to the telephony of the instance that raised it: crossing
would ring the station twice); the inventory loaded (each instance rebuilds from the
database itself); :class:`~wardline.domain.fanout_events.ClusterResync` (local by nature).
"""

from __future__ import annotations

import dataclasses
import json
import types
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from wardline.domain.ehr_events import AdtMessageRefused, BedsideWriteRefused
from wardline.domain.events import (
    BedRef,
    DomainEvent,
    LineChanged,
    PatientUpdated,
    StayAdmitted,
    StayCancelled,
    StayDischarged,
    StayLeaveChanged,
    StayReopened,
    StayTransferred,
)
from wardline.domain.line_events import LineNumberSwapped
from wardline.domain.nurse_call_events import (
    NurseCallAcknowledged,
    NurseCallCleared,
    NurseCallEscalated,
    NurseCallRaised,
    NurseCallRingFailed,
    NurseCallRinging,
)
from wardline.domain.session_events import SessionsEnded

VERSION = 1
NOTIFY_LIMIT = 7900
"""Bytes of a notification payload sent as is (PostgreSQL refuses 8000 and more): a longer
event is stored in a row and its id is notified instead."""

CROSSING: tuple[type[DomainEvent], ...] = (
    StayAdmitted, StayTransferred, StayDischarged, StayCancelled, StayReopened,
    StayLeaveChanged, PatientUpdated, LineChanged, LineNumberSwapped,
    NurseCallRaised, NurseCallEscalated, NurseCallAcknowledged, NurseCallCleared,
    NurseCallRinging, NurseCallRingFailed,
    BedsideWriteRefused, AdtMessageRefused,
    SessionsEnded,
)  # fmt: skip
_BY_NAME: dict[str, type[DomainEvent]] = {kind.__name__: kind for kind in CROSSING}
_NESTED: dict[type[Any], type[Any]] = {BedRef: BedRef}


class NoticeInvalid(ValueError):
    """A notification that is not an event this instance can take (``error_id`` says why)."""

    def __init__(self, error_id: str, message: str) -> None:
        super().__init__(f"{error_id}: {message}")
        self.error_id = error_id


@dataclass(frozen=True)
class Notice:
    """A decoded notification: the instance that produced it and its event (``origin`` set)."""

    origin: str
    event: DomainEvent


@dataclass(frozen=True)
class StoredRef:
    """A notification naming a stored event (one too long for the channel)."""

    origin: str
    ref: int


def crosses(event: DomainEvent) -> bool:
    """Whether ``event`` is sent to the other instances (exactly the types of CROSSING: a
    subclass of a crossing type is not taken for it)."""
    return _BY_NAME.get(type(event).__name__) is type(event)


def encode(event: DomainEvent, origin: str) -> str:
    """The notification of a local event. Raises ValueError for an event that does not cross
    or already came from another instance."""
    if not crosses(event):
        raise ValueError(f"{event.name} does not cross between instances")
    if event.origin is not None:
        raise ValueError("an event received from another instance is not sent again")
    fields = {
        f.name: _plain(getattr(event, f.name))
        for f in dataclasses.fields(event)
        if f.name != "origin"
    }
    return json.dumps(
        {"v": VERSION, "o": origin, "t": event.name, "e": fields},
        separators=(",", ":"),
        ensure_ascii=False,
    )


def encode_ref(origin: str, ref: int) -> str:
    return json.dumps({"v": VERSION, "o": origin, "r": ref}, separators=(",", ":"))


@dataclass(frozen=True)
class Unsent:
    """An instance could not send some of its events (its database was away): the others
    rebuild their live views from the database."""

    origin: str


def encode_unsent(origin: str) -> str:
    return json.dumps({"v": VERSION, "o": origin, "unsent": True}, separators=(",", ":"))


def decode(text: str) -> Notice | StoredRef | Unsent:
    """A notification read back; raises :class:`NoticeInvalid` for anything else."""
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        raise NoticeInvalid("fanout.not_json", "the notification is not JSON") from None
    if not isinstance(raw, dict):
        raise NoticeInvalid("fanout.not_object", "the notification is not a JSON object")
    if raw.get("v") != VERSION:
        raise NoticeInvalid("fanout.version", "unknown notification version")
    origin = raw.get("o")
    if not isinstance(origin, str) or not 0 < len(origin) <= 200:
        raise NoticeInvalid("fanout.origin", "the notification names no instance")
    if set(raw) == {"v", "o", "unsent"} and raw["unsent"] is True:
        return Unsent(origin)
    if set(raw) == {"v", "o", "r"}:
        ref = raw["r"]
        if type(ref) is not int or ref <= 0:
            raise NoticeInvalid("fanout.ref", "the stored event's id is not a positive integer")
        return StoredRef(origin, ref)
    if set(raw) != {"v", "o", "t", "e"}:
        raise NoticeInvalid("fanout.shape", "the notification has unknown or missing keys")
    kind = _BY_NAME.get(raw["t"]) if isinstance(raw["t"], str) else None
    if kind is None:
        raise NoticeInvalid("fanout.unknown_event", "the event type does not cross")
    if not isinstance(raw["e"], dict):
        raise NoticeInvalid("fanout.fields", "the event's fields are not an object")
    values = _build(kind, raw["e"], kind.__name__)
    return Notice(origin, kind(**values, origin=origin))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(kind: type[Any]) -> dict[str, Any]:
    """The annotated fields of a dataclass but ``origin`` (resolved once per type)."""
    found = _HINTS.get(kind)
    if found is None:
        hints = get_type_hints(kind)
        found = {f.name: hints[f.name] for f in dataclasses.fields(kind) if f.name != "origin"}
        _HINTS[kind] = found
    return found


def _build(kind: type[Any], fields: dict[str, Any], path: str) -> dict[str, Any]:
    hints = _hints(kind)
    unknown = set(fields) - set(hints)
    if unknown:
        raise NoticeInvalid("fanout.fields", f"{path}: unknown field(s)")
    missing = set(hints) - set(fields)
    if missing:
        raise NoticeInvalid("fanout.fields", f"{path}: missing field(s) {sorted(missing)}")
    return {name: _value(fields[name], hint, f"{path}.{name}") for name, hint in hints.items()}


def _value(value: Any, hint: Any, path: str) -> Any:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _value(value, option, path)
            except NoticeInvalid:
                continue
        raise NoticeInvalid("fanout.field_type", f"{path}: wrong type")
    if origin is Literal:
        if value not in get_args(hint) or isinstance(value, bool):
            raise NoticeInvalid("fanout.field_type", f"{path}: not an allowed value")
        return value
    if origin is tuple:
        item = get_args(hint)[0]
        if not isinstance(value, list):
            raise NoticeInvalid("fanout.field_type", f"{path}: not a list")
        return tuple(_value(v, item, f"{path}[]") for v in value)
    if hint is str:
        if not isinstance(value, str):
            raise NoticeInvalid("fanout.field_type", f"{path}: not a string")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise NoticeInvalid("fanout.field_type", f"{path}: not a boolean")
        return value
    if hint is int:
        if type(value) is not int:
            raise NoticeInvalid("fanout.field_type", f"{path}: not an integer")
        return value
    if hint is float:
        if type(value) not in (int, float):
            raise NoticeInvalid("fanout.field_type", f"{path}: not a number")
        return float(value)
    if hint is datetime:
        return _datetime(value, path)
    nested = _NESTED.get(hint)
    if nested is not None:
        if not isinstance(value, dict):
            raise NoticeInvalid("fanout.field_type", f"{path}: not an object")
        return nested(**_build(nested, value, path))
    raise NoticeInvalid("fanout.field_type", f"{path}: a type the codec does not carry")


def _datetime(value: Any, path: str) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise NoticeInvalid("fanout.field_type", f"{path}: not a time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise NoticeInvalid("fanout.field_type", f"{path}: not a time") from None
    if moment.tzinfo is None:
        raise NoticeInvalid("fanout.field_type", f"{path}: a time without its offset")
    return moment
