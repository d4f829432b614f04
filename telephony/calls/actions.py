"""Switchboard actions and the AstDB, as AMI actions with a timeout and a typed error each.

Implements :class:`wardline.domain.switchboard_port.Switchboard` and
:class:`~wardline.domain.switchboard_port.AstDB`. Every action on an existing call first
claims it for the operator (:meth:`CallState.claim`): a second operator acting on the same
call gets :class:`CallConflict` and nothing is sent for them. Originate is always
``Async: true`` (panoramisk 1.4 dies on the synchronous reply) and sets ``ChannelId`` so the
new call's id is known at once.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterable, Mapping

import structlog

from telephony.ami.link import AmiLink
from telephony.calls.model import Call, Channel
from telephony.calls.state import CallState
from telephony.config.dialplan import DIALPLAN, Dialplan
from telephony.errors import CallConflict, PbxActionFailed, PbxTimeout, UnknownCall
from wardline.domain.call_events import CallTransferred
from wardline.domain.switchboard_port import ClaimStore, SwitchboardSnapshot

log = structlog.get_logger(__name__)

NOT_FOUND = "Database entry not found"
_EXTENSION = re.compile(r"[0-9*#+]{1,32}")


def extension(value: str, what: str = "extension") -> str:
    """An extension or phone number from outside (console, API): digits, ``*``, ``#``, ``+``."""
    if not isinstance(value, str) or not _EXTENSION.fullmatch(value):
        raise PbxActionFailed("validate", f"invalid {what}", field=what)
    return value


class PbxActions:
    def __init__(
        self, link: AmiLink, state: CallState, *, dialplan: Dialplan = DIALPLAN, tech: str = "PJSIP"
    ) -> None:
        self.link = link
        self.state = state
        self.dialplan = dialplan
        self.context = dialplan.staff_context
        self.tech = tech
        self._astdb_writes = asyncio.Semaphore(16)
        self.claims: ClaimStore | None = None
        self._releases: set[asyncio.Task[None]] = set()
        """The claims shared by the instances (the database); None: this instance's own."""

    # --- reads ------------------------------------------------------------------------------
    def snapshot(self) -> SwitchboardSnapshot:
        return self.state.snapshot()

    # --- calls ------------------------------------------------------------------------------
    async def originate(self, from_phone: str, to_extension: str, caller_id: str = "") -> str:
        """Ring ``from_phone``; once answered it dials ``to_extension``. Returns the call id."""
        extension(from_phone, "phone")
        extension(to_extension)
        call_id = f"wl-{uuid.uuid4().hex[:16]}"
        fields: dict[str, str | list[str]] = {
            "Action": "Originate",
            "Channel": f"{self.tech}/{from_phone}",
            "Context": self.context,
            "Exten": to_extension,
            "Priority": "1",
            "Async": "true",
            "ChannelId": call_id,
            "Timeout": "30000",
        }
        if caller_id:
            fields["CallerID"] = caller_id
        self.state.dialling[call_id] = to_extension
        while len(self.state.dialling) > 1000:  # originates that never made a channel
            del self.state.dialling[next(iter(self.state.dialling))]
        try:
            await self.link.send(fields, as_list=False)
        except Exception:
            self.state.dialling.pop(call_id, None)
            raise
        log.info("pbx.originate", call_id=call_id, from_phone=from_phone, to=to_extension)
        return call_id

    async def call_bed(self, operator: str, bed_extension: str) -> str:
        return await self.originate(operator, bed_extension)

    async def transfer_blind(self, call_id: str, to_extension: str, operator: str) -> None:
        extension(to_extension)
        call = await self._claim(call_id, operator)
        try:
            own = self._operator_leg(call, operator)
            if own is not None and call.queue is None:
                await self.link.send(
                    {
                        "Action": "BlindTransfer",
                        "Channel": own.name,
                        "Context": self.context,
                        "Exten": to_extension,
                    }
                )
                return  # Asterisk reports it with a BlindTransfer event
            far = self._far_leg(call, operator)
            await self.link.send(
                {
                    "Action": "Redirect",
                    "Channel": far.name,
                    "Context": self.context,
                    "Exten": to_extension,
                    "Priority": "1",
                }
            )
            call.transferred = True
            self.state.publish(
                CallTransferred(
                    call_id=call_id, kind="blind", to_extension=to_extension, by_extension=operator
                )
            )
        except Exception:
            await self._release(call_id, operator)
            raise

    async def transfer_attended(self, call_id: str, to_extension: str, operator: str) -> None:
        extension(to_extension)
        call = await self._claim(call_id, operator)
        own = self._operator_leg(call, operator)
        if own is None:
            await self._release(call_id, operator)
            raise PbxActionFailed("Atxfer", "the operator is not on this call", call_id=call_id)
        try:
            await self.link.send(
                {
                    "Action": "Atxfer",
                    "Channel": own.name,
                    "Context": self.context,
                    "Exten": to_extension,
                }
            )
        except Exception:
            await self._release(call_id, operator)
            raise

    async def complete_transfer(self, call_id: str, operator: str) -> None:
        """Complete the operator's attended transfer: their leg leaves, the caller and the
        target are connected (Asterisk completes an attended transfer when the transferer
        hangs up)."""
        own = await self._consulting_leg(call_id, operator)
        await self.link.send({"Action": "Hangup", "Channel": own.name, "Cause": "16"})

    async def cancel_transfer(self, call_id: str, operator: str) -> None:
        """Abandon the consultation: the target is hung up, the operator is back with the
        caller (CancelAtxfer sends the abort code of features.conf)."""
        own = await self._consulting_leg(call_id, operator)
        await self.link.send({"Action": "CancelAtxfer", "Channel": own.name})

    async def _consulting_leg(self, call_id: str, operator: str) -> Channel:
        call = await self._claim(call_id, operator)
        own = self._operator_leg(call, operator)
        if own is None:
            raise PbxActionFailed("transfer", "the operator is not on this call", call_id=call_id)
        return own

    async def hangup(self, call_id: str, operator: str) -> None:
        call = await self._claim(call_id, operator)
        for channel in list(call.channels.values()):
            try:
                await self.link.send({"Action": "Hangup", "Channel": channel.name, "Cause": "16"})
            except PbxActionFailed as exc:
                log.info("pbx.hangup_skipped", call_id=call_id, reason=exc.details.get("reason"))

    async def park(self, call_id: str, operator: str) -> str:
        """Park the caller of the operator's call; a parked call that times out comes back to
        the operator. Refused (nothing sent) when the operator is not on the call: Asterisk
        would take the caller's own peer (the trunk) as the parker and call it back."""
        call = await self._claim(call_id, operator)
        own = self._operator_leg(call, operator)
        if own is None:
            await self._release(call_id, operator)
            raise PbxActionFailed("Park", "the operator is not on this call", call_id=call_id)
        far = self._far_leg(call, operator)
        fields: dict[str, str | list[str]] = {
            "Action": "Park",
            "Channel": far.name,
            "TimeoutChannel": own.name,
        }
        await self.link.send(fields)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.link.action_timeout
        while loop.time() < deadline:
            for space, parked in self.state.parked.items():
                if parked.call_id == call_id:
                    return space
            await asyncio.sleep(0.02)
        raise PbxTimeout("Park", self.link.action_timeout, call_id=call_id)

    async def pickup(self, space: str, operator: str) -> None:
        extension(space, "parking space")
        parked = self.state.parked.get(space)
        if parked is None:
            raise UnknownCall(space)
        await self._hold(parked.call_id, operator)
        try:
            await self.originate(operator, space)
        except Exception:
            await self._release(parked.call_id, operator)
            raise

    # --- helpers ----------------------------------------------------------------------------
    def share_claims(self, store: ClaimStore) -> None:
        """Hold the claims in ``store`` (the database) so that they hold across instances."""
        self.claims = store
        self.state.on_release = self._left_call

    def _left_call(self, call_id: str, operator: str) -> None:
        store = self.claims
        if store is None:
            return
        task = asyncio.create_task(store.release(call_id, operator), name="pbx.claim_release")
        self._releases.add(task)
        task.add_done_callback(self._released)

    def _released(self, task: asyncio.Task[None]) -> None:
        self._releases.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("pbx.claim_release_failed", error=type(task.exception()).__name__)

    async def _claim(self, call_id: str, operator: str) -> Call:
        call = self.state.call(call_id)  # a call this instance does not see is unknown
        await self._hold(call_id, operator)
        return call

    async def _hold(self, call_id: str, operator: str) -> None:
        """Claim the call for the operator: in the database when it holds the claims (every
        instance sees them), else in this instance's state."""
        if self.claims is None:
            self.state.claim(call_id, operator)
            return
        holder = await self.claims.claim(call_id, operator)
        if holder != operator:
            raise CallConflict(call_id, holder)
        self.state.hold(call_id, operator)

    async def _release(self, call_id: str, operator: str) -> None:
        self.state.release(call_id, operator)
        if self.claims is not None:
            await self.claims.release(call_id, operator)

    @staticmethod
    def _operator_leg(call: Call, operator: str) -> Channel | None:
        return next((ch for ch in call.channels.values() if ch.phone == operator), None)

    @staticmethod
    def _far_leg(call: Call, operator: str) -> Channel:
        legs = [ch for ch in call.channels.values() if ch.phone != operator]
        if not legs:
            raise UnknownCall(call.call_id)
        first = next((ch for ch in legs if ch.uniqueid == call.call_id), None)
        return first or legs[0]

    # --- AstDB ------------------------------------------------------------------------------
    # Reads are DBGet/DBGetTree (class reporting). Writes go through the dialplan context
    # DIALPLAN.astdb_context (the account has no `system` class, hence no DBPut/DBDel): one
    # Originate of a Local channel carries up to DIALPLAN.astdb_batch keys, checked there; the
    # write is acknowledged by the OriginateResponse (Success once every key is written).
    async def put(self, family: str, key: str, value: str) -> None:
        await self.write({f"{family.strip('/')}/{key}": value}, ())

    async def get(self, family: str, key: str) -> str | None:
        try:
            answers = await self.link.send({"Action": "DBGet", "Family": family, "Key": key})
        except PbxActionFailed as exc:
            if exc.details.get("reason") == NOT_FOUND:
                return None
            raise
        values = [a.get("Val") for a in answers if a.name == "DBGetResponse"]
        return values[0] if values else None

    async def delete(self, family: str, key: str) -> bool:
        existed = await self.get(family, key) is not None
        if existed:
            await self.write({}, (f"{family.strip('/')}/{key}",))
        return existed

    async def write(self, puts: Mapping[str, str], deletes: Iterable[str]) -> None:
        """Write and delete full keys (``family/key``), in batches sent side by side; raises
        when the PBX refuses one (the others are written; the next reconcile repairs)."""
        items: list[tuple[str, str | None]] = [(k, v) for k, v in puts.items()]
        items += [(k, None) for k in deletes]
        size = self.dialplan.astdb_batch
        chunks = [items[start : start + size] for start in range(0, len(items), size)]

        async def one(chunk: list[tuple[str, str | None]]) -> None:
            async with self._astdb_writes:
                await self._write_batch(
                    {k: v for k, v in chunk if v is not None}, [k for k, v in chunk if v is None]
                )

        results = await asyncio.gather(*(one(c) for c in chunks), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _write_batch(self, puts: Mapping[str, str], deletes: list[str]) -> None:
        dp = self.dialplan
        try:
            variables = dp.astdb_variables(puts, deletes)
        except ValueError as exc:
            raise PbxActionFailed("AstDB", str(exc)) from exc
        answers = await self.link.send(
            {
                "Action": "Originate",
                "Channel": f"Local/{dp.astdb_write}@{dp.astdb_context}",
                "Context": dp.astdb_context,
                "Exten": dp.astdb_done,
                "Priority": "1",
                "Async": "true",
                "Timeout": str(int(self.link.action_timeout * 1000)),
                "Variable": variables,
            }
        )
        final = answers[-1] if answers else None
        if final is None or final.name != "OriginateResponse" or final.get("Response") != "Success":
            raise PbxActionFailed(
                "AstDB", "the PBX refused the AstDB write", keys=str(len(puts) + len(deletes))
            )

    async def tree(self, family: str) -> dict[str, str]:
        try:
            answers = await self.link.send({"Action": "DBGetTree", "Family": family})
        except PbxActionFailed as exc:
            if exc.details.get("reason") == NOT_FOUND:
                return {}
            raise
        prefix = f"/{family.strip('/')}/"
        return {
            a.get("Key").removeprefix(prefix): a.get("Val")
            for a in answers
            if a.name == "DBGetTreeResponse"
        }
