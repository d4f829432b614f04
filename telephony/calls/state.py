"""Live call and phone state, moved by AMI events, speaking domain events.

:meth:`CallState.on_event` takes every AMI event (unknown ones are ignored) and publishes
:mod:`wardline.domain.call_events` through ``publish``. A call is the set of channels sharing
a Linkedid; when its last channel hangs up it is published as ``CallEnded`` and forgotten
(channels, queue entry, parking, claim: nothing stays in memory). After a reconnect,
:mod:`telephony.calls.resync` replaces the whole picture and publishes the differences.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import structlog

from telephony.ami.frames import AmiMessage
from telephony.calls.features import CallFeatures
from telephony.calls.model import (
    DEVICE_STATES,
    DIAL_DISPOSITIONS,
    HANGUP_CAUSES,
    Call,
    Channel,
    ParkedCall,
    Phone,
    QueueCaller,
    clean,
    dialled_extension,
    not_a_call,
    now,
    phone_of_device,
)
from telephony.errors import CallConflict, UnknownCall
from telephony.nurse_call_legs import is_nurse_ring
from wardline.domain.call_events import (
    CallAnswered,
    CallEnded,
    CallRinging,
    PhoneState,
    PhoneStateChanged,
)
from wardline.domain.events import DomainEvent
from wardline.domain.switchboard_port import SwitchboardSnapshot

log = structlog.get_logger(__name__)

Publish = Callable[[DomainEvent], None]


class CallState(CallFeatures):
    def __init__(self, publish: Publish | None = None) -> None:
        self.publish: Publish = publish or (lambda _event: None)
        self.channels: dict[str, Channel] = {}
        self.calls: dict[str, Call] = {}
        self.bridges: dict[str, set[str]] = {}
        self.queues: dict[str, dict[str, QueueCaller]] = {}
        self.parked: dict[str, ParkedCall] = {}
        self.phones: dict[str, Phone] = {}
        self.claims: dict[str, str] = {}
        self.on_release: Callable[[str, str], None] = lambda _call, _operator: None
        """Told when an operator's claim ends because they left the call (the shared claims
        in the database follow)."""
        self.bridge_names: dict[str, list[str]] = {}
        """Bridge -> the channel names that entered it (the last 256 bridges), for the
        attended transfer whose target left its bridge before Asterisk reports it."""
        self.dialling: dict[str, str] = {}
        """Calls Wardline originates (its ChannelId) -> the extension dialled."""
        self.ignored = 0
        self._routes: dict[str, Callable[[AmiMessage], None]] = {
            "Newchannel": self._newchannel,
            "Newstate": self._newstate,
            "NewCallerid": self._newcallerid,
            "Rename": self._rename,
            "DialBegin": self._dialbegin,
            "DialEnd": self._dialend,
            "BridgeEnter": self._bridgeenter,
            "BridgeLeave": self._bridgeleave,
            "BridgeDestroy": self._bridgedestroy,
            "Hold": self._hold,
            "Unhold": self._hold,
            "Hangup": self._hangup,
            "QueueCallerJoin": self._queuejoin,
            "QueueCallerLeave": self._queueleave,
            "QueueCallerAbandon": self._queueabandon,
            "AgentConnect": self._agentconnect,
            "ParkedCall": self._parked,
            "UnParkedCall": self._unparked,
            "ParkedCallTimeOut": self._unparked,
            "ParkedCallGiveUp": self._unparked,
            "BlindTransfer": self._blindtransfer,
            "AttendedTransfer": self._attendedtransfer,
            "DeviceStateChange": self._devicestate,
            "ContactStatus": self._contactstatus,
        }

    # --- entry point ------------------------------------------------------------------------
    def on_event(self, frame: AmiMessage) -> None:
        route = self._routes.get(frame.name)
        if route is None or (frame.action_id and frame.name == "DeviceStateChange"):
            self.ignored += 1  # unknown events, and list items outside a resync
            return
        route(frame)

    # --- reads ------------------------------------------------------------------------------
    def snapshot(self) -> SwitchboardSnapshot:
        waiting = {c.call_id: c for q in self.queues.values() for c in q.values()}
        views = []
        for call in self.calls.values():
            view = call.view()
            entry = waiting.get(call.call_id)
            if entry is not None:
                view = replace(view, queue_position=entry.position, queued_since=entry.joined_at)
            views.append(view)
        return SwitchboardSnapshot(
            calls=tuple(views),
            phones={ext: phone.state for ext, phone in sorted(self.phones.items())},
            queues={
                name: tuple(c.call_id for c in sorted(q.values(), key=lambda c: c.position))
                for name, q in sorted(self.queues.items())
            },
            parked={space: p.call_id for space, p in sorted(self.parked.items())},
        )

    def call(self, call_id: str) -> Call:
        call = self.calls.get(call_id)
        if call is None:
            raise UnknownCall(call_id)
        return call

    # --- claims: one operator per call ------------------------------------------------------
    def claim(self, call_id: str, operator: str) -> None:
        call = self.call(call_id)
        holder = self.claims.get(call_id)
        if holder is not None and holder != operator:
            raise CallConflict(call_id, holder)
        self.claims[call_id] = operator
        call.handled_by = operator

    def hold(self, call_id: str, operator: str) -> None:
        """Record a claim granted elsewhere (the database's claims): no check here."""
        self.claims[call_id] = operator
        call = self.calls.get(call_id)
        if call is not None:
            call.handled_by = operator

    def release(self, call_id: str, operator: str) -> None:
        if self.claims.get(call_id) == operator:
            del self.claims[call_id]
            call = self.calls.get(call_id)
            if call is not None:
                call.handled_by = None

    # --- channels ---------------------------------------------------------------------------
    def _channel_from(self, frame: AmiMessage) -> Channel:
        return Channel(
            uniqueid=frame.get("Uniqueid"),
            name=frame.get("Channel"),
            linkedid=frame.get("Linkedid") or frame.get("Uniqueid"),
            state=frame.get("ChannelStateDesc"),
            caller_number=clean(frame.get("CallerIDNum")),
            caller_name=clean(frame.get("CallerIDName")),
            exten=frame.get("Exten"),
            created_at=now(),
        )

    def add_channel(self, channel: Channel) -> Call:
        self.channels[channel.uniqueid] = channel
        call = self.calls.get(channel.linkedid)
        if call is None:
            call = Call(
                call_id=channel.linkedid,
                caller_number=channel.caller_number,
                caller_name=channel.caller_name,
                called_extension=self.dialling.pop(channel.linkedid, channel.exten),
                started_at=channel.created_at,
            )
            self.calls[call.call_id] = call
        call.channels[channel.uniqueid] = channel
        call.add_extension(channel.phone)
        return call

    def _newchannel(self, frame: AmiMessage) -> None:
        if frame.get("Uniqueid") in self.channels or not_a_call(frame.get("Channel")):
            return
        channel = self._channel_from(frame)
        if is_nurse_ring(channel.linkedid):
            self.ignored += 1  # the nurse-call ringer follows its own rings
            return
        self.add_channel(channel)

    def _known(self, frame: AmiMessage, prefix: str = "") -> Channel | None:
        return self.channels.get(frame.get(prefix + "Uniqueid"))

    def _newstate(self, frame: AmiMessage) -> None:
        channel = self._known(frame)
        if channel is None:
            return
        channel.state = frame.get("ChannelStateDesc")
        if channel.state == "Ringing":
            self._ringing(channel)

    def _ringing(self, channel: Channel) -> None:
        call = self.calls.get(channel.linkedid)
        phone = channel.phone
        if call is None or phone is None or phone in call.rang:
            return
        call.rang.add(phone)
        self.publish(
            CallRinging(
                call_id=call.call_id,
                caller_number=call.caller_number,
                caller_name=call.caller_name,
                called_extension=call.called_extension,
                ringing_extension=phone,
            )
        )

    def _newcallerid(self, frame: AmiMessage) -> None:
        channel = self._known(frame)
        if channel is None:
            return
        channel.caller_number = clean(frame.get("CallerIDNum"))
        channel.caller_name = clean(frame.get("CallerIDName"))
        call = self.calls.get(channel.linkedid)
        if call is not None and channel.uniqueid == call.call_id:
            call.caller_number, call.caller_name = channel.caller_number, channel.caller_name

    def _rename(self, frame: AmiMessage) -> None:
        channel = self._known(frame)
        if channel is not None:
            channel.name = frame.get("Newname") or channel.name

    def _dialbegin(self, frame: AmiMessage) -> None:
        dest = self._known(frame, "Dest")
        if dest is not None:
            call = self.calls.get(dest.linkedid)
            if call is not None:
                call.add_extension(dest.phone)
                # a console dial starts at exten s: the number is the one its channel dials
                # (the Originate's own DialBegin, of the operator's phone, has no caller)
                if call.called_extension in ("", "s") and frame.get("Uniqueid"):
                    dialled = dialled_extension(frame.get("DialString"))
                    call.called_extension = dialled or dest.phone or call.called_extension

    def _dialend(self, frame: AmiMessage) -> None:
        dest = self._known(frame, "Dest")
        status = frame.get("DialStatus")
        call = self.calls.get(dest.linkedid if dest else frame.get("Linkedid"))
        if call is None:
            return
        if status == "ANSWER" and dest is not None:
            if dest.phone is not None:  # a Local channel answering is not a person
                self._answered(call, dest.phone)
        elif status in DIAL_DISPOSITIONS:
            call.dial_failure = DIAL_DISPOSITIONS[status]

    def _answered(self, call: Call, by: str) -> None:
        if call.answered_at is None:
            call.answered_at = now()
            self.publish(CallAnswered(call_id=call.call_id, answered_by=by))

    def _agentconnect(self, frame: AmiMessage) -> None:
        call = self.calls.get(frame.get("Linkedid"))
        if call is not None:
            self._answered(call, phone_of_device(frame.get("Interface")) or "")

    def _bridgeenter(self, frame: AmiMessage) -> None:
        bridge = frame.get("BridgeUniqueid")
        channel = self._known(frame)
        self.bridges.setdefault(bridge, set())
        names = self.bridge_names.setdefault(bridge, [])
        if frame.get("Channel") not in names:
            names.append(frame.get("Channel"))
        while len(self.bridge_names) > 256:
            del self.bridge_names[next(iter(self.bridge_names))]
        if channel is not None:
            channel.bridge = bridge
            self.bridges[bridge].add(channel.uniqueid)
            linkedid = frame.get("Linkedid")
            if linkedid and linkedid != channel.linkedid:
                self._relink(channel, linkedid)

    def _relink(self, channel: Channel, linkedid: str) -> None:
        """Asterisk gave the channel the Linkedid of an older call it is bridged with (a
        parked call picked up): the channel's call is merged into that one."""
        old = self.calls.get(channel.linkedid)
        channel.linkedid = linkedid
        if old is not None:
            old.channels.pop(channel.uniqueid, None)
        target = self.calls.get(linkedid)
        if target is None:
            self.add_channel(channel)
        else:
            target.channels[channel.uniqueid] = channel
            target.add_extension(channel.phone)
        if old is not None and not old.channels:
            old.merged = True
            self.end_call(old)

    def _bridgeleave(self, frame: AmiMessage) -> None:
        channel = self._known(frame)
        members = self.bridges.get(frame.get("BridgeUniqueid"))
        if channel is not None:
            channel.bridge = None
            if members is not None:
                members.discard(channel.uniqueid)

    def _bridgedestroy(self, frame: AmiMessage) -> None:
        self.bridges.pop(frame.get("BridgeUniqueid"), None)

    def _hold(self, frame: AmiMessage) -> None:
        channel = self._known(frame)
        if channel is not None:
            channel.on_hold = frame.name == "Hold"

    def _hangup(self, frame: AmiMessage) -> None:
        channel = self.channels.pop(frame.get("Uniqueid"), None)
        if channel is None:
            return
        if channel.bridge is not None:
            self.bridges.get(channel.bridge, set()).discard(channel.uniqueid)
        call = self.calls.get(channel.linkedid)
        if call is None:
            return
        call.channels.pop(channel.uniqueid, None)
        holder = self.claims.get(call.call_id)
        if (
            holder is not None
            and holder == channel.phone
            and channel.state == "Up"  # they were on it (not a queue ring cancelled)
            and call.channels
            and not any(ch.phone == holder for ch in call.channels.values())
        ):
            self.release(call.call_id, holder)  # the operator left the call
            self.on_release(call.call_id, holder)
        failure = HANGUP_CAUSES.get(frame.get("Cause"))
        if failure is not None and call.answered_at is None and channel.uniqueid == call.call_id:
            call.dial_failure = failure
        if not call.channels:
            self.end_call(call)

    def end_call(self, call: Call) -> None:
        self.calls.pop(call.call_id, None)
        self.claims.pop(call.call_id, None)
        for uniqueid in list(call.channels):
            self.channels.pop(uniqueid, None)
        for name, queue in self.queues.items():
            if any(c.call_id == call.call_id for c in queue.values()):
                for key in [k for k, c in queue.items() if c.call_id == call.call_id]:
                    del queue[key]
                self._queue_changed(name)
        for space in [s for s, p in self.parked.items() if p.call_id == call.call_id]:
            del self.parked[space]
        self.publish(
            CallEnded(
                call_id=call.call_id,
                caller_number=call.caller_number,
                called_extension=call.called_extension,
                extensions=tuple(call.extensions),
                started_at=call.started_at,
                answered_at=call.answered_at,
                ended_at=now(),
                disposition=call.disposition(),
                transferred=call.transferred,
            )
        )

    # --- phones -----------------------------------------------------------------------------
    def set_phone(self, extension: str, state: PhoneState) -> None:
        phone = self.phones.get(extension)
        if phone is None:
            phone = self.phones[extension] = Phone(extension, state)
            self.publish(PhoneStateChanged(extension=extension, state=state, previous=None))
        elif phone.state != state:
            previous, phone.state = phone.state, state
            self.publish(PhoneStateChanged(extension=extension, state=state, previous=previous))

    def _devicestate(self, frame: AmiMessage) -> None:
        extension = phone_of_device(frame.get("Device"))
        state = DEVICE_STATES.get(frame.get("State"))
        if extension is not None and state is not None:
            self.set_phone(extension, state)

    def _contactstatus(self, frame: AmiMessage) -> None:
        extension = frame.get("AOR") or frame.get("EndpointName")
        if extension:
            registered = frame.get("ContactStatus") in {"Reachable", "Created", "Updated"}
            phone = self.phones.setdefault(extension, Phone(extension))
            phone.registered = registered
