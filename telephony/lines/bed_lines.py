"""Bed lines follow the stays: the stay events are turned into AstDB writes through the
``AstDB`` port, and AstDB is reconciled with the database (which wins) at start-up, after
every reconnect to the PBX, and every ``WARDLINE_LINES_AUDIT_SECONDS`` (:meth:`audit_forever`):
a key changed outside Wardline (by hand, or by whoever holds an AMI secret: Asterisk lets an
async Originate write AstDB, asterisk_conf/README.md) lasts one period at most, and is logged
``bed_lines.drift_repaired`` with the beds it touched.

Each event names the beds and DIDs it touches; their wanted keys are read from the database
when the event is handled (so a late event never undoes a newer state), then written and the
stale ones deleted. A write failing because the PBX is down is logged (ids only) and left to
the reconcile that follows the reconnect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import structlog

from telephony.lines.keys import (
    BED_FAMILY,
    DID_FAMILY,
    LineFacts,
    all_keys,
    bed_key_names,
    owned,
)
from telephony.lines.reads import active_lines, bed_count
from wardline.bus import EventBus
from wardline.cluster.leases import BED_LINES, DutyLease, LeaseLost
from wardline.db.engine import Database
from wardline.domain import events as ev
from wardline.domain.call_events import PbxConnectionChanged
from wardline.domain.fanout_events import ClusterResync
from wardline.domain.switchboard_port import AstDB
from wardline.errors import WardlineError

log = structlog.get_logger(__name__)

LineReader = Callable[..., Awaitable[list[LineFacts]]]
STAY_EVENTS: tuple[type[ev.DomainEvent], ...] = (
    ev.StayAdmitted,
    ev.StayTransferred,
    ev.StayDischarged,
    ev.StayCancelled,
    ev.StayReopened,
    ev.StayLeaveChanged,
    ev.PatientUpdated,
    ev.LineChanged,
)


@dataclass
class Repair:
    """What a reconcile changed in AstDB."""

    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: int = 0

    @property
    def changed(self) -> int:
        return len(self.written) + len(self.deleted)


def touched(event: ev.DomainEvent) -> tuple[set[str], set[str], int | None]:
    """(bed extensions, DIDs, stay id) an event may have changed."""
    beds: set[str] = set()
    dids: set[str] = set()
    stay_id: int | None = None
    if isinstance(event, ev.StayTransferred):
        beds |= {event.from_bed.extension, event.to_bed.extension}
    bed = getattr(event, "bed", None)
    if isinstance(bed, ev.BedRef):
        beds.add(bed.extension)
    for name in ("did", "old_did"):
        did = getattr(event, name, None)
        if isinstance(did, str) and did:
            dids.add(did)
    if isinstance(event, ev.StayEvent | ev.PatientUpdated | ev.LineChanged):
        stay_id = event.stay_id
    return beds, dids, stay_id


class BedLines:
    def __init__(
        self,
        astdb: AstDB,
        db: Database,
        *,
        reader: LineReader = active_lines,
        concurrency: int = 64,
        lease: DutyLease | None = None,
        chunk: int = 500,
    ) -> None:
        self.astdb, self.db, self._read = astdb, db, reader
        self.lease = lease or DutyLease.solo(BED_LINES)
        """AstDB is written by the holder only, each write fenced; a new holder reconciles
        in full (events may have been missed while nobody held it)."""
        self.pbx_up = False
        self.lease.when_acquired(self._lease_acquired)
        self._chunk = chunk
        self._lock = asyncio.Lock()
        self._limit = asyncio.Semaphore(concurrency)
        self.pending_repair = False
        self.last_repair: Repair | None = None
        self._task: asyncio.Task[None] | None = None
        self.applied = 0
        self.drift_repairs = 0
        """Audits that found AstDB changed outside Wardline (and put it back)."""
        self.on_applied: Callable[[ev.DomainEvent], None] | None = None
        """Called once an event's keys are written and acknowledged (metrics, benchmarks)."""

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(STAY_EVENTS, self.on_stay_event, name="telephony.bed_lines")
        bus.subscribe(PbxConnectionChanged, self.on_pbx_connection, name="telephony.bed_lines.pbx")
        bus.subscribe(ClusterResync, self.on_cluster_resync, name="telephony.bed_lines.cluster")

    # --- events -------------------------------------------------------------------------------
    async def on_stay_event(self, event: ev.DomainEvent) -> None:
        if not self.lease.held:
            return  # the holder writes; a new holder's reconcile covers what it missed
        beds, dids, stay_id = touched(event)
        if stay_id is not None and isinstance(event, ev.PatientUpdated | ev.LineChanged):
            current = await self._read(self.db, stay_ids=[stay_id])
            beds |= {f.extension for f in current}
            dids |= {f.did for f in current if f.did}
        if not beds and not dids:
            return
        async with self._lock:
            try:
                await self.apply(beds, dids)
            except LeaseLost:
                log.info("bed_lines.lease_lost", domain_event=event.name, stay_id=stay_id)
                return
            except WardlineError as exc:
                self.pending_repair = True
                log.warning(
                    "bed_lines.write_deferred",
                    domain_event=event.name,
                    stay_id=stay_id,
                    beds=sorted(beds),
                    error=exc.error_id,
                )
                return
        self.applied += 1
        if self.on_applied is not None:
            self.on_applied(event)

    async def apply(self, beds: Collection[str], dids: Collection[str]) -> None:
        """Bring the keys of these beds and DIDs to what the database says."""
        lines = await self._read(self.db, extensions=beds, dids=dids)
        wanted = all_keys(lines)
        held = set(dids) | {f.did for f in lines if f.did}
        stale = {k for ext in beds for k in bed_key_names(ext)} | {f"did/{d}" for d in held}
        async with self.lease.guarded():
            await self.astdb.write(dict(sorted(wanted.items())), sorted(stale - set(wanted)))

    async def on_pbx_connection(self, event: PbxConnectionChanged) -> None:
        self.pbx_up = event.state == "up"
        if self.pbx_up and self.lease.held:
            self.start_reconcile()

    async def on_cluster_resync(self, event: ClusterResync) -> None:
        """Other instances' stay events may have been missed: the holder reconciles."""
        if self.pbx_up and self.lease.held:
            self.start_reconcile()

    def _lease_acquired(self) -> None:
        if self.pbx_up:  # else the connection's own reconcile follows
            self.start_reconcile()

    def start_reconcile(self) -> None:
        """Run a reconcile in the background (kept by reference; its failure is logged)."""
        if self._task is not None and not self._task.done():
            return
        self._task = asyncio.create_task(self._reconcile_logged(), name="bed-lines-reconcile")

    async def _reconcile_logged(self) -> None:
        try:
            await self.reconcile()
        except LeaseLost:
            log.info("bed_lines.reconcile_lease_lost")
        except WardlineError as exc:
            self.pending_repair = True
            log.warning("bed_lines.reconcile_failed", error=exc.error_id)
        except Exception:
            self.pending_repair = True
            log.exception("bed_lines.reconcile_crashed")

    async def audit_forever(self, every: float) -> None:
        """Reconcile every ``every`` seconds while this instance holds the lease and the PBX
        is up; a change found with no repair pending is drift from outside, logged."""
        while True:
            await asyncio.sleep(every)
            if not (self.pbx_up and self.lease.held) or (
                self._task is not None and not self._task.done()
            ):
                continue
            expected = not self.pending_repair
            try:
                repair = await self.reconcile()
            except LeaseLost:
                continue
            except WardlineError as exc:
                self.pending_repair = True
                log.warning("bed_lines.audit_failed", error=exc.error_id)
                continue
            if repair.changed and expected:
                self.drift_repairs += 1
                log.warning(
                    "bed_lines.drift_repaired",
                    written=len(repair.written),
                    deleted=len(repair.deleted),
                    beds=_extensions(repair.written + repair.deleted),
                )

    async def wait_reconciled(self) -> None:
        task = self._task
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def readiness(self) -> dict[str, Any]:
        """For ``/readyz``: degraded while a change waits for the next reconcile."""
        repair = self.last_repair
        return {
            "state": "degraded" if self.pending_repair else "up",
            "pending_repair": self.pending_repair,
            "applied": self.applied,
            "drift_repairs": self.drift_repairs,
            "lease_held": self.lease.held,
            "last_repair": None
            if repair is None
            else {"written": len(repair.written), "deleted": len(repair.deleted)},
        }

    # --- reconcile ------------------------------------------------------------------------------
    async def reconcile(self) -> Repair:
        """Make AstDB's ``bed`` and ``did`` families exactly what the active stays want.

        Not before an inventory is loaded: an empty database never wipes a PBX's lines.
        Only by the lease's holder, its writes fenced in chunks (a paused holder's stale
        chunk is refused once another instance took over; the new holder's reconcile
        overwrites whatever got through before).
        """
        if not self.lease.held:
            return Repair()
        if await bed_count(self.db) == 0:
            log.warning("bed_lines.no_inventory_no_reconcile")
            self.pending_repair = False
            return Repair()
        async with self._lock:
            lines, beds, dids = await asyncio.gather(  # the database and the PBX side by side
                self._read(self.db), self.astdb.tree(BED_FAMILY), self.astdb.tree(DID_FAMILY)
            )
            wanted = all_keys(lines)
            actual = {f"bed/{k}": v for k, v in beds.items()}
            actual.update({f"did/{k}": v for k, v in dids.items()})
            repair = Repair(
                written=sorted(k for k, v in wanted.items() if actual.get(k) != v),
                deleted=sorted(k for k in actual if k not in wanted and owned(k)),
            )
            await self._write_fenced({k: wanted[k] for k in repair.written}, repair.deleted)
            self.pending_repair = False
            self.last_repair = repair
        if repair.changed:
            log.info(
                "bed_lines.repaired",
                written=len(repair.written),
                deleted=len(repair.deleted),
                beds=_extensions(repair.written + repair.deleted),
            )
        else:
            log.info("bed_lines.in_step", keys=len(wanted))
        return repair

    async def _write_fenced(self, written: dict[str, str], deleted: list[str]) -> None:
        items, size = list(written.items()), self._chunk
        for start in range(0, max(len(items), len(deleted), 1), size):
            async with self.lease.guarded():
                await self.astdb.write(
                    dict(items[start : start + size]), deleted[start : start + size]
                )


def _extensions(keys: list[str]) -> list[str]:
    return sorted({k.split("/")[1] for k in keys if k.startswith("bed/")})[:50]
