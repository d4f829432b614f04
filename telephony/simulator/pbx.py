"""The simulated PBX: phones, channels, bridges, the switchboard queue, parking and AstDB,
with the hospital's dialplan (:class:`SimInventory`, the lab by default), emitting the event
sequences Asterisk 22 emits.

Dialplan (the generated contexts, ``telephony/config/dialplan.py``): a bed calls out only
when AstDB ``bed/<ext>/active`` is
``1``, otherwise it is hung up with cause 21; the switchboard number and queue extension
(``9``, ``8000``) join the queue (its operators, ringall); parking spaces pick up a parked
call; a ward's nurse-call extension rings its nurse station; a known phone is dialled; a call
from outside to any other number is a direct number (DID, see :mod:`telephony.simulator.dialplan`);
anything else is hung up with cause 1.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

from telephony.lines.astdb_keys import ACTIVE, ON, bed_key
from telephony.simulator.generated import GeneratedDialplan
from telephony.simulator.inventory import SimInventory
from telephony.simulator.model import (
    CAUSES,
    PARKING_BRIDGE,
    Headers,
    SimChannel,
    SimPhone,
    bridge_headers,
    channel_headers,
    device_state_of,
)

Emit = Callable[[str, Headers, str], None]
"""(event name, headers, privilege class) -> None."""


class SimPbx:
    def __init__(
        self,
        *,
        registered: bool = True,
        parking_timeout: int = 45,
        inventory: SimInventory | None = None,
    ) -> None:
        self.inventory = inventory or SimInventory.lab()
        self.dialplan = GeneratedDialplan.of_plan(self.inventory.pbx_plan())
        """What the generated configuration of this hospital has (contexts, extensions)."""
        self.phones = {
            ext: SimPhone(ext, name, ward, registered, "NOT_INUSE" if registered else "UNAVAILABLE")
            for ext, (name, ward) in self.inventory.phones.items()
        }
        self.channels: dict[str, SimChannel] = {}
        self.bridges: dict[str, list[str]] = {}
        self.queue: list[str] = []
        self.queue_members = [op for op in self.inventory.operators if op in self.phones]
        self.parked: dict[str, tuple[str, str, float]] = {}
        """space -> (parkee uniqueid, parker phone, parked at)."""
        self.astdb: dict[str, str] = {}
        self.parking_timeout = parking_timeout
        self.listeners: list[Emit] = []
        self.originate_results: list[Callable[[int, Headers], None]] = []
        self._ids = itertools.count(1)
        self._epoch = int(time.time())
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self._call_order: dict[str, int] = {}
        self.consults: dict[str, tuple[str, str]] = {}
        """transferer uniqueid -> (transferee uniqueid, target uniqueid)."""

    # --- output -----------------------------------------------------------------------------
    def emit(self, name: str, headers: Headers, privilege: str = "call,all") -> None:
        for listener in list(self.listeners):
            listener(name, headers, privilege)

    def _new_channel(
        self,
        phone: str | None,
        tech_name: str,
        caller: tuple[str, str],
        exten: str,
        linkedid: str | None = None,
        uniqueid: str | None = None,
        state: int = 0,
        tech: str = "PJSIP",
    ) -> SimChannel:
        seq = next(self._ids)
        uid = uniqueid or f"{self._epoch}.{seq}"
        self._call_order.setdefault(linkedid or uid, seq)
        ward = self.phones[phone].ward if phone in self.phones else ""
        ch = SimChannel(
            uniqueid=uid,
            name=f"{tech}/{tech_name}-{seq:08x}" + (";1" if tech == "Local" else ""),
            linkedid=linkedid or uid,
            caller_num=caller[0],
            caller_name=caller[1],
            exten=exten,
            phone=phone,
            ward=ward,
            state=state,
            created_at=time.monotonic(),
        )
        self.channels[uid] = ch
        self.emit("Newchannel", channel_headers(ch))
        self._refresh(phone)
        return ch

    def local_run(self, target: str) -> SimChannel:
        """A Local channel that runs ``target`` (``exten@context``) and hangs up at once (the
        AstDB writes): its Newchannel and Hangup, as Asterisk sends them."""
        ch = self._new_channel(None, target, ("", ""), "s", state=6, tech="Local")
        self.hangup_channel(ch, cause=16)
        return ch

    def _set_state(self, ch: SimChannel, state: int) -> None:
        if ch.state != state:
            ch.state = state
            self.emit("Newstate", channel_headers(ch))
            self._refresh(ch.phone)

    def _refresh(self, ext: str | None) -> None:
        phone = self.phones.get(ext or "")
        if phone is None:
            return
        mine = [ch for ch in self.channels.values() if ch.phone == ext]
        state = device_state_of(phone, mine)
        if state != phone.device_state:
            phone.device_state = state
            self.emit("DeviceStateChange", [("Device", f"PJSIP/{ext}"), ("State", state)])

    def phone_channel(self, ext: str) -> SimChannel | None:
        """The phone's current leg (the newest one that is up, else ringing)."""
        mine = [ch for ch in self.channels.values() if ch.phone == ext]
        mine.sort(key=lambda ch: (ch.state == 6, ch.created_at))
        return mine[-1] if mine else None

    def by_name(self, name: str) -> SimChannel | None:
        """The channel of that name, or of that Uniqueid (as Asterisk's channel lookup)."""
        found = next((ch for ch in self.channels.values() if ch.name == name), None)
        return found or self.channels.get(name)

    # --- calls ------------------------------------------------------------------------------
    def dial(self, from_ext: str, to: str) -> str:
        """Phone ``from_ext`` goes off-hook and dials ``to``; returns the call id."""
        phone = self.phones[from_ext]
        ch = self._new_channel(from_ext, from_ext, (from_ext, phone.name), to, state=4)
        if self.inventory.is_bed(from_ext) and self.astdb.get(bed_key(from_ext, ACTIVE)) != ON:
            self.hangup_channel(ch, cause=21)  # the line of an empty bed is closed
        else:
            self.route(ch, to)
        return ch.linkedid

    def external_call(self, to: str, caller: str, name: str = "") -> str:
        """A call from outside (the trunk) to ``to``; returns the call id."""
        from telephony.simulator.dialplan import route_from_trunk

        ch = self._new_channel(None, "trunk", (caller, name), to, state=4)
        route_from_trunk(self, ch, to)
        return ch.linkedid

    def route(self, ch: SimChannel, exten: str) -> None:
        ch.exten = exten
        if exten in self.inventory.queue_extensions:
            self._enter_queue(ch)
        elif exten in self.inventory.parking_spaces:
            self._retrieve(ch, exten)
        elif exten in self.inventory.nurse_calls:
            from telephony.simulator.dialplan import ring_nurse_station

            ring_nurse_station(self, ch, exten)
        elif exten in self.phones:
            self._dial_phone(ch, exten)
        else:
            self.hangup_channel(ch, cause=1)

    def _dial_phone(self, caller: SimChannel, ext: str) -> None:
        target = self.phones[ext]
        busy = any(c.phone == ext for c in self.channels.values())
        if not target.registered or busy:
            status, cause = ("BUSY", 17) if busy else ("CHANUNAVAIL", 20)
            self.emit("DialEnd", [*channel_headers(caller), ("DialStatus", status)])
            self.hangup_channel(caller, cause=cause)
            return
        dest = self._new_channel(ext, ext, (ext, target.name), "s", linkedid=caller.linkedid)
        dest.connected_num, dest.connected_name = caller.caller_num, caller.caller_name
        dest.exten = ext
        caller.peer, dest.peer = dest.uniqueid, caller.uniqueid
        dest.dialer = caller.uniqueid
        self.emit(
            "DialBegin",
            [*channel_headers(caller), *channel_headers(dest, "Dest"), ("DialString", ext)],
        )
        caller.connected_num, caller.connected_name = ext, target.name
        self._set_state(dest, 5)
        self.emit(
            "DialState",
            [*channel_headers(caller), *channel_headers(dest, "Dest"), ("DialStatus", "RINGING")],
        )

    def answer(self, ext: str) -> None:
        """Phone ``ext`` picks up its ringing leg."""
        ch = next((c for c in self.channels.values() if c.phone == ext and c.state == 5), None)
        if ch is None:
            raise LookupError(f"{ext} is not ringing")
        self._set_state(ch, 6)
        if ch.originate is not None:  # the phone an Originate rang: now it dials
            from telephony.simulator.dialplan import originate_answered

            exten = ch.originate[2]
            originate_answered(self, ch)
            ch.caller_num, ch.caller_name = ch.phone or "", self.phones[ext].name
            ch.exten = exten
            self.route(ch, exten)
            return
        if ch.agent_for is not None:
            self._agent_answers(ch)
            return
        caller = self.channels.get(ch.peer or "")
        if caller is None:
            return
        self.emit(
            "DialEnd",
            [*channel_headers(caller), *channel_headers(ch, "Dest"), ("DialStatus", "ANSWER")],
        )
        self._set_state(caller, 6)
        if caller.originate is not None:
            from telephony.simulator.dialplan import originate_answered

            originate_answered(self, caller)
        if ch.consult_of is not None:
            self.leave_bridge(caller, keep_alone=True)  # the transferee waits on hold
        self.bridge(caller, ch)

    def bridge(self, a: SimChannel, b: SimChannel) -> str:
        bridge_id = f"b{next(self._ids):07d}-sim"
        self.bridges[bridge_id] = []
        self.emit("BridgeCreate", bridge_headers(bridge_id, 0))
        # Asterisk gives the channels of a bridge the oldest Linkedid among them.
        oldest = min((a.linkedid, b.linkedid), key=lambda lid: self._call_order.get(lid, 0))
        a.linkedid = b.linkedid = oldest
        for ch in (b, a):
            self.enter_bridge(bridge_id, ch)
        a.peer, b.peer = b.uniqueid, a.uniqueid
        return bridge_id

    def enter_bridge(self, bridge_id: str, ch: SimChannel) -> None:
        members = self.bridges.setdefault(bridge_id, [])
        members.append(ch.uniqueid)
        ch.bridge = bridge_id
        self.emit("BridgeEnter", [*bridge_headers(bridge_id, len(members)), *channel_headers(ch)])

    def leave_bridge(self, ch: SimChannel, keep_alone: bool = False) -> SimChannel | None:
        """Take ``ch`` out of its bridge; return the peer left alone (its bridge destroyed),
        unless ``keep_alone`` (a consultation: the bridge stays for the transferer's return)."""
        bridge_id = ch.bridge
        if bridge_id is None:
            return None
        members = self.bridges.get(bridge_id, [])
        if ch.uniqueid in members:
            members.remove(ch.uniqueid)
        ch.bridge = None
        self.emit("BridgeLeave", [*bridge_headers(bridge_id, len(members)), *channel_headers(ch)])
        if (keep_alone and members) or bridge_id == PARKING_BRIDGE:
            return None
        alone = self.channels.get(members[0]) if len(members) == 1 else None
        if alone is not None:
            members.clear()
            alone.bridge = None
            self.emit("BridgeLeave", [*bridge_headers(bridge_id, 0), *channel_headers(alone)])
        if not members:
            self.bridges.pop(bridge_id, None)
            self.emit("BridgeDestroy", bridge_headers(bridge_id, 0))
        return alone

    def hangup(self, ext: str) -> None:
        """Phone ``ext`` hangs up its current leg."""
        ch = self.phone_channel(ext)
        if ch is None:
            raise LookupError(f"{ext} has no call")
        self.hangup_channel(ch)

    def hangup_channel(self, ch: SimChannel, cause: int = 16, request: bool = True) -> None:
        """Hang ``ch`` up; a bridge peer left alone goes first (its Hangup precedes ours, and
        it gets no HangupRequest), as in the captures."""
        if ch.uniqueid not in self.channels:
            return
        from telephony.simulator.features import before_hangup

        before_hangup(self, ch)
        peer = self.channels.get(ch.peer or "") if ch.bridge is None else None
        dialing = (
            peer is not None
            and peer.bridge is None
            and (
                (peer.dialer == ch.uniqueid and peer.state != 6)
                or (ch.dialer == peer.uniqueid and ch.state != 6)
            )
        )
        if peer is not None and dialing:
            caller, dest = (ch, peer) if peer.dialer == ch.uniqueid else (peer, ch)
            status = "CANCEL" if caller is ch else "BUSY"
            self.emit(
                "DialEnd",
                [*channel_headers(caller), *channel_headers(dest, "Dest"), ("DialStatus", status)],
            )
        if request:
            self.emit("HangupRequest", [*channel_headers(ch), ("Cause", str(cause))])
        alone = self.leave_bridge(ch)
        if alone is not None:
            self.hangup_channel(alone, request=False)
        if ch.originate is not None:
            _session, action_id, exten = ch.originate
            self.emit(
                "OriginateResponse",
                [
                    ("ActionID", action_id),
                    ("Response", "Failure"),
                    ("Channel", ch.name),
                    ("Context", ch.context),
                    ("Exten", exten),
                    ("Reason", "1"),
                    ("Uniqueid", "<unknown>"),
                    ("CallerIDNum", "<unknown>"),
                    ("CallerIDName", "<unknown>"),
                ],
            )
        del self.channels[ch.uniqueid]
        self.emit(
            "Hangup",
            [
                *channel_headers(ch),
                ("Cause", str(cause)),
                ("Cause-txt", CAUSES.get(cause, "Unknown")),
            ],
        )
        self._refresh(ch.phone)
        if peer is not None and dialing and peer.peer == ch.uniqueid:
            self.hangup_channel(peer, cause=16 if peer.dialer == ch.uniqueid else 17)

    def snapshot_channels(self) -> list[SimChannel]:
        return list(self.channels.values())

    # --- queue and parking live in sim_features ---------------------------------------------
    def _enter_queue(self, ch: SimChannel) -> None:
        from telephony.simulator.features import enter_queue

        enter_queue(self, ch)

    def _agent_answers(self, ch: SimChannel) -> None:
        from telephony.simulator.features import agent_answers

        agent_answers(self, ch)

    def _retrieve(self, ch: SimChannel, space: str) -> None:
        from telephony.simulator.features import retrieve

        retrieve(self, ch, space)
