"""Leases on the duties that must happen once, held in PostgreSQL with fencing tokens.

One row per duty in ``cluster_leases``: its holder, its expiry **by the database's clock**
(``clock_timestamp()``, never an instance's) and a fencing token increased by every
acquisition. Each instance's worker renews what it holds every ``renew`` seconds and takes any
duty whose lease has expired (``FOR UPDATE SKIP LOCKED``: one taker wins). Believing is not
enough: every write a lease guards runs, in its own transaction, the fence
(:meth:`DutyLease.fence`), which share-locks the lease row only while the token is still this
instance's and unexpired. A taker's update of that row waits for the guarded transaction to
end, and a guarded transaction that starts after the takeover finds another token and fails
(:class:`LeaseLost`), so a paused or cut-off instance never commits on stale authority. The
fence also bounds how long a guarded transaction may sit idle (the lease's TTL), so a holder
frozen inside one is cut off by PostgreSQL and cannot keep the row locked.

Locally, a lease counts as held until ``ttl * 0.8`` after the start of its last successful
renewal (a monotonic clock, stricter than the database's expiry): the duty's loops stop
acting when the instance could no longer renew, before anyone may take over.

On SQLite (one instance) every duty is held by this instance for good; the fence is a no-op.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import structlog
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import BigInteger, Float, String

from wardline.db.engine import Database
from wardline.errors import WardlineError

log = structlog.get_logger(__name__)

BED_LINES = "bed_lines"
NURSE_CALL_ESCALATION = "nurse_call_escalation"
TERMINAL_RESYNC = "terminal_resync"
OUTBOX = "outbox"
DUTIES = (BED_LINES, NURSE_CALL_ESCALATION, TERMINAL_RESYNC, OUTBOX)
VALIDITY = 0.8
"""Share of the TTL a renewal is trusted for locally, from the moment it was sent."""

Callback = Callable[[], Awaitable[None] | None]

_DUTIES = bindparam("duties", type_=ARRAY(String))
_TOKENS = bindparam("tokens", type_=ARRAY(BigInteger))
_TTL = bindparam("ttl", type_=Float)
_ENSURE = text(
    "INSERT INTO cluster_leases (duty, holder, token, expires_at) "
    "SELECT d, NULL, 0, timestamptz 'epoch' FROM unnest(:duties) AS d "
    "ON CONFLICT (duty) DO NOTHING"
).bindparams(_DUTIES)
_RENEW = text(
    "UPDATE cluster_leases SET expires_at = clock_timestamp() + make_interval(secs => :ttl) "
    "WHERE holder = :me AND (duty, token) IN (SELECT * FROM unnest(:duties, :tokens)) "
    "RETURNING duty"
).bindparams(_DUTIES, _TOKENS, _TTL)
_ACQUIRE = text(
    "WITH free AS (SELECT duty, holder FROM cluster_leases "
    "  WHERE duty = ANY(:duties) AND expires_at <= clock_timestamp() "
    "  FOR UPDATE SKIP LOCKED) "
    "UPDATE cluster_leases AS l SET holder = :me, token = l.token + 1, "
    "  expires_at = clock_timestamp() + make_interval(secs => :ttl), "
    "  acquired_at = clock_timestamp() "
    "FROM free WHERE l.duty = free.duty "
    "RETURNING l.duty, l.token, free.holder AS previous"
).bindparams(_DUTIES, _TTL)
_RELEASE = text(
    "UPDATE cluster_leases SET expires_at = clock_timestamp() "
    "WHERE holder = :me AND (duty, token) IN (SELECT * FROM unnest(:duties, :tokens))"
).bindparams(_DUTIES, _TOKENS)
_FENCE = text(
    "SELECT l.token, set_config('idle_in_transaction_session_timeout', :idle, true) "
    "FROM cluster_leases AS l "
    "WHERE l.duty = :duty AND l.token = :token AND l.expires_at > clock_timestamp() "
    "FOR SHARE OF l"
)
_HOLDERS = text(
    "SELECT duty, holder, token, "
    "  extract(epoch FROM expires_at - clock_timestamp()) AS expires_in "
    "FROM cluster_leases ORDER BY duty"
)


class LeaseLost(WardlineError):
    """A guarded write refused: this instance no longer holds the duty's lease."""


class DutyLease:
    """One duty as this instance holds it (or not)."""

    def __init__(self, name: str, leases: Leases | None = None) -> None:
        self.name = name
        self._leases = leases
        self.token: int | None = None
        self.valid_until = 0.0
        self.generation = 0
        """Increased by every acquisition: work started under an older one is stale."""
        self.acquisitions = 0
        self.takeovers = 0
        self._acquired: list[Callback] = []
        self._lost: list[Callable[[], None]] = []

    @classmethod
    def solo(cls, name: str) -> DutyLease:
        """A duty held for good with no database fence (one instance, parts used alone)."""
        lease = cls(name)
        lease.token, lease.generation = 1, 1
        return lease

    @property
    def solo_held(self) -> bool:
        return self._leases is None or self._leases.single

    @property
    def held(self) -> bool:
        if self.solo_held:
            return True
        return self.token is not None and time.monotonic() < self.valid_until

    def when_acquired(self, callback: Callback) -> None:
        """Called (as a task) after each acquisition: rebuild from the database."""
        self._acquired.append(callback)

    def when_lost(self, callback: Callable[[], None]) -> None:
        self._lost.append(callback)

    async def fence(self, session: AsyncSession) -> None:
        """In the caller's transaction: go on only while this instance holds the lease (the
        lease row share-locked until that transaction ends), else :class:`LeaseLost`."""
        leases = self._leases
        if leases is None or leases.single:
            return
        token = self.token
        if token is not None:
            idle = f"{max(1, int(leases.ttl * 1000))}ms"
            found = await session.scalar(_FENCE, {"duty": self.name, "token": token, "idle": idle})
            if found == token:
                return
        raise LeaseLost(
            "cluster.lease_lost",
            f"this instance no longer holds the lease on {self.name}",
            duty=self.name,
            token=token,
        )

    @asynccontextmanager
    async def guarded(self) -> AsyncIterator[None]:
        """Around an effect outside the database (AstDB, the broker): the fence held in a
        transaction for as long as the effect runs, so no taker acts meanwhile."""
        leases = self._leases
        if leases is None or leases.single:
            yield
            return
        async with leases.db.session() as session:
            await self.fence(session)
            yield


class Leases:
    """This instance's leases and the worker that acquires, renews and loses them."""

    def __init__(
        self,
        db: Database,
        instance: str,
        *,
        duties: Sequence[str] = DUTIES,
        ttl: float = 3.0,
        renew: float = 1.0,
    ) -> None:
        self.db, self.instance, self.ttl, self.renew = db, instance, ttl, renew
        self.single = db.is_sqlite
        self._duties = {name: DutyLease(name, self) for name in duties}
        self._task: asyncio.Task[None] | None = None
        self._callbacks: set[asyncio.Task[None]] = set()
        self.last_error: str | None = None
        self._rows = False  # the duties' rows are in the table

    def duty(self, name: str) -> DutyLease:
        return self._duties[name]

    def duties(self) -> Iterable[DutyLease]:
        return self._duties.values()

    async def start(self) -> None:
        if self.single:
            for duty in self._duties.values():
                self._acquire(duty, 1, None)
            return
        await self.tick()  # a database away at start: the worker keeps trying
        self._task = asyncio.create_task(self._run(), name="cluster:leases")

    async def stop(self) -> None:
        """Stop renewing and hand back what is held (another instance takes it at once)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for pending in list(self._callbacks):
            pending.cancel()
        await asyncio.gather(*self._callbacks, return_exceptions=True)
        held = {d.name: d.token for d in self._duties.values() if d.token is not None}
        for name in held:
            self._lose(self._duties[name], "released")
        if self.single or not held:
            return
        try:
            async with self.db.autocommit() as conn:
                await conn.execute(
                    _RELEASE,
                    {"me": self.instance, "duties": list(held), "tokens": list(held.values())},
                )
        except Exception as exc:  # they expire on their own
            log.warning("cluster.release_failed", error=type(exc).__name__)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.renew)
            await self.tick()

    async def tick(self) -> None:
        """Renew what is held, take what is free, drop what could not be renewed in time."""
        sent = time.monotonic()
        held = {d.name: d.token for d in self._duties.values() if d.token is not None}
        try:
            async with self.db.autocommit() as conn:
                if not self._rows:
                    await conn.execute(_ENSURE, {"duties": list(self._duties)})
                    self._rows = True
                renewed: set[str] = set()
                if held:
                    rows = await conn.execute(
                        _RENEW,
                        {"me": self.instance, "ttl": self.ttl, "duties": list(held),
                         "tokens": list(held.values())},
                    )  # fmt: skip
                    renewed = {row.duty for row in rows}
                free = [name for name in self._duties if name not in renewed]
                acquired: Sequence[Any] = ()
                if free:
                    params = {"me": self.instance, "ttl": self.ttl, "duties": free}
                    acquired = (await conn.execute(_ACQUIRE, params)).all()
        except Exception as exc:  # the database away: what is held runs out locally
            self.last_error = type(exc).__name__
            log.warning("cluster.lease_renewal_failed", error=self.last_error)
            self._drop_overdue()
            return
        self.last_error = None
        for name in held:
            duty = self._duties[name]
            if name in renewed:
                duty.valid_until = sent + self.ttl * VALIDITY
            else:
                self._lose(duty, "taken")
        for row in acquired:
            duty = self._duties[row.duty]
            duty.valid_until = sent + self.ttl * VALIDITY
            self._acquire(duty, int(row.token), row.previous)
        self._drop_overdue()

    def _drop_overdue(self) -> None:
        now = time.monotonic()
        for duty in self._duties.values():
            if duty.token is not None and now >= duty.valid_until:
                self._lose(duty, "expired")

    def _acquire(self, duty: DutyLease, token: int, previous: str | None) -> None:
        duty.token = token
        duty.generation += 1
        duty.acquisitions += 1
        taken = previous is not None and previous != self.instance
        if taken:
            duty.takeovers += 1
        log.info(
            "cluster.lease_acquired", duty=duty.name, token=token, previous=previous, takeover=taken
        )
        for callback in duty._acquired:
            self._spawn(callback, duty.name)

    def _lose(self, duty: DutyLease, why: str) -> None:
        duty.token = None
        if why == "released":  # handed back at a stop: routine, not a loss
            log.info("cluster.lease_released", duty=duty.name)
        else:
            log.warning("cluster.lease_lost", duty=duty.name, why=why)
        for callback in duty._lost:
            try:
                callback()
            except Exception:
                log.exception("cluster.lost_callback_failed", duty=duty.name)

    def _spawn(self, callback: Callback, name: str) -> None:
        async def run() -> None:
            try:
                result = callback()
                if result is not None:
                    await result
            except Exception:
                log.exception("cluster.acquired_callback_failed", duty=name)

        task = asyncio.get_running_loop().create_task(run(), name=f"cluster:acquired:{name}")
        self._callbacks.add(task)
        task.add_done_callback(self._callbacks.discard)

    async def holders(self) -> list[dict[str, Any]]:
        """Every duty's holder as the database says (any instance's ``/readyz``)."""
        if self.single:
            return [
                {"duty": d.name, "holder": self.instance, "token": d.token, "live": True}
                for d in self._duties.values()
            ]
        async with self.db.sessions() as s:
            rows = (await s.execute(_HOLDERS)).all()
        return [
            {"duty": r.duty, "holder": r.holder, "token": int(r.token),
             "live": float(r.expires_in) > 0, "expires_in": round(float(r.expires_in), 2)}
            for r in rows
        ]  # fmt: skip

    async def readiness(self) -> dict[str, Any]:
        held = sorted(d.name for d in self._duties.values() if d.held)
        report: dict[str, Any] = {
            "state": "up" if self.last_error is None else "degraded",
            "instance": self.instance,
            "held": held,
        }
        if self.last_error is not None:
            report["error"] = self.last_error
        try:
            report["holders"] = {
                h["duty"]: {k: v for k, v in h.items() if k != "duty"} for h in await self.holders()
            }
        except Exception as exc:
            report["state"], report["error"] = "degraded", type(exc).__name__
        return report
