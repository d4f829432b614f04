"""The nurse-call ring of the generated dialplan, in the simulator (``[wl-nurse-ring]`` and
``[wl-nurse-answered]`` of ``asterisk_conf/templates/extensions.conf.j2``).

``Originate`` of ``Local/<phone>@wl-nurse-ring`` with the ``WL_NC_*`` variables: the Local
channel (its Uniqueid the action's ``ChannelId``) dials the phone, showing ``WL_NC_CALLER``
(or AstDB ``bed/<WL_NC_BED>/cidname`` when ``WL_NC_NAMES=bed``), for ``WL_NC_LIMIT`` seconds
(the Dial limit: then ``DialEnd NOANSWER``, the phone's channel hangs up, the Local channel
follows). Like a PJSIP endpoint without a call limit, a phone already ringing rings again.
Hanging the Local channel up while the phone rings cancels it (``DialEnd CANCEL``, the phone's
Hangup: the CANCEL of its INVITE). Answering runs ``wl-nurse-answered``: a ``UserEvent``
``WardlineNurseCallAnswered`` with ``NurseCall`` and ``Station``, then the announcement (the
call stays up until the phone hangs up). The Local channel is one channel here (Asterisk
has ``;1`` and ``;2``, both with the same Linkedid).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from telephony.config.dialplan import DIALPLAN
from telephony.lines.astdb_keys import CIDNAME, bed_key
from telephony.simulator.model import SimChannel, channel_headers

if TYPE_CHECKING:
    from telephony.simulator.pbx import SimPbx

RING_CONTEXT = DIALPLAN.nurse_ring_context
DEFAULT_LIMIT = 45


def variables(headers: list[str]) -> dict[str, str]:
    """``Variable`` headers as Asterisk reads them: each may hold several ``a=b`` by commas."""
    out: dict[str, str] = {}
    for header in headers:
        for item in header.split(","):
            name, sep, value = item.partition("=")
            if sep and name.strip():
                out[name.strip()] = value
    return out


def originate_ring(
    pbx: SimPbx,
    phone: str,
    caller: tuple[str, str],
    uniqueid: str | None,
    originate: tuple[int, str, str],
    chan_vars: dict[str, str],
) -> bool:
    """Create the ring; False when ``phone`` is not a phone of the PBX (nothing created)."""
    if phone not in pbx.phones:
        return False
    name = chan_vars.get("WL_NC_CALLER") or caller[1]
    if chan_vars.get("WL_NC_NAMES") == "bed":
        name = pbx.astdb.get(bed_key(chan_vars.get("WL_NC_BED", ""), CIDNAME)) or name
    local = pbx._new_channel(
        None, f"{phone}@{RING_CONTEXT}", (caller[0], name), phone, uniqueid=uniqueid, state=4,
        tech="Local",
    )  # fmt: skip
    local.context = RING_CONTEXT
    local.variables.update(chan_vars)
    local.originate = originate
    target = pbx.phones[phone]
    if not target.registered:
        pbx.emit("DialEnd", [*channel_headers(local), ("DialStatus", "CHANUNAVAIL")])
        pbx.hangup_channel(local, cause=20)
        return True
    dest = pbx._new_channel(phone, phone, (phone, target.name), "s", linkedid=local.linkedid)
    dest.connected_num, dest.connected_name = local.caller_num, local.caller_name
    dest.exten = phone
    local.peer, dest.peer = dest.uniqueid, local.uniqueid
    dest.dialer = local.uniqueid
    pbx.emit(
        "DialBegin",
        [*channel_headers(local), *channel_headers(dest, "Dest"), ("DialString", phone)],
    )
    pbx._set_state(dest, 5)
    pbx.emit(
        "DialState",
        [*channel_headers(local), *channel_headers(dest, "Dest"), ("DialStatus", "RINGING")],
    )
    raw = chan_vars.get("WL_NC_LIMIT", "")
    limit = float(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_LIMIT
    loop = asyncio.get_running_loop()
    pbx.timers[dest.uniqueid] = loop.call_later(limit, _dial_limit, pbx, dest.uniqueid)
    return True


def _dial_limit(pbx: SimPbx, dest_id: str) -> None:
    """The Dial limit ended with the phone still ringing: NOANSWER, both legs hang up."""
    pbx.timers.pop(dest_id, None)
    dest = pbx.channels.get(dest_id)
    if dest is None or dest.state != 5:
        return
    local = pbx.channels.get(dest.peer or "")
    if local is not None:
        pbx.emit(
            "DialEnd",
            [*channel_headers(local), *channel_headers(dest, "Dest"), ("DialStatus", "NOANSWER")],
        )
        local.peer = None
    dest.peer = dest.dialer = None
    pbx.hangup_channel(dest, cause=0, request=False)
    if local is not None:
        pbx.hangup_channel(local, cause=16)


def answered(pbx: SimPbx, local: SimChannel) -> None:
    """The phone answered the ring: ``wl-nurse-answered`` reports it."""
    timer = pbx.timers.pop(local.peer or "", None)
    if timer is not None:
        timer.cancel()
    local.context, local.exten = DIALPLAN.nurse_answered_context, DIALPLAN.nurse_answered_exten
    pbx.emit(
        "UserEvent",
        [
            *channel_headers(local),
            ("UserEvent", DIALPLAN.nurse_answered_event),
            ("NurseCall", local.variables.get("WL_NC_ID", "")),
            ("Station", local.variables.get("WL_NC_STATION", "")),
        ],
        "user,all",
    )
