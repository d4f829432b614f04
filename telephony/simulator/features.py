"""Call features of the simulated PBX: the switchboard queue, parking, hold, Redirect, blind
and attended transfer, with the events Asterisk 22 emits for them (see the captures)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from telephony.simulator.model import (
    PARKING_BRIDGE,
    Headers,
    SimChannel,
    bridge_headers,
    channel_headers,
)

if TYPE_CHECKING:
    from telephony.simulator.pbx import SimPbx


# --- queue ------------------------------------------------------------------------------------
def _queue_fields(pbx: SimPbx, ch: SimChannel) -> Headers:
    position = pbx.queue.index(ch.uniqueid) + 1 if ch.uniqueid in pbx.queue else 1
    count = str(len(pbx.queue))
    return [("Queue", pbx.inventory.queue), ("Position", str(position)), ("Count", count)]


def enter_queue(pbx: SimPbx, ch: SimChannel) -> None:
    pbx._set_state(ch, 6)  # Answer() before Queue()
    ch.queue_name = pbx.inventory.queue
    ch.application, ch.app_data = "Queue", pbx.inventory.queue
    pbx.queue.append(ch.uniqueid)
    pbx.emit("QueueCallerJoin", [*channel_headers(ch), *_queue_fields(pbx, ch)], "agent,all")
    ring_members(pbx)


def ring_members(pbx: SimPbx) -> None:
    """Ring every free registered member for every waiting caller (ringall)."""
    for uid in list(pbx.queue):
        caller = pbx.channels[uid]
        for member in pbx.queue_members:
            phone = pbx.phones.get(member)
            if phone is None or not phone.registered:
                continue
            if any(c.phone == member for c in pbx.channels.values()):
                continue
            leg = pbx._new_channel(
                member, member, (member, phone.name), caller.exten, linkedid=caller.linkedid
            )
            leg.agent_for = uid
            leg.connected_num, leg.connected_name = caller.caller_num, caller.caller_name
            pbx.emit(
                "AgentCalled",
                [
                    *channel_headers(caller),
                    *channel_headers(leg, "Dest"),
                    ("Queue", pbx.inventory.queue),
                    ("Interface", f"PJSIP/{member}"),
                    ("MemberName", phone.name),
                ],
                "agent,all",
            )
            dial = [("DialString", member)]
            pbx.emit("DialBegin", [*channel_headers(caller), *channel_headers(leg, "Dest"), *dial])
            pbx._set_state(leg, 5)
            pbx.emit(
                "DialState",
                [
                    *channel_headers(caller),
                    *channel_headers(leg, "Dest"),
                    ("DialStatus", "RINGING"),
                ],
            )


def _drop_agent_legs(pbx: SimPbx, caller_uid: str, keep: str | None = None) -> None:
    for leg in [c for c in pbx.channels.values() if c.agent_for == caller_uid]:
        if leg.uniqueid != keep:
            leg.agent_for = None
            pbx.hangup_channel(leg, cause=26)


def leave_queue(pbx: SimPbx, ch: SimChannel, abandoned: bool) -> None:
    if ch.uniqueid not in pbx.queue:
        return
    fields = _queue_fields(pbx, ch)
    if abandoned:
        waited = str(int(time.monotonic() - ch.created_at))
        pbx.emit(
            "QueueCallerAbandon",
            [
                *channel_headers(ch),
                fields[0],
                fields[1],
                ("OriginalPosition", fields[1][1]),
                ("HoldTime", waited),
            ],
            "agent,all",
        )
    pbx.queue.remove(ch.uniqueid)
    pbx.emit(
        "QueueCallerLeave",
        [*channel_headers(ch), fields[0], fields[1], ("Count", str(len(pbx.queue)))],
        "agent,all",
    )
    _drop_agent_legs(pbx, ch.uniqueid)


def agent_answers(pbx: SimPbx, leg: SimChannel) -> None:
    caller = pbx.channels.get(leg.agent_for or "")
    leg.agent_for = None
    if caller is None:
        return
    member = leg.phone or ""
    pbx.emit(
        "DialEnd",
        [*channel_headers(caller), *channel_headers(leg, "Dest"), ("DialStatus", "ANSWER")],
    )
    fields = _queue_fields(pbx, caller)
    pbx.queue.remove(caller.uniqueid)
    pbx.emit(
        "QueueCallerLeave",
        [*channel_headers(caller), fields[0], fields[1], ("Count", str(len(pbx.queue)))],
        "agent,all",
    )
    _drop_agent_legs(pbx, caller.uniqueid, keep=leg.uniqueid)
    leg.queue_name = pbx.inventory.queue
    pbx.emit(
        "AgentConnect",
        [
            *channel_headers(caller),
            *channel_headers(leg, "Dest"),
            ("Queue", pbx.inventory.queue),
            ("Interface", f"PJSIP/{member}"),
            ("MemberName", pbx.phones[member].name),
            ("HoldTime", "1"),
            ("RingTime", "1"),
        ],
        "agent,all",
    )
    pbx.bridge(caller, leg)


# --- hang-up side effects -----------------------------------------------------------------------
def before_hangup(pbx: SimPbx, ch: SimChannel) -> None:
    if ch.uniqueid in pbx.queue:
        leave_queue(pbx, ch, abandoned=True)
    for space, (uid, _parker, _at) in list(pbx.parked.items()):
        if uid == ch.uniqueid:
            del pbx.parked[space]
            _cancel_timer(pbx, space)
            pbx.emit(
                "ParkedCallGiveUp",
                [*channel_headers(ch, "Parkee"), *_park_fields(pbx, space, _parker, _at)],
            )
    from telephony.simulator.transfers import cancel_consult, complete_attended

    if ch.uniqueid in pbx.consults:
        complete_attended(pbx, ch)
    for transferer, (_tee, target) in list(pbx.consults.items()):
        if target == ch.uniqueid:
            cancel_consult(pbx, transferer)


# --- parking ---------------------------------------------------------------------------------
def _park_fields(pbx: SimPbx, space: str, parker: str, at: float) -> Headers:
    elapsed = int(time.monotonic() - at)
    return [
        ("ParkerDialString", f"PJSIP/{parker}" if parker else ""),
        ("Parkinglot", "default"),
        ("ParkingSpace", space),
        ("ParkingTimeout", str(max(0, pbx.parking_timeout - elapsed))),
        ("ParkingDuration", str(elapsed)),
    ]


def _cancel_timer(pbx: SimPbx, space: str) -> None:
    timer = pbx.timers.pop(space, None)
    if timer is not None:
        timer.cancel()


def park(pbx: SimPbx, ch: SimChannel, parker: str) -> str | None:
    """Park ``ch`` (the capture's order: ParkedCall, into the holding bridge with music on
    hold, then the peer left alone leaves, its bridge goes and it hangs up)."""
    space = next((s for s in pbx.inventory.parking_spaces if s not in pbx.parked), None)
    if space is None:
        return None
    at = time.monotonic()
    pbx.parked[space] = (ch.uniqueid, parker, at)
    pbx.emit("ParkedCall", [*channel_headers(ch, "Parkee"), *_park_fields(pbx, space, parker, at)])
    old_bridge = ch.bridge
    if old_bridge is not None:
        pbx.leave_bridge(ch, keep_alone=True)
    if PARKING_BRIDGE not in pbx.bridges:
        pbx.bridges[PARKING_BRIDGE] = []
        pbx.emit("BridgeCreate", bridge_headers(PARKING_BRIDGE, 0))
    pbx.enter_bridge(PARKING_BRIDGE, ch)
    pbx.emit("MusicOnHoldStart", [*channel_headers(ch), ("Class", "default")])
    ch.peer = None
    left = [pbx.channels[u] for u in pbx.bridges.get(old_bridge or "", []) if u in pbx.channels]
    for alone in left:
        pbx.leave_bridge(alone)
        alone.peer = None
        pbx.hangup_channel(alone, request=False)
    loop = asyncio.get_running_loop()
    pbx.timers[space] = loop.call_later(pbx.parking_timeout, park_timeout, pbx, space)
    return space


def park_timeout(pbx: SimPbx, space: str) -> None:
    pbx.timers.pop(space, None)
    entry = pbx.parked.pop(space, None)
    if entry is None:
        return
    ch = pbx.channels[entry[0]]
    pbx.emit(
        "ParkedCallTimeOut",
        [*channel_headers(ch, "Parkee"), *_park_fields(pbx, space, entry[1], entry[2])],
    )
    pbx.emit("MusicOnHoldStop", channel_headers(ch))
    pbx.leave_bridge(ch)
    if entry[1] in pbx.phones:
        pbx.route(ch, entry[1])  # ring the parker back
    else:
        pbx.hangup_channel(ch)


def retrieve(pbx: SimPbx, retriever: SimChannel, space: str) -> None:
    entry = pbx.parked.pop(space, None)
    if entry is None:
        pbx.hangup_channel(retriever, cause=1)
        return
    _cancel_timer(pbx, space)
    parkee = pbx.channels[entry[0]]
    pbx._set_state(retriever, 6)
    pbx.emit("MusicOnHoldStop", channel_headers(parkee))
    pbx.emit(
        "UnParkedCall",
        [
            *channel_headers(parkee, "Parkee"),
            *channel_headers(retriever, "Retriever"),
            *_park_fields(pbx, space, entry[1], entry[2]),
        ],
    )
    pbx.leave_bridge(parkee)
    pbx.bridge(retriever, parkee)


# --- phones ---------------------------------------------------------------------------------
def register_phone(pbx: SimPbx, ext: str) -> None:
    phone = pbx.phones[ext]
    phone.registered = True
    pbx.emit(
        "ContactStatus",
        [
            ("URI", f"sip:{ext}@127.0.0.1:5{ext}"),
            ("ContactStatus", "Reachable"),
            ("AOR", ext),
            ("EndpointName", ext),
            ("RoundtripUsec", "800"),
        ],
        "system,all",
    )
    pbx.emit(
        "PeerStatus",
        [("ChannelType", "PJSIP"), ("Peer", f"PJSIP/{ext}"), ("PeerStatus", "Reachable")],
        "system,all",
    )
    pbx._refresh(ext)


def unregister_phone(pbx: SimPbx, ext: str) -> None:
    phone = pbx.phones[ext]
    phone.registered = False
    pbx.emit(
        "ContactStatus",
        [
            ("URI", f"sip:{ext}@127.0.0.1:5{ext}"),
            ("ContactStatus", "Removed"),
            ("AOR", ext),
            ("EndpointName", ext),
            ("RoundtripUsec", "0"),
        ],
        "system,all",
    )
    pbx._refresh(ext)
