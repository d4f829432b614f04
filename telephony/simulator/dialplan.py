"""The parts of the simulated dialplan that read the hospital and AstDB: calls from the trunk
to direct numbers (DIDs), nurse-call extensions, and Originate from a Local channel.

As ``[from-trunk]`` of the generated dialplan (``asterisk_conf``): ``did/<number>`` names the
bed; the bed rings when ``bed/<ext>/active`` is ``1`` and ``bed/<ext>/dnd`` is not ``1``;
otherwise (unknown number, empty or do-not-disturb bed, and a bed that is busy or
unreachable) the caller goes to the switchboard queue (after an announcement, not simulated).
A ward's nurse-call extension rings its nurse station, or the queue when it cannot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telephony.config.dialplan import DIALPLAN
from telephony.lines.astdb_keys import ACTIVE, DND, ON, bed_key, did_key
from telephony.simulator.model import SimChannel

if TYPE_CHECKING:
    from telephony.simulator.pbx import SimPbx


def can_ring(pbx: SimPbx, ext: str | None) -> bool:
    """A registered phone with no call."""
    phone = pbx.phones.get(ext or "")
    if phone is None or not phone.registered:
        return False
    return not any(ch.phone == ext for ch in pbx.channels.values())


def did_target(pbx: SimPbx, number: str) -> str | None:
    """The bed a direct number rings now, or None (the switchboard takes the call)."""
    bed = pbx.astdb.get(did_key(number))
    if not bed or not bed.isdigit() or bed not in pbx.phones:
        return None
    if pbx.astdb.get(bed_key(bed, ACTIVE)) != ON or pbx.astdb.get(bed_key(bed, DND)) == ON:
        return None
    return bed


def route_from_trunk(pbx: SimPbx, ch: SimChannel, number: str) -> None:
    inv = pbx.inventory
    internal = (*inv.queue_extensions, *inv.parking_spaces, *inv.nurse_calls)
    if number in pbx.phones or number in internal:
        pbx.route(ch, number)
        return
    bed = did_target(pbx, number)
    ch.exten = number
    if bed is not None and can_ring(pbx, bed):
        pbx._dial_phone(ch, bed)
    else:
        pbx._enter_queue(ch)


def ring_nurse_station(pbx: SimPbx, ch: SimChannel, nurse_call: str) -> None:
    station = pbx.inventory.nurse_calls.get(nurse_call)
    if station is not None and can_ring(pbx, station):
        pbx._dial_phone(ch, station)
    else:
        pbx._enter_queue(ch)


def originate_local(
    pbx: SimPbx,
    target: str,
    caller: tuple[str, str],
    uniqueid: str | None,
    originate: tuple[int, str, str],
) -> bool:
    """``Originate`` of ``Local/<target>@<context>``: the Local channel dials ``target`` (a
    phone, or a nurse-call extension); False when the target is unknown (nothing created)."""
    if target not in pbx.phones and target not in pbx.inventory.nurse_calls:
        return False
    ch = pbx._new_channel(None, target, caller, target, uniqueid=uniqueid, state=4, tech="Local")
    ch.originate = originate
    pbx.route(ch, target)
    return True


def originate_answered(pbx: SimPbx, ch: SimChannel) -> None:
    """The phone a Local channel dialled answered: the Originate succeeded."""
    assert ch.originate is not None
    _session, action_id, exten = ch.originate
    ch.originate = None
    pbx.emit(
        "OriginateResponse",
        [
            ("ActionID", action_id),
            ("Response", "Success"),
            ("Channel", ch.name),
            ("Context", ch.context),
            ("Exten", exten),
            ("Reason", "4"),
            ("Uniqueid", ch.uniqueid),
            ("CallerIDNum", ch.caller_num),
            ("CallerIDName", ch.caller_name),
        ],
    )
    if ch.context == DIALPLAN.nurse_ring_context:
        from telephony.simulator.nurse_ring import answered

        answered(pbx, ch)
