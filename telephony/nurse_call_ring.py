"""Nurse calls ring phones for as long as they are open.

The bedside edge says which phones a call rings (:class:`NurseCallRingWanted`: at the press,
at each escalation, at start for the calls left open); this ringer keeps them ringing:

- each phone gets a *leg*, an ``Originate`` of ``Local/<phone>@wl-nurse-ring`` whose
  ``ChannelId`` Wardline chose (:mod:`telephony.nurse_call_legs`); the dialplan rings the phone
  for the ward's ``dial_limit_seconds``, showing the room and bed (or the bed line's caller
  name, where the ward's policy allows the patient's name);
- every ``reissue_seconds`` (below the dial limit) a new leg is placed for each phone, and the
  older one is hung up once the new one rings: the phone never falls silent, after the last
  escalation level too;
- on :class:`NurseCallAcknowledged` or :class:`NurseCallCleared` every leg of the call that is
  not the answered one is hung up by its Uniqueid (the PBX CANCELs the phone's INVITE); a leg
  whose channel does not exist yet is hung up as soon as it appears. Nothing else is touched;
- answering a ring runs ``wl-nurse-answered``, whose ``UserEvent`` is turned into
  :class:`NurseCallAnsweredAtPhone` (the bedside edge records the acknowledgement) and stops
  the call's other legs at once;
- a ring that cannot be placed (PBX unreachable, phone unavailable) is reported
  (:class:`NurseCallRingFailed`, shown on the console) and placed again as soon as the AMI link
  is back (:class:`PbxConnectionChanged`), while the call is open. This is the one place where
  an action is sent again after a reconnect: the call is the state, the ring derives from it.

Wire it with ``bus.subscribe(NurseCallRinger.EVENTS, ringer, ...)`` and
``link.subscribe(ringer.on_frame)``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from telephony.ami.frames import AmiMessage
from telephony.errors import PbxActionFailed, PbxError
from telephony.nurse_call_legs import (
    NurseCallRingSettings,
    RingBook,
    RingLeg,
    answered_call,
    duration_seconds,
    ring_originate,
)
from wardline.domain.call_events import PbxConnectionChanged
from wardline.domain.events import DomainEvent
from wardline.domain.nurse_call_events import (
    NurseCallAcknowledged,
    NurseCallAnsweredAtPhone,
    NurseCallCleared,
    NurseCallRingFailed,
    NurseCallRinging,
    NurseCallRingWanted,
)

log = structlog.get_logger(__name__)
RETRY_MAX = 2.0
FINISHED_KEPT = 10_000
ORPHAN_GRACE = 10.0


class RingLink(Protocol):
    """What the ringer needs of the AMI link (:class:`telephony.ami.link.AmiLink`)."""

    async def send(
        self, fields: dict[str, str | list[str]], *, within: float | None = None,
        as_list: bool | None = None,
    ) -> list[AmiMessage]: ...  # fmt: skip


@dataclass
class RingingCall:
    want: NurseCallRingWanted
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    reported: str | None = None  # ringing / failed: what the console was told last
    fresh: set[str] = field(default_factory=set)  # phones to ring at once (new, or lost)
    tried: dict[str, float] = field(default_factory=dict)  # phone -> last attempt (clock)
    failing: dict[str, int] = field(default_factory=dict)  # phone -> failures in a row

    def wait_after(self, phone: str) -> float:
        """Seconds between two rings of ``phone``: the re-ring interval, or a short backoff
        after a failure (0.5 s doubling up to 2 s), so that a PBX still booting (it takes
        AMI logins before its dialplan and phones are loaded) is tried again soon."""
        failures = self.failing.get(phone, 0)
        reissue = float(self.want.reissue_seconds)
        return min(reissue, RETRY_MAX, 0.5 * 2 ** min(failures - 1, 8)) if failures else reissue


class NurseCallRinger:
    EVENTS = (NurseCallRingWanted, NurseCallAcknowledged, NurseCallCleared, PbxConnectionChanged)

    def __init__(
        self,
        link: RingLink,
        publish: Callable[[DomainEvent], None],
        settings: NurseCallRingSettings | None = None,
        book: RingBook | None = None,
    ) -> None:
        self._link = link
        self._publish = publish
        self.settings = settings or NurseCallRingSettings()
        self.book = book or RingBook()
        self.calls: dict[int, RingingCall] = {}
        self.finished: dict[int, None] = {}
        """Calls acknowledged or cleared (the latest ones): a ring asked for them afterwards
        (an escalation published just after the acknowledgement) is ignored."""
        self.doomed: dict[str, float] = {}
        """Legs to hang up that the PBX has not shown yet (or could not be reached for)."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self.placed = 0
        self.failed = 0
        self.stopped = 0

    # --- bus --------------------------------------------------------------------------------
    async def __call__(self, event: DomainEvent) -> None:
        if isinstance(event, NurseCallRingWanted):
            self._want(event)
        elif isinstance(event, NurseCallAcknowledged | NurseCallCleared):
            self.stop(event.call_id)
        elif isinstance(event, PbxConnectionChanged) and event.state == "up":
            self._link_up()

    def _want(self, want: NurseCallRingWanted) -> None:
        if want.call_id in self.finished:
            return
        call = self.calls.get(want.call_id)
        if call is None:
            call = self.calls[want.call_id] = RingingCall(want=want, fresh=set(want.phones))
            call.task = self._spawn(self._keep_ringing(call), f"nurse-ring:{want.call_id}")
            return
        before = set(call.want.phones)
        call.want = want
        call.fresh |= set(want.phones) - before
        for leg in self.book.of_call(want.call_id):
            if leg.phone not in want.phones:  # a lower level that does not keep ringing
                self._hang_up(leg)
        call.wake.set()

    def _link_up(self) -> None:
        self._spawn(self._adopt(), "nurse-ring:adopt")
        for ring_id in list(self.doomed):
            self._spawn(self._hangup_id(ring_id), f"nurse-ring:doomed:{ring_id}")
        for call in self.calls.values():
            call.fresh |= set(call.want.phones)  # whatever rang before the outage is gone
            call.failing.clear()
            call.wake.set()

    async def _adopt(self) -> None:
        """After a (re)connect: the rings the PBX still has (placed before Wardline restarted,
        or while the link was down) are known again; those of calls no longer open are hung
        up, at once for a finished call, after ``ORPHAN_GRACE`` seconds for a call nobody
        asked to ring again (the bedside edge rings every open call when it starts)."""
        try:
            answers = await self._link.send({"Action": "CoreShowChannels"})
        except PbxError as exc:
            log.warning("nurse_call.adopt_failed", error=exc.error_id)
            return
        adopted = 0
        for item in answers[1:]:
            ring_id = item.get("Uniqueid")
            if item.name != "CoreShowChannel" or item.get("Linkedid") != ring_id:
                continue  # only a ring's own Local channel: hanging it up ends the ring
            phone = item.get("Channel").removeprefix("Local/").partition("@")[0]
            leg = self.book.adopt(ring_id, phone, duration_seconds(item.get("Duration")))
            if leg is None:
                continue
            adopted += 1
            if leg.call_id in self.finished:
                self._hang_up(leg)
        if adopted:
            log.info("nurse_call.rings_adopted", rings=adopted)
            await asyncio.sleep(ORPHAN_GRACE)
            for leg in list(self.book.legs.values()):
                if leg.call_id not in self.calls and not leg.ended and not leg.answered:
                    self._hang_up(leg)

    def stop(self, call_id: int, keep: RingLeg | None = None) -> None:
        """Stop every ring of the call (but ``keep``, the answered one), for good."""
        self.finished[call_id] = None
        while len(self.finished) > FINISHED_KEPT:
            del self.finished[next(iter(self.finished))]
        call = self.calls.pop(call_id, None)
        if call is not None and call.task is not None:
            call.task.cancel()
        for leg in self.book.of_call(call_id):
            if leg is keep or leg.answered:
                self.book.forget(leg.ring_id)
            elif not leg.ended:
                self._hang_up(leg)
            else:
                self.book.forget(leg.ring_id)
        if call is not None:
            self.stopped += 1
            log.info("nurse_call.ring_stopped", nurse_call=call_id)

    # --- placing rings ----------------------------------------------------------------------
    async def _keep_ringing(self, call: RingingCall) -> None:
        while True:
            force, call.fresh = call.fresh, set()
            await self._ring(call, force)
            call.wake.clear()
            if call.fresh:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._next_round(call)):
                    await call.wake.wait()

    def _next_round(self, call: RingingCall) -> float:
        """Seconds until the first phone is due for its next ring."""
        due: list[float] = []
        for phone in call.want.phones:
            legs = [g for g in self.book.of_call(call.want.call_id) if g.live and g.phone == phone]
            newest = max((g.placed_at for g in legs), default=call.tried.get(phone, 0.0))
            due.append(newest + call.wait_after(phone))
        if not due:
            return float(call.want.reissue_seconds)
        return max(0.0, min(due) - self.book.clock())

    async def _ring(self, call: RingingCall, force: set[str]) -> None:
        """Place a leg for each phone that is forced (new, or after an outage), has none
        live, or whose newest leg is due for its successor."""
        failed: list[str] = []
        reason = "pbx_unreachable"
        for phone in call.want.phones:
            if phone not in force and not self._due(call, phone):
                continue
            leg = self.book.new_leg(call.want.call_id, phone)
            call.tried[phone] = leg.placed_at
            try:
                await self._link.send(ring_originate(call.want, leg, self.settings), as_list=False)
            except PbxError as exc:
                self.book.forget(leg.ring_id)
                failed.append(phone)
                if isinstance(exc, PbxActionFailed):
                    reason = "ring_refused"  # the PBX is up but would not place it
                call.failing[phone] = call.failing.get(phone, 0) + 1
                log.warning(
                    "nurse_call.ring_failed", nurse_call=leg.call_id, phone=phone,
                    error=exc.error_id, reason=exc.details.get("reason"),
                )  # fmt: skip
                continue
            self.placed += 1
            log.info("nurse_call.ring_placed", nurse_call=leg.call_id, phone=phone)
        if failed:
            self._report_failure(call, tuple(failed), reason)

    def _due(self, call: RingingCall, phone: str) -> bool:
        """The phone's newest leg (or last attempt) is ``reissue_seconds`` old."""
        legs = [g for g in self.book.of_call(call.want.call_id) if g.live and g.phone == phone]
        newest = max((g.placed_at for g in legs), default=call.tried.get(phone, 0.0))
        return self.book.clock() - newest >= call.wait_after(phone) - 0.05

    def _report_failure(self, call: RingingCall, phones: tuple[str, ...], reason: str) -> None:
        self.failed += len(phones)
        if call.reported == f"failed:{reason}":
            return
        call.reported = f"failed:{reason}"
        w = call.want
        self._publish(
            NurseCallRingFailed(
                call_id=w.call_id, bed_label=w.bed_label, ward_code=w.ward_code,
                phones=phones, reason=reason,
            )
        )  # fmt: skip

    # --- what the PBX reports ---------------------------------------------------------------
    def on_frame(self, frame: AmiMessage) -> None:
        """Every AMI event (from the link); only this ringer's legs are looked at."""
        answer = answered_call(frame)
        if answer is not None:
            self._answered(*answer)
            return
        if frame.name == "Newchannel" and frame.get("Uniqueid") in self.doomed:
            self._spawn(self._hangup_id(frame.get("Uniqueid")), "nurse-ring:late")
            return
        change = self.book.on_frame(frame)
        if change is None:
            return
        leg, what = change
        call = self.calls.get(leg.call_id)
        if what == "ringing" and call is not None:
            call.failing.pop(leg.phone, None)
            self._retire_older(leg)
            if call.reported != "ringing":
                call.reported = "ringing"
                w = call.want
                ringing = sorted({g.phone for g in self.book.of_call(w.call_id) if g.ringing})
                self._publish(
                    NurseCallRinging(
                        call_id=w.call_id, bed_label=w.bed_label, ward_code=w.ward_code,
                        phones=tuple(ringing),
                    )
                )  # fmt: skip
        elif what == "ended":
            self.book.forget(leg.ring_id)
            self.doomed.pop(leg.ring_id, None)
            if call is None or leg.answered:
                return
            others = [g for g in self.book.of_call(leg.call_id) if g.phone == leg.phone and g.live]
            if not others and leg.phone in call.want.phones:
                if leg.ringing:  # it rang to its limit: ring again at once, no silent gap
                    call.fresh.add(leg.phone)
                    call.wake.set()
                else:
                    call.failing[leg.phone] = call.failing.get(leg.phone, 0) + 1
                    self._report_failure(call, (leg.phone,), "phone_unavailable")
                    call.wake.set()  # the next attempt after the failure's backoff

    def _retire_older(self, leg: RingLeg) -> None:
        for other in self.book.of_call(leg.call_id):
            older = other.phone == leg.phone and other.placed_at < leg.placed_at
            if older and not other.ended and not other.answered:
                self._hang_up(other)

    def _answered(self, call_id: int, phone: str, ring_id: str) -> None:
        leg = self.book.legs.get(ring_id)
        if leg is not None:
            leg.answered = True
        call = self.calls.get(call_id)
        bed, ward = (call.want.bed_label, call.want.ward_code) if call else ("", "")
        log.info("nurse_call.ring_answered", nurse_call=call_id, phone=phone)
        self.stop(call_id, keep=leg)
        answered = NurseCallAnsweredAtPhone(
            call_id=call_id, bed_label=bed, ward_code=ward, extension=phone
        )
        self._publish(answered)

    # --- hanging up -------------------------------------------------------------------------
    def _hang_up(self, leg: RingLeg) -> None:
        leg.ended = True  # no longer counted as ringing: its Hangup event forgets it
        if not leg.seen:
            self.doomed[leg.ring_id] = self.book.clock()
        self._spawn(self._hangup_id(leg.ring_id), f"nurse-ring:hangup:{leg.ring_id}")

    async def _hangup_id(self, ring_id: str) -> None:
        try:
            await self._link.send({"Action": "Hangup", "Channel": ring_id, "Cause": "16"})
        except PbxActionFailed:
            # Not created yet (hung up when it appears), or already gone.
            self._expire_doomed()
            return
        except PbxError as exc:
            self.doomed[ring_id] = self.book.clock()  # the link is down: again once it is back
            log.warning("nurse_call.hangup_failed", ring=ring_id, error=exc.error_id)
            return
        self.doomed.pop(ring_id, None)
        self.book.forget(ring_id)

    def _expire_doomed(self, keep_seconds: float = 900.0) -> None:
        now = self.book.clock()
        for ring_id, since in list(self.doomed.items()):
            if now - since > keep_seconds:
                del self.doomed[ring_id]

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = repr(task.exception())
            log.error("nurse_call.ring_task_failed", task=task.get_name(), error=error)

    async def close(self) -> None:
        for call in self.calls.values():
            if call.task is not None:
                call.task.cancel()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def ring_state(self, call_id: int) -> str | None:
        call = self.calls.get(call_id)
        return call.reported if call is not None else None

    def readiness(self) -> dict[str, int]:
        live = sum(1 for leg in self.book.legs.values() if leg.live)
        return {"placed": self.placed, "failed": self.failed, "stopped": self.stopped,
                "open_calls": len(self.calls), "live_rings": live}  # fmt: skip
