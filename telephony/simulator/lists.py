"""The list actions the simulator answers (``EventList: start``, items, ``...Complete``):
CoreShowChannels, DeviceStateList, ExtensionStateList, QueueStatus, PJSIPShowContacts,
ParkedCalls. Importing this module registers them in :data:`telephony.simulator.actions.ACTIONS`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from telephony.ami.frames import AmiMessage
from telephony.config.dialplan import DIALPLAN
from telephony.simulator import features as features
from telephony.simulator.actions import action
from telephony.simulator.model import Headers, channel_headers, duration

if TYPE_CHECKING:
    from telephony.simulator.server import AmiSession


@action("CoreShowChannels")
def core_show_channels(session: AmiSession, a: AmiMessage) -> None:
    now = time.monotonic()
    items = [
        (
            "CoreShowChannel",
            [
                *channel_headers(ch),
                ("Application", ch.application),
                ("ApplicationData", ch.app_data),
                ("Duration", duration(now - ch.created_at)),
                ("BridgeId", ch.bridge or ""),
            ],
        )
        for ch in session.sim.pbx.channels.values()
    ]
    session.send_list(a, "Channels will follow", items, "CoreShowChannelsComplete")


@action("DeviceStateList")
def device_state_list(session: AmiSession, a: AmiMessage) -> None:
    items = [
        ("DeviceStateChange", [("Device", f"PJSIP/{p.extension}"), ("State", p.device_state)])
        for p in session.sim.pbx.phones.values()
    ]
    session.send_list(a, "Device State Changes will follow", items, "DeviceStateListComplete")


@action("ExtensionStateList")
def extension_state_list(session: AmiSession, a: AmiMessage) -> None:
    codes = {
        "NOT_INUSE": ("0", "Idle"),
        "INUSE": ("1", "InUse"),
        "BUSY": ("2", "Busy"),
        "UNAVAILABLE": ("4", "Unavailable"),
        "RINGING": ("8", "Ringing"),
        "RINGINUSE": ("9", "InUse&Ringing"),
        "ONHOLD": ("16", "Hold"),
    }
    items = []
    for p in session.sim.pbx.phones.values():
        code, text = codes.get(p.device_state, ("-1", "Unknown"))
        items.append(
            (
                "ExtensionStatus",
                [
                    ("Exten", p.extension),
                    ("Context", DIALPLAN.staff_context),
                    ("Hint", f"PJSIP/{p.extension}"),
                    ("Status", code),
                    ("StatusText", text),
                ],
            )
        )
    session.send_list(a, "Extension Statuses will follow", items, "ExtensionStateListComplete")


@action("QueueStatus")
def queue_status(session: AmiSession, a: AmiMessage) -> None:
    pbx = session.sim.pbx
    now = time.monotonic()
    items: list[tuple[str, Headers]] = [
        (
            "QueueParams",
            [
                ("Queue", pbx.inventory.queue),
                ("Max", "0"),
                ("Strategy", "ringall"),
                ("Calls", str(len(pbx.queue))),
                ("Holdtime", "0"),
                ("TalkTime", "0"),
                ("Completed", "0"),
                ("Abandoned", "0"),
                ("ServiceLevel", "0"),
                ("ServicelevelPerf", "0.0"),
                ("ServicelevelPerf2", "0.0"),
                ("Weight", "0"),
            ],
        )
    ]
    for member in pbx.queue_members:
        phone = pbx.phones[member]
        items.append(
            (
                "QueueMember",
                [
                    ("Queue", pbx.inventory.queue),
                    ("Name", phone.name),
                    ("Location", f"PJSIP/{member}"),
                    ("StateInterface", f"PJSIP/{member}"),
                    ("Membership", "static"),
                    ("Penalty", "0"),
                    ("Status", "1" if phone.registered else "5"),
                    ("Paused", "0"),
                ],
            )
        )
    for position, uid in enumerate(pbx.queue, start=1):
        ch = pbx.channels[uid]
        items.append(
            (
                "QueueEntry",
                [
                    ("Queue", pbx.inventory.queue),
                    ("Position", str(position)),
                    ("Channel", ch.name),
                    ("Uniqueid", ch.uniqueid),
                    ("CallerIDNum", ch.caller_num),
                    ("CallerIDName", ch.caller_name or "<unknown>"),
                    ("ConnectedLineNum", "<unknown>"),
                    ("ConnectedLineName", "<unknown>"),
                    ("Wait", str(int(now - ch.created_at))),
                    ("Priority", "0"),
                ],
            )
        )
    session.send_list(a, "Queue status will follow", items, "QueueStatusComplete")


@action("PJSIPShowContacts")
def pjsip_show_contacts(session: AmiSession, a: AmiMessage) -> None:
    items = [
        (
            "ContactList",
            [
                ("ObjectType", "contact"),
                ("ObjectName", f"{p.extension};@sim"),
                ("Endpoint", p.extension),
                ("Uri", f"sip:{p.extension}@127.0.0.1:5{p.extension}"),
                ("Status", "Reachable"),
                ("RoundtripUsec", "800"),
            ],
        )
        for p in session.sim.pbx.phones.values()
        if p.registered
    ]
    if not items:  # Asterisk 22 (capture 12): an error, not an empty list
        session.reply(a, [("Response", "Error"), ("Message", "No Contacts found")])
        return
    session.send_list(
        a,
        "A listing of Contacts follows, presented as ContactList events",
        items,
        "ContactListComplete",
    )


@action("ParkedCalls")
def parked_calls(session: AmiSession, a: AmiMessage) -> None:
    pbx = session.sim.pbx
    items = [
        (
            "ParkedCall",
            [
                *channel_headers(pbx.channels[uid], "Parkee"),
                *features._park_fields(pbx, space, parker, at),
            ],
        )
        for space, (uid, parker, at) in pbx.parked.items()
    ]
    session.send_list(
        a, "Parked calls will follow", items, "ParkedCallsComplete", [("Total", str(len(items)))]
    )
