"""Hold, Redirect, blind and attended transfer in the simulated PBX, with the events
Asterisk 22 emits for them (BlindTransfer, Hold/MusicOnHold, AttendedTransfer...)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from telephony.simulator.features import leave_queue
from telephony.simulator.model import SimChannel, bridge_headers, channel_headers

if TYPE_CHECKING:
    from telephony.simulator.pbx import SimPbx


def hold(pbx: SimPbx, ch: SimChannel, on: bool) -> None:
    ch.on_hold = on
    pbx.emit("Hold" if on else "Unhold", channel_headers(ch))
    peer = pbx.channels.get(ch.peer or "")
    if peer is not None:
        if on:
            pbx.emit("MusicOnHoldStart", [*channel_headers(peer), ("Class", "default")])
        else:
            pbx.emit("MusicOnHoldStop", channel_headers(peer))
    pbx._refresh(ch.phone)


def redirect(pbx: SimPbx, ch: SimChannel, exten: str) -> None:
    leave_queue(pbx, ch, abandoned=False)
    alone = pbx.leave_bridge(ch)
    if alone is not None:
        alone.peer = None
        pbx.hangup_channel(alone, request=False)
    ringing = pbx.channels.get(ch.peer or "")
    ch.peer = None
    if ringing is not None and ringing.dialer == ch.uniqueid:
        ringing.peer = None
        pbx.hangup_channel(ringing, cause=26)
    ch.queue_name = ""
    pbx.route(ch, exten)


def redirect_nowhere(pbx: SimPbx, ch: SimChannel) -> None:
    """A Redirect into an extension the dialplan does not have (Asterisk 22.10.1, see
    captures/real_refused_redirect.ami): the channel
    leaves its bridge, is hung up (SoftHangupRequest, Hangup, cause 16), its peer with it."""
    leave_queue(pbx, ch, abandoned=False)
    alone = pbx.leave_bridge(ch)
    pbx.emit("SoftHangupRequest", [*channel_headers(ch), ("Cause", "16")])
    ch.peer = None
    ch.queue_name = ""
    pbx.hangup_channel(ch, cause=16, request=False)
    if alone is not None:
        alone.peer = None
        pbx.hangup_channel(alone, request=False)


def blind_transfer(
    pbx: SimPbx, transferer: SimChannel, exten: str, *, known: bool = True, context: str = ""
) -> bool:
    """The transferee goes to ``exten``; into an extension the dialplan does not have
    (``known`` False) it is hung up there, as the transferer is."""
    transferee = pbx.channels.get(transferer.peer or "")
    if transferee is None or transferer.bridge is None:
        return False
    bridge_id = transferer.bridge
    if not known:  # as captures/real_refused_blind_transfer.ami
        pbx.emit("Unhold", channel_headers(transferer))
        pbx.emit("SoftHangupRequest", [*channel_headers(transferee), ("Cause", "16")])
    pbx.emit(
        "BlindTransfer",
        [
            ("Result", "Success"),
            *channel_headers(transferer, "Transferer"),
            *channel_headers(transferee, "Transferee"),
            *bridge_headers(bridge_id, 2),
            ("IsExternal", "Yes"),
            ("Context", context or transferer.context),
            ("Extension", exten),
        ],
    )
    transferer.peer = transferee.peer = None
    pbx.leave_bridge(transferer)  # the transferee is left alone in the bridge, which goes
    if not known:
        pbx.hangup_channel(transferee, cause=16, request=False)
        pbx.hangup_channel(transferer, cause=16, request=False)
        return True
    pbx.hangup_channel(transferer, request=False)
    pbx.route(transferee, exten)
    return True


def atxfer_nowhere(pbx: SimPbx, transferer: SimChannel) -> None:
    """An attended transfer to an extension the dialplan does not have: the feature puts the
    caller on hold, finds no such extension and takes the caller back (no consultation)."""
    transferee = pbx.channels.get(transferer.peer or "")
    pbx.emit("Hold", channel_headers(transferer))
    if transferee is not None:
        pbx.emit("MusicOnHoldStart", [*channel_headers(transferee), ("Class", "default")])
    pbx.emit("Unhold", channel_headers(transferer))
    if transferee is not None:
        pbx.emit("MusicOnHoldStop", channel_headers(transferee))


def atxfer(pbx: SimPbx, transferer: SimChannel, exten: str) -> bool:
    transferee = pbx.channels.get(transferer.peer or "")
    target_phone = pbx.phones.get(exten)
    if transferee is None or target_phone is None or not target_phone.registered:
        return False
    pbx.emit("Hold", channel_headers(transferer))
    pbx.emit("MusicOnHoldStart", [*channel_headers(transferee), ("Class", "default")])
    target = pbx._new_channel(
        exten, exten, (exten, target_phone.name), exten, linkedid=transferer.linkedid
    )
    target.dialer, target.peer, target.consult_of = (
        transferer.uniqueid,
        transferer.uniqueid,
        transferer.uniqueid,
    )
    pbx.consults[transferer.uniqueid] = (transferee.uniqueid, target.uniqueid)
    pbx.emit(
        "DialBegin",
        [*channel_headers(transferer), *channel_headers(target, "Dest"), ("DialString", exten)],
    )
    pbx._set_state(target, 5)
    return True


def complete_attended(pbx: SimPbx, transferer: SimChannel) -> None:
    tee_uid, target_uid = pbx.consults.pop(transferer.uniqueid)
    transferee, target = pbx.channels.get(tee_uid), pbx.channels.get(target_uid)
    if transferee is None or target is None:
        return
    pbx.emit("MusicOnHoldStop", channel_headers(transferee))
    orig_bridge, second_bridge = transferee.bridge or "", target.bridge or ""
    pbx.emit(
        "AttendedTransfer",
        [
            ("Result", "Success"),
            *channel_headers(transferer, "OrigTransferer"),
            *bridge_headers(orig_bridge, 2, "Orig"),
            *channel_headers(transferer, "SecondTransferer"),
            *bridge_headers(second_bridge, 2, "Second"),
            *channel_headers(transferee, "Transferee"),
            *channel_headers(target, "TransferTarget"),
            ("IsExternal", "No"),
            ("DestType", "Bridge" if second_bridge else "Link"),
            ("DestBridgeUniqueid", second_bridge),
        ],
    )
    transferer.peer = None
    target.consult_of = None
    pbx.leave_bridge(transferer, keep_alone=True)
    pbx.leave_bridge(transferee, keep_alone=True)
    if transferee.bridge is None and orig_bridge in pbx.bridges and not pbx.bridges[orig_bridge]:
        del pbx.bridges[orig_bridge]
        pbx.emit("BridgeDestroy", bridge_headers(orig_bridge, 0))
    if target.state == 6 and second_bridge:
        pbx.enter_bridge(second_bridge, transferee)
        transferee.peer, target.peer = target.uniqueid, transferee.uniqueid
    else:
        transferee.peer, target.peer, target.dialer = target.uniqueid, tee_uid, tee_uid


def cancel_consult(pbx: SimPbx, transferer_uid: str) -> None:
    tee_uid, target_uid = pbx.consults.pop(transferer_uid)
    transferer, transferee = pbx.channels.get(transferer_uid), pbx.channels.get(tee_uid)
    target = pbx.channels.get(target_uid)
    if target is not None:
        target.peer = None
        target.dialer = None
        if target.bridge is not None:
            pbx.leave_bridge(target, keep_alone=True)
    if transferer is None or transferee is None:
        return
    if transferer.bridge is not None:
        pbx.leave_bridge(transferer, keep_alone=True)
    if transferee.bridge is not None:
        pbx.enter_bridge(transferee.bridge, transferer)
    transferer.peer = transferee.uniqueid
    pbx.emit("MusicOnHoldStop", channel_headers(transferee))
    pbx.emit("Unhold", channel_headers(transferer))
