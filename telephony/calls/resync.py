"""Rebuild the call picture from Asterisk after every (re)connect, and publish what changed.

The lists asked for: CoreShowChannels (channels, calls, bridges), DeviceStateList (phones),
QueueStatus (waiting callers), ParkedCalls. Registrations come from the device states
(``UNAVAILABLE``: no reachable contact) and ContactStatus events: PJSIPShowContacts needs
the ``system`` class the account does not have (and answers ``Response: Error``, ``No Contacts
found`` for an empty list, which a list reader must take as empty). Nothing seen
before the gap is trusted: calls that are gone end (disposition as far as known), calls that
appeared start, phones, queues and parking spaces that differ are published.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from telephony.ami.frames import AmiMessage
from telephony.ami.link import AmiLink
from telephony.calls.model import (
    DEVICE_STATES,
    Call,
    Channel,
    ParkedCall,
    QueueCaller,
    clean,
    not_a_call,
    now,
    phone_of_device,
)
from telephony.calls.state import CallState
from telephony.errors import PbxActionFailed
from telephony.nurse_call_legs import is_nurse_ring
from wardline.domain.call_events import (
    CallAnswered,
    CallParked,
    CallUnparked,
    PhoneState,
    PhoneStateChanged,
)

LISTS = {
    "channels": "CoreShowChannels",
    "devices": "DeviceStateList",
    "queues": "QueueStatus",
    "parked": "ParkedCalls",
}


@dataclass
class PbxSnapshot:
    channels: list[AmiMessage] = field(default_factory=list)
    devices: list[AmiMessage] = field(default_factory=list)
    queues: list[AmiMessage] = field(default_factory=list)
    parked: list[AmiMessage] = field(default_factory=list)


EMPTY_LIST = frozenset({"No Contacts found"})
"""Refusals that mean an empty list (Asterisk 22's PJSIPShowContacts with no phone registered)."""

# ExtensionStatus codes (hint state) -> the device state names of DeviceStateList.
HINT_STATES = {
    "0": "NOT_INUSE",
    "1": "INUSE",
    "2": "BUSY",
    "4": "UNAVAILABLE",
    "8": "RINGING",
    "9": "RINGINUSE",
    "16": "ONHOLD",
    "17": "ONHOLD",
    "-1": "UNAVAILABLE",
    "-2": "UNAVAILABLE",
}


async def fetch_snapshot(link: AmiLink) -> PbxSnapshot:
    """Ask every list at once; each answer is its items (the response and Complete dropped).

    When DeviceStateList is refused (older Asterisk, or a user without the right), the
    phones' states come from ExtensionStateList (the hints) instead.
    """
    answers = await asyncio.gather(
        *(link.send({"Action": name}) for name in LISTS.values()), return_exceptions=True
    )
    snapshot = PbxSnapshot()
    for key, frames in zip(LISTS, answers, strict=True):
        if key == "devices" and isinstance(frames, PbxActionFailed):
            frames = await _hint_states(link)
        if isinstance(frames, PbxActionFailed) and frames.details.get("reason") in EMPTY_LIST:
            frames = []  # Asterisk answers an empty list with an error
        if isinstance(frames, BaseException):
            raise frames
        items = [f for f in frames[1:] if not f.name.endswith("Complete")] if frames else []
        setattr(snapshot, key, items)
    return snapshot


async def _hint_states(link: AmiLink) -> list[AmiMessage]:
    frames = await link.send({"Action": "ExtensionStateList"})
    out = frames[:1]
    for item in frames[1:]:
        if item.name == "ExtensionStatus":
            state = HINT_STATES.get(item.get("Status"), "UNAVAILABLE")
            device = f"PJSIP/{item.get('Exten')}"
            out.append(
                AmiMessage("event", "DeviceStateChange", [("Device", device), ("State", state)])
            )
    return out


def _duration(text: str) -> timedelta:
    try:
        hours, minutes, seconds = (int(p) for p in text.split(":"))
    except ValueError:
        return timedelta(0)
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def apply_snapshot(state: CallState, snap: PbxSnapshot) -> None:
    """Replace ``state`` by the snapshot, publishing the differences as domain events."""
    publish = state.publish
    old_calls, old_parked = state.calls, state.parked
    old_queues = {name: state.snapshot().queues.get(name, ()) for name in state.queues}
    old_phones = {ext: phone.state for ext, phone in state.phones.items()}

    state.publish = lambda _event: None  # rebuild quietly, then publish the differences
    try:
        state.channels, state.calls, state.bridges = {}, {}, {}
        state.queues, state.parked = {}, {}
        at = now()
        for item in snap.channels:
            if not_a_call(item.get("Channel")):
                continue
            channel = Channel(
                uniqueid=item.get("Uniqueid"),
                name=item.get("Channel"),
                linkedid=item.get("Linkedid") or item.get("Uniqueid"),
                state=item.get("ChannelStateDesc"),
                caller_number=clean(item.get("CallerIDNum")),
                caller_name=clean(item.get("CallerIDName")),
                exten=item.get("Exten"),
                created_at=at - _duration(item.get("Duration")),
                bridge=item.get("BridgeId") or None,
            )
            if is_nurse_ring(channel.linkedid):
                continue
            call = state.add_channel(channel)
            call.started_at = min(call.started_at, channel.created_at)
            if channel.uniqueid == call.call_id:
                call.caller_number, call.caller_name = channel.caller_number, channel.caller_name
                call.called_extension = channel.exten
            if channel.bridge:
                state.bridges.setdefault(channel.bridge, set()).add(channel.uniqueid)
        for members in state.bridges.values():
            if len(members) >= 2:
                # no answer time in CoreShowChannels: the youngest channel of the bridge (the
                # one answered last) was created just before it answered (its ringing time)
                joined = max(state.channels[uniqueid].created_at for uniqueid in members)
                for uniqueid in members:
                    call = state.calls[state.channels[uniqueid].linkedid]
                    call.answered_at = min(call.answered_at or joined, joined)
        for item in snap.queues:
            if item.name != "QueueEntry":
                continue
            uniqueid = item.get("Uniqueid")
            queued = state.channels.get(uniqueid)
            call_id = queued.linkedid if queued else uniqueid
            wait = int(item.get("Wait") or 0)
            entry = QueueCaller(
                uniqueid, call_id, int(item.get("Position") or 0), at - timedelta(seconds=wait)
            )
            state.queues.setdefault(item.get("Queue"), {})[uniqueid] = entry
            if call_id in state.calls:
                state.calls[call_id].queue = item.get("Queue")
                state.calls[call_id].answered_at = None
        for item in snap.parked:
            space = item.get("ParkingSpace")
            call_id = item.get("ParkeeLinkedid") or item.get("ParkeeUniqueid")
            state.parked[space] = ParkedCall(
                space,
                item.get("ParkeeUniqueid"),
                call_id,
                item.get("Parkinglot"),
                int(item.get("ParkingTimeout") or 0),
                at,
            )
            if call_id in state.calls:
                state.calls[call_id].parked_space = space
        new_phones: dict[str, PhoneState] = {}
        for item in snap.devices:
            device_ext = phone_of_device(item.get("Device"))
            mapped = DEVICE_STATES.get(item.get("State"))
            if device_ext is not None and mapped is not None:
                new_phones[device_ext] = mapped
    finally:
        state.publish = publish

    _merge_calls(state, old_calls)
    for ext, phone_state in new_phones.items():
        state.set_phone(ext, phone_state)
        state.phones[ext].registered = phone_state != "unavailable"
    for ext, previous in old_phones.items():
        if ext not in new_phones and previous != "unavailable":
            state.phones[ext].state = "unavailable"
            publish(PhoneStateChanged(extension=ext, state="unavailable", previous=previous))
    for space, parked in state.parked.items():
        if space not in old_parked or old_parked[space].call_id != parked.call_id:
            publish(
                CallParked(
                    call_id=parked.call_id, space=space, timeout_seconds=parked.timeout_seconds
                )
            )
    for space, parked in old_parked.items():
        if space not in state.parked or state.parked[space].call_id != parked.call_id:
            publish(
                CallUnparked(call_id=parked.call_id, space=space, by_extension="", timed_out=False)
            )
    new_queues = state.snapshot().queues
    for name in sorted(set(old_queues) | set(new_queues)):
        if old_queues.get(name, ()) != new_queues.get(name, ()):
            state._queue_changed(name)


def _merge_calls(state: CallState, old_calls: dict[str, Call]) -> None:
    """Keep what was known of surviving calls; end the vanished ones; announce new ones."""
    for call_id, old in old_calls.items():
        call = state.calls.get(call_id)
        if call is None:
            state.end_call(old)  # ended during the gap
            continue
        call.started_at = old.started_at
        call.transferred, call.abandoned = old.transferred, old.abandoned
        call.rang = old.rang
        call.handled_by = old.handled_by
        for ext in old.extensions:
            call.add_extension(ext)
        if old.answered_at is not None and call.answered_at is not None:
            call.answered_at = old.answered_at
        elif old.answered_at is None and call.answered_at is not None:
            state.publish(CallAnswered(call_id=call_id, answered_by=_answerer(call)))
    for call_id, call in state.calls.items():
        if call_id in old_calls:
            continue
        for channel in call.channels.values():
            if channel.state == "Ringing":
                state._ringing(channel)
        if call.answered_at is not None:
            state.publish(CallAnswered(call_id=call_id, answered_by=_answerer(call)))
    for call_id in list(state.claims):
        if call_id not in state.calls:
            del state.claims[call_id]


def _answerer(call: Call) -> str:
    others = [ch.phone for ch in call.channels.values() if ch.uniqueid != call.call_id and ch.phone]
    return others[0] if others else ""
