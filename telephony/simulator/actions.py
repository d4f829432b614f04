"""The AMI actions the simulator answers, as Asterisk 22 answers them (see the captures)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from telephony.ami.frames import AmiMessage
from telephony.simulator import features as features
from telephony.simulator import transfers as transfers
from telephony.simulator.astdb import astdb_write
from telephony.simulator.contexts import exists
from telephony.simulator.model import Headers
from telephony.simulator.permissions import ORIGINATE_FORBIDDEN, originate_allowed

if TYPE_CHECKING:
    from telephony.simulator.model import SimChannel
    from telephony.simulator.server import AmiSession

Handler = Callable[["AmiSession", AmiMessage], None]
ACTIONS: dict[str, Handler] = {}
NOT_FOUND = [("Response", "Error"), ("Message", "Database entry not found")]
NO_CHANNEL = [("Response", "Error"), ("Message", "No such channel")]
UNKNOWN_CHANNEL = [("Response", "Error"), ("Message", "Channel specified does not exist")]
NO_EXTENSION = [("Response", "Error"), ("Message", "Extension does not exist.")]


def action(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        ACTIONS[name.lower()] = handler
        return handler

    return register


def ok(message: str) -> Headers:
    return [("Response", "Success"), ("Message", message)]


@action("Login")
def login(session: AmiSession, a: AmiMessage) -> None:
    user, secret = a.get("Username"), a.get("Secret")
    if session.sim.users.get(user) != secret or not user:
        session.reply(a, [("Response", "Error"), ("Message", "Authentication failed")])
        session.close()
        return
    session.user = user
    session.events_on = a.get("Events", "on").lower() not in {"off", "no", "false"}
    session.reply(a, ok("Authentication accepted"))
    if session.events_on:
        session.write_rows(
            [
                ("Event", "FullyBooted"),
                ("Privilege", "system,all"),
                ("Uptime", "60"),
                ("LastReload", "60"),
                ("Status", "Fully Booted"),
            ]
        )


@action("Logoff")
def logoff(session: AmiSession, a: AmiMessage) -> None:
    session.reply(a, [("Response", "Goodbye"), ("Message", "Thanks for all the fish.")])
    session.close()


@action("Ping")
def ping(session: AmiSession, a: AmiMessage) -> None:
    session.reply(
        a, [("Response", "Success"), ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")]
    )


@action("Events")
def events(session: AmiSession, a: AmiMessage) -> None:
    session.events_on = a.get("EventMask").lower() not in {"off", "no", "false", ""}
    session.reply(a, [("Response", "Success"), ("Events", "On" if session.events_on else "Off")])


# --- calls -----------------------------------------------------------------------------------
@action("Originate")
def originate(session: AmiSession, a: AmiMessage) -> None:
    pbx = session.sim.pbx
    if not originate_allowed(a.get("Application"), a.get("Data"), session.write_classes):
        session.reply(a, ORIGINATE_FORBIDDEN)
        return
    if a.get("Exten") and not exists(pbx, a.get("Context"), a.get("Exten")):
        session.reply(a, NO_EXTENSION)
        return
    if a.get("Async").lower() != "true":
        session.reply(a, [("Response", "Error"), ("Message", "Only Async originate simulated")])
        return
    session.reply(a, ok("Originate successfully queued"))
    tech, _, ext = a.get("Channel").partition("/")
    if tech == "Local" and astdb_write(pbx, a):
        return
    exten = a.get("Exten") or a.get("Application")
    if tech == "Local":
        from telephony.simulator import nurse_ring as sim_nurse_ring
        from telephony.simulator.dialplan import originate_local

        caller = _caller_id(a.get("CallerID"), ext.partition("@")[0], "")
        target, _, context = ext.partition("@")
        key = (session.id, a.action_id, a.get("Exten"))
        if context.split("/")[0] == sim_nurse_ring.RING_CONTEXT:
            chan_vars = sim_nurse_ring.variables(a.get_all("Variable"))
            uid = a.get("ChannelId") or None
            if sim_nurse_ring.originate_ring(pbx, target, caller, uid, key, chan_vars):
                return
        elif originate_local(pbx, target, caller, a.get("ChannelId") or None, key):
            return
    phone = pbx.phones.get(ext)
    busy = any(ch.phone == ext for ch in pbx.channels.values())
    if tech != "PJSIP" or phone is None or not phone.registered or busy:
        session.sim._broadcast(
            "OriginateResponse",
            [
                ("ActionID", a.action_id),
                ("Response", "Failure"),
                ("Channel", a.get("Channel")),
                ("Context", a.get("Context")),
                ("Exten", exten),
                ("Reason", "0" if not busy else "5"),
                ("Uniqueid", "<unknown>"),
                ("CallerIDNum", "<unknown>"),
                ("CallerIDName", "<unknown>"),
            ],
            "call,all",
        )
        return
    caller_num, caller_name = _caller_id(a.get("CallerID"), ext, phone.name)
    ch = pbx._new_channel(
        ext, ext, (caller_num, caller_name), exten, uniqueid=a.get("ChannelId") or None
    )
    ch.originate = (session.id, a.action_id, exten)
    pbx._set_state(ch, 5)


def _caller_id(text: str, default_num: str, default_name: str) -> tuple[str, str]:
    if "<" in text and text.endswith(">"):
        name, _, num = text[:-1].partition("<")
        return num.strip(), name.strip().strip('"')
    return (text or default_num), default_name


def _channel(
    session: AmiSession, a: AmiMessage, refusal: Headers | None = None
) -> SimChannel | None:
    """The channel an action names, or None after answering as Asterisk 22 does for that
    action (Hangup "No such channel", Redirect and Park "Channel does not exist: <name>",
    the transfers "Channel specified does not exist")."""
    ch = session.sim.pbx.by_name(a.get("Channel"))
    if ch is None:
        session.reply(a, refusal or NO_CHANNEL)
    return ch


def _does_not_exist(a: AmiMessage) -> Headers:
    return [("Response", "Error"), ("Message", f"Channel does not exist: {a.get('Channel')}")]


@action("Hangup")
def hangup(session: AmiSession, a: AmiMessage) -> None:
    ch = _channel(session, a)
    if ch is None:
        return
    session.reply(a, ok("Channel Hungup"))
    session.sim.pbx.hangup_channel(ch, cause=int(a.get("Cause") or 16))


@action("Redirect")
def redirect(session: AmiSession, a: AmiMessage) -> None:
    """Asterisk checks the channel, not the destination: a Redirect into an extension the
    dialplan does not have succeeds, then the channel is hung up there ("sent to invalid
    extension but no invalid handler"), its bridge peer with it."""
    ch = _channel(session, a, _does_not_exist(a))
    if ch is None:
        return
    session.reply(a, ok("Redirect successful"))
    pbx = session.sim.pbx
    if exists(pbx, a.get("Context"), a.get("Exten")):
        transfers.redirect(pbx, ch, a.get("Exten"))
    else:
        transfers.redirect_nowhere(pbx, ch)


@action("BlindTransfer")
def blind_transfer(session: AmiSession, a: AmiMessage) -> None:
    """As Redirect: into an extension the dialplan does not have, the transfer succeeds
    (BlindTransfer Result Success) and both parties are hung up."""
    ch = _channel(session, a, UNKNOWN_CHANNEL)
    if ch is None:
        return
    if ch.bridge is None:
        session.reply(a, [("Response", "Error"), ("Message", "Transfer failed")])
        return
    session.reply(a, ok("Transfer succeeded"))
    pbx = session.sim.pbx
    context = a.get("Context") or ch.context
    transfers.blind_transfer(
        pbx, ch, a.get("Exten"), known=exists(pbx, context, a.get("Exten")), context=context
    )


@action("Atxfer")
def atxfer(session: AmiSession, a: AmiMessage) -> None:
    """The feature code and the digits are queued on the channel (answered at once); into an
    extension the dialplan does not have, the caller is put on hold and taken back."""
    ch = _channel(session, a, UNKNOWN_CHANNEL)
    if ch is None:
        return
    pbx = session.sim.pbx
    context = a.get("Context") or ch.context
    if ch.bridge is not None and not exists(pbx, context, a.get("Exten")):
        session.reply(a, ok("Atxfer successfully queued"))
        transfers.atxfer_nowhere(pbx, ch)
        return
    if ch.bridge is None or a.get("Exten") not in pbx.phones:
        session.reply(a, [("Response", "Error"), ("Message", "Atxfer failed")])
        return
    session.reply(a, ok("Atxfer successfully queued"))
    transfers.atxfer(pbx, ch, a.get("Exten"))


@action("CancelAtxfer")
def cancel_atxfer(session: AmiSession, a: AmiMessage) -> None:
    """Asterisk queues the abort code on the channel: answered at once, acted on only when
    the channel is consulting."""
    pbx = session.sim.pbx
    ch = _channel(session, a, UNKNOWN_CHANNEL)
    if ch is None:
        return
    session.reply(a, ok("CancelAtxfer successfully queued"))
    consult = pbx.consults.get(ch.uniqueid)
    if consult is not None:
        transfers.cancel_consult(pbx, ch.uniqueid)
        target = pbx.channels.get(consult[1])
        if target is not None:
            pbx.hangup_channel(target)


@action("Park")
def park(session: AmiSession, a: AmiMessage) -> None:
    pbx = session.sim.pbx
    ch = _channel(session, a, _does_not_exist(a))
    if ch is None:
        return
    back = pbx.by_name(a.get("TimeoutChannel"))
    parker = (back.phone if back else None) or ""
    if len(pbx.parked) >= len(pbx.inventory.parking_spaces):
        session.reply(a, [("Response", "Error"), ("Message", "Park action failed")])
        return
    # Asterisk 22 ends this answer with a bare LF before the blank line.
    session.reply(a, ok("Park successful"), raw_end=b"\n\r\n\r\n")
    features.park(pbx, ch, parker)


# --- AstDB -----------------------------------------------------------------------------------
def _key(a: AmiMessage) -> str:
    return f"{a.get('Family')}/{a.get('Key')}"


@action("DBPut")
def db_put(session: AmiSession, a: AmiMessage) -> None:
    session.sim.pbx.astdb[_key(a)] = a.get("Val")
    session.reply(a, ok("Updated database successfully"))


@action("DBGet")
def db_get(session: AmiSession, a: AmiMessage) -> None:
    value = session.sim.pbx.astdb.get(_key(a))
    if value is None:
        session.reply(a, NOT_FOUND)
        return
    item = [("Family", a.get("Family")), ("Key", a.get("Key")), ("Val", value)]
    session.send_list(a, "Result will follow", [("DBGetResponse", item)], "DBGetComplete")


@action("DBDel")
def db_del(session: AmiSession, a: AmiMessage) -> None:
    if session.sim.pbx.astdb.pop(_key(a), None) is None:
        session.reply(a, NOT_FOUND)
        return
    session.reply(a, ok("Key deleted successfully"))


def _under(session: AmiSession, family: str) -> list[str]:
    prefix = family.strip("/") + "/"
    return sorted(k for k in session.sim.pbx.astdb if k.startswith(prefix))


@action("DBDelTree")
def db_del_tree(session: AmiSession, a: AmiMessage) -> None:
    keys = _under(session, a.get("Family"))
    if not keys:
        session.reply(a, NOT_FOUND)
        return
    for key in keys:
        del session.sim.pbx.astdb[key]
    session.reply(a, ok("Key tree deleted successfully"))


@action("DBGetTree")
def db_get_tree(session: AmiSession, a: AmiMessage) -> None:
    db = session.sim.pbx.astdb
    items = [
        ("DBGetTreeResponse", [("Key", f"/{key}"), ("Val", db[key])])
        for key in _under(session, a.get("Family"))
    ]
    session.send_list(a, "Result will follow", items, "DBGetTreeComplete")
