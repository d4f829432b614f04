"""A PBX simulator speaking Asterisk 22's AMI on a real TCP port, for tests and the demo.

Sessions: banner (no blank line), Login (a refused login answers ``Authentication failed``
and closes the socket), Events on/off, Ping, Logoff (``Goodbye``), the list actions with
``EventList: start`` and their ``...Complete`` event, Originate (async, ``OriginateResponse``
when the phone answers), Redirect, BlindTransfer, Atxfer, Hangup, Park (with the real bare-LF
ending), the AstDB actions; anything else answers ``Response: Error``.

Drive it from Python::

    sim = await PbxSimulator().start()                  # the lab of the captures
    sim = await PbxSimulator.from_inventory(Path("examples/hospital.yaml")).start()
    sim = await (await PbxSimulator.from_database(db)).start()
    call = sim.external_call(to="8000", caller="0612345678", name="Hélène Dupré")
    sim.answer("9000"); sim.hangup("9000"); sim.drop_clients()
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from telephony.ami.frames import AmiMessage, FrameDecoder
from telephony.config.files import MANAGER_WRITE as GENERATED_WRITE
from telephony.lines.astdb_keys import ACTIVE, DID_FAMILY, DND, ON, bed_key, did_key
from telephony.simulator import lists as sim_lists  # noqa: F401  (registers the list actions)
from telephony.simulator.actions import ACTIONS
from telephony.simulator.inventory import SimInventory
from telephony.simulator.model import Headers
from telephony.simulator.pbx import SimPbx
from telephony.simulator.permissions import PERMISSION_DENIED, allowed
from wardline.domain.inventory_file import InventoryFile, read_inventory

if TYPE_CHECKING:
    from wardline.db.engine import Database

log = structlog.get_logger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
MANAGER_WRITE = frozenset(GENERATED_WRITE)


class AmiSession(asyncio.Protocol):
    def __init__(self, sim: PbxSimulator) -> None:
        self.sim = sim
        self.decoder = FrameDecoder(actions=True)
        self.transport: asyncio.Transport | None = None
        self.user: str | None = None
        self.events_on = True
        self.id = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.id = self.sim.next_session_id()
        self.sim.sessions.add(self)
        transport.write(BANNER)

    def connection_lost(self, exc: Exception | None) -> None:
        self.sim.sessions.discard(self)

    def data_received(self, data: bytes) -> None:
        for action in self.decoder.feed(data):
            try:
                self.handle(action)
            except Exception:
                log.exception("sim.action_failed", action=action.name)
                self.reply(action, [("Response", "Error"), ("Message", "Internal error")])

    def handle(self, action: AmiMessage) -> None:
        name = action.name.lower()
        if self.user is None and name not in {"login", "challenge", "logoff"}:
            self.reply(action, [("Response", "Error"), ("Message", "Permission denied")])
            return
        handler = ACTIONS.get(name)
        if handler is None or name in self.sim.disabled_actions:
            self.reply(action, [("Response", "Error"), ("Message", "Invalid/unknown command")])
            return
        if self.user is not None and not allowed(name, self.write_classes):
            self.reply(action, PERMISSION_DENIED)
            return
        handler(self, action)

    @property
    def write_classes(self) -> frozenset[str]:
        """The write classes of the user logged in on this session."""
        return self.sim.write_classes.get(self.user or "", MANAGER_WRITE)

    # --- writing ----------------------------------------------------------------------------
    def reply(self, action: AmiMessage, headers: Headers, raw_end: bytes = b"\r\n\r\n") -> None:
        rows = headers[:1] + ([("ActionID", action.action_id)] if action.action_id else [])
        rows += headers[1:]
        text = "\r\n".join(f"{k}: {v}" for k, v in rows)
        self.write(text.encode("utf-8") + raw_end)

    def send_list(
        self,
        action: AmiMessage,
        message: str,
        items: list[tuple[str, Headers]],
        complete: str,
        extra: Headers | None = None,
    ) -> None:
        self.reply(action, [("Response", "Success"), ("EventList", "start"), ("Message", message)])
        for name, headers in items:
            rows = [("Event", name), *headers]
            if action.action_id:
                rows.append(("ActionID", action.action_id))
            self.write_rows(rows)
        tail: Headers = [("Event", complete)]
        if action.action_id:
            tail.append(("ActionID", action.action_id))
        tail += [("EventList", "Complete"), ("ListItems", str(len(items))), *(extra or [])]
        self.write_rows(tail)

    def write_rows(self, rows: Headers) -> None:
        self.write(("\r\n".join(f"{k}: {v}" for k, v in rows) + "\r\n\r\n").encode("utf-8"))

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class PbxSimulator:
    """The simulated PBX and its AMI server. ``users`` maps AMI user -> secret; the hospital
    is ``inventory`` (default: the lab of the captures)."""

    def __init__(
        self,
        users: dict[str, str] | None = None,
        *,
        registered: bool = True,
        parking_timeout: int = 45,
        disabled_actions: frozenset[str] = frozenset(),
        inventory: SimInventory | None = None,
        write_classes: dict[str, frozenset[str]] | None = None,
    ) -> None:
        self.pbx = SimPbx(
            registered=registered, parking_timeout=parking_timeout, inventory=inventory
        )
        self.users = users if users is not None else {"wardline": "wardline-secret"}
        self.write_classes = write_classes or {}
        """Per user, its ``write`` classes; a user not named has the generated account's
        (:data:`telephony.config.files.MANAGER_WRITE`)."""
        self.disabled_actions = {name.lower() for name in disabled_actions}
        """Actions answered as unknown (to play an older or stricter Asterisk)."""
        self.sessions: set[AmiSession] = set()
        self.server: asyncio.Server | None = None
        self._session_ids = 0
        self.pbx.listeners.append(self._broadcast)

    @classmethod
    def from_inventory(
        cls,
        inventory: Path | InventoryFile,
        users: dict[str, str] | None = None,
        *,
        registered: bool = True,
    ) -> PbxSimulator:
        """The hospital of an inventory file (a path, or an already read ``InventoryFile``).
        A bad file raises ``InvalidInput`` naming the line."""
        inv = read_inventory(inventory) if isinstance(inventory, Path) else inventory
        return cls(users, inventory=SimInventory.from_file(inv), registered=registered)

    @classmethod
    async def from_database(
        cls, db: Database, users: dict[str, str] | None = None, *, registered: bool = True
    ) -> PbxSimulator:
        """The hospital loaded in the database (beds, staff phones, inventory_meta)."""
        inventory = await SimInventory.from_database(db)
        return cls(users, inventory=inventory, registered=registered)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> PbxSimulator:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: AmiSession(self), host, port)
        return self

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self.drop_clients()
        for timer in self.pbx.timers.values():
            timer.cancel()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def next_session_id(self) -> int:
        self._session_ids += 1
        return self._session_ids

    def _broadcast(self, name: str, headers: Headers, privilege: str) -> None:
        rows: Headers = [("Event", name), ("Privilege", privilege), *headers]
        data = ("\r\n".join(f"{k}: {v}" for k, v in rows) + "\r\n\r\n").encode("utf-8")
        for session in list(self.sessions):
            if session.user is not None and session.events_on:
                session.write(data)

    # --- the Python API for tests and the demo ------------------------------------------------
    def drop_clients(self) -> None:
        """Cut every AMI connection (the PBX goes on)."""
        for session in list(self.sessions):
            session.close()

    def external_call(self, to: str, caller: str, name: str = "") -> str:
        return self.pbx.external_call(to, caller, name)

    def dial(self, from_ext: str, to: str) -> str:
        return self.pbx.dial(from_ext, to)

    def answer(self, ext: str) -> None:
        self.pbx.answer(ext)

    def hangup(self, ext_or_call: str) -> None:
        """A phone hangs up (an extension), or an outside caller does (the call id)."""
        if ext_or_call in self.pbx.phones:
            self.pbx.hangup(ext_or_call)
            return
        leg = self.pbx.channels.get(ext_or_call)
        if leg is None:
            raise LookupError(f"no phone or call {ext_or_call}")
        self.pbx.hangup_channel(leg)

    def hold(self, ext: str, on: bool = True) -> None:
        from telephony.simulator.transfers import hold

        channel = self.pbx.phone_channel(ext)
        if channel is None:
            raise LookupError(f"{ext} has no call")
        hold(self.pbx, channel, on)

    def register(self, ext: str) -> None:
        from telephony.simulator.features import register_phone

        register_phone(self.pbx, ext)

    def unregister(self, ext: str) -> None:
        from telephony.simulator.features import unregister_phone

        unregister_phone(self.pbx, ext)

    @property
    def astdb(self) -> dict[str, str]:
        return self.pbx.astdb

    @property
    def inventory(self) -> SimInventory:
        return self.pbx.inventory

    def is_bed(self, ext: str) -> bool:
        return self.pbx.inventory.is_bed(ext)

    def set_bed_line(self, ext: str, active: bool = True, dnd: bool = False) -> None:
        """Write the bed's line state in AstDB as Wardline does (a test or demo shortcut)."""
        self.pbx.astdb[bed_key(ext, ACTIVE)] = ON if active else "0"
        self.pbx.astdb[bed_key(ext, DND)] = ON if dnd else "0"

    def assign_did(self, number: str, bed_ext: str | None) -> None:
        """Point a direct number at a bed (None: unassigned)."""
        if bed_ext is None:
            self.pbx.astdb.pop(did_key(number), None)
        else:
            self.pbx.astdb[did_key(number)] = bed_ext

    def dids(self) -> dict[str, str]:
        """Direct number -> bed extension, as AstDB ``did/*`` holds now."""
        prefix = DID_FAMILY + "/"
        db = self.pbx.astdb
        return {k.removeprefix(prefix): v for k, v in db.items() if k.startswith(prefix)}

    def ringing(self, ext: str) -> tuple[str, str, str] | None:
        """(call id, caller number, caller name) shown on ``ext`` while it rings, else None."""
        for ch in self.pbx.channels.values():
            if ch.phone == ext and ch.state == 5:
                return ch.linkedid, ch.connected_num, ch.connected_name
        return None

    def calls(self) -> dict[str, set[str]]:
        """The truth: call id -> the phones (extensions) on it, trunk legs as ``trunk``."""
        out: dict[str, set[str]] = {}
        for ch in self.pbx.channels.values():
            out.setdefault(ch.linkedid, set()).add(ch.phone or "trunk")
        return out

    def phone_states(self) -> dict[str, str]:
        return {ext: phone.device_state for ext, phone in self.pbx.phones.items()}

    def queue(self) -> list[str]:
        return [self.pbx.channels[uid].linkedid for uid in self.pbx.queue]

    def parked(self) -> dict[str, str]:
        return {
            space: self.pbx.channels[uid].linkedid
            for space, (uid, _p, _a) in self.pbx.parked.items()
        }
