"""Data and header builders of the PBX simulator, shaped like Asterisk 22's AMI events.

Header order, names and values follow the captures in ``tests/telephony/captures``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from telephony.config.dialplan import DIALPLAN

Headers = list[tuple[str, str]]

STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}

PARKING_BRIDGE = "parking-default-holding"
"""The parking lot's holding bridge: it outlives its members, and leaving it ends nothing."""


@dataclass
class SimPhone:
    extension: str
    name: str
    ward: str
    registered: bool = False
    device_state: str = "UNAVAILABLE"


@dataclass
class SimChannel:
    uniqueid: str
    name: str
    linkedid: str
    caller_num: str
    caller_name: str
    exten: str
    phone: str | None
    ward: str = ""
    context: str = DIALPLAN.staff_context
    state: int = 0
    connected_num: str = "<unknown>"
    connected_name: str = "<unknown>"
    priority: int = 1
    application: str = ""
    app_data: str = ""
    bridge: str | None = None
    peer: str | None = None
    """The other leg while dialling or talking (uniqueid)."""
    dialer: str | None = None
    """For a dialled leg: the caller's uniqueid."""
    on_hold: bool = False
    queue_name: str = ""
    agent_for: str | None = None
    """For a queue member's ringing leg: the waiting caller's uniqueid."""
    originate: tuple[int, str, str] | None = None
    """(session id, ActionID, exten to dial once answered) of an Originate."""
    consult_of: str | None = None
    """For an attended transfer's target leg: the transferer's uniqueid."""
    created_at: float = 0.0
    variables: dict[str, str] = field(default_factory=dict)


def channel_headers(ch: SimChannel, prefix: str = "") -> Headers:
    desc = STATE_DESC.get(ch.state, "Unknown")
    rows = [
        ("Channel", ch.name),
        ("ChannelState", str(ch.state)),
        ("ChannelStateDesc", desc),
        ("CallerIDNum", ch.caller_num or "<unknown>"),
        ("CallerIDName", ch.caller_name or "<unknown>"),
        ("ConnectedLineNum", ch.connected_num),
        ("ConnectedLineName", ch.connected_name),
        ("Language", "en"),
        ("AccountCode", ""),
        ("Context", ch.context),
        ("Exten", ch.exten),
        ("Priority", str(ch.priority)),
        ("Uniqueid", ch.uniqueid),
        ("Linkedid", ch.linkedid),
    ]
    out = [(prefix + key, value) for key, value in rows]
    out.append((prefix + "ChanVariable", f"WARD={ch.ward}"))
    out.append((prefix + "ChanVariable", f"QUEUENAME={ch.queue_name}"))
    return out


def bridge_headers(bridge_id: str, members: int, prefix: str = "") -> Headers:
    rows = [
        ("BridgeUniqueid", bridge_id),
        ("BridgeType", "basic"),
        ("BridgeTechnology", "simple_bridge"),
        ("BridgeCreator", "<unknown>"),
        ("BridgeName", "<unknown>"),
        ("BridgeNumChannels", str(members)),
        ("BridgeVideoSourceMode", "none"),
    ]
    return [(prefix + key, value) for key, value in rows]


def device_state_of(phone: SimPhone, channels: list[SimChannel]) -> str:
    if not phone.registered:
        return "UNAVAILABLE"
    if not channels:
        return "NOT_INUSE"
    if any(ch.on_hold for ch in channels):
        return "ONHOLD"
    up = any(ch.state == 6 for ch in channels)
    ringing = any(ch.state == 5 for ch in channels)
    if ringing:
        return "RINGINUSE" if up else "RINGING"
    return "INUSE"


def duration(seconds: float) -> str:
    total = max(0, int(seconds))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


CAUSES = {
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    20: "Subscriber absent",
    21: "Call Rejected",
    26: "Answered elsewhere",
}
