"""Domain events between instances, through PostgreSQL LISTEN/NOTIFY.

Each instance keeps its in-process bus (``wardline.bus``). The bridge subscribes to the
events that cross (``codec.CROSSING``) and sends each local one as a notification on one
channel (``pg_notify``, committed on its own, after the change it tells of was committed);
an event too long for a notification (PostgreSQL refuses 8000 bytes) is stored in a row and
its id is notified. One dedicated connection listens (asyncpg's ``add_listener``); what it
hears from another instance is decoded and published on the local bus with ``origin`` set, so
consoles and TVs show it and a subscriber whose side effect belongs elsewhere can tell.

Nothing sent is kept for a late listener: when the listening connection is lost the bridge
reconnects with backoff and publishes :class:`ClusterResync`, and whoever shows live state
rebuilds it from the database. A notification that cannot be read (garbled, unknown type,
an unknown stored row) is logged with its origin and reason, counted and dropped.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import random
import socket
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import delete, select, text

from wardline.bus import EventBus
from wardline.db.base import utcnow
from wardline.db.engine import Database
from wardline.domain.events import DomainEvent
from wardline.domain.fanout_events import ClusterResync
from wardline.fanout.codec import (
    CROSSING,
    NOTIFY_LIMIT,
    VERSION,
    Notice,
    NoticeInvalid,
    Unsent,
    decode,
    encode,
    encode_unsent,
)
from wardline.fanout.models import StoredNotice

log = structlog.get_logger(__name__)

STORED_FOR = timedelta(minutes=10)
PRUNE_EVERY = timedelta(minutes=1)
STORE_AND_NOTIFY = text(
    "WITH stored AS (INSERT INTO fanout_stored_notices (payload, stored_at) "
    "VALUES (:payload, :now) RETURNING id) "
    "SELECT pg_notify(:channel, json_build_object("
    f"'v', {VERSION}, 'o', CAST(:origin AS text), 'r', stored.id)::text) FROM stored"
)
"""The notification names the stored row (``codec.decode`` reads it as a ``StoredRef``)."""
APPLICATION_NAME = "wardline-fanout-listener"
"""How the listening connection shows in ``pg_stat_activity``."""


def instance_name() -> str:
    """A name unique to this process: host, process id and a random suffix."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def asyncpg_dsn(url: str) -> str:
    """The SQLAlchemy URL of the database as asyncpg takes it."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def connect_args(database: Database) -> dict[str, Any]:
    """asyncpg's arguments for the database, as SQLAlchemy gives them to its own connections
    (host, port, user, password, database, ``ssl``...), but those only SQLAlchemy takes."""
    engine = database.engine
    _, params = engine.dialect.create_connect_args(engine.url)
    accepted = inspect.signature(asyncpg.connect).parameters
    return {name: value for name, value in params.items() if name in accepted}


class PeerEvents:
    """The bridge of one instance (start it after the bus; stop it before)."""

    def __init__(
        self,
        database: Database,
        bus: EventBus,
        *,
        channel: str = "wardline_events",
        origin: str | None = None,
        backoff: tuple[float, float] = (0.2, 10.0),
        probe_seconds: float = 10.0,
    ) -> None:
        self.database = database
        self.bus = bus
        self.channel = channel
        self.origin = origin or instance_name()
        self._backoff = backoff
        self._probe = probe_seconds
        self._heard: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._conn: asyncpg.Connection | None = None
        self.state = "down"
        self.connections = 0
        self.sent = 0
        self.stored = 0
        self.send_failures = 0
        self.received = 0
        self.dropped: Counter[str] = Counter()
        self.resyncs = 0
        self._pruned: datetime | None = None
        self._unsent = False
        bus.subscribe(CROSSING, self._send, name="fanout.send")

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._listen(), name="fanout.listen"),
                asyncio.create_task(self._take(), name="fanout.take"),
            ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.state = "down"

    def health(self) -> dict[str, Any]:
        return {
            # degraded, not down: the instance still serves; its live views miss the others'
            # events until the listener is back (then they are rebuilt)
            "state": "up" if self.state == "up" else "degraded",
            "instance": self.origin,
            "channel": self.channel,
            "connections": self.connections,
            "sent": self.sent,
            "received": self.received,
            "dropped": dict(self.dropped),
            "send_failures": self.send_failures,
        }

    # --- sending ------------------------------------------------------------------------

    async def _send(self, event: DomainEvent) -> None:
        if event.origin is not None:  # heard from another instance: never sent again
            return
        payload = encode(event, self.origin)
        try:
            if self._unsent:  # tell the others first: their views missed our events
                await self._notify(encode_unsent(self.origin))
                self._unsent = False
            if len(payload.encode()) > NOTIFY_LIMIT:
                await self._store_and_notify(payload)
            else:
                await self._notify(payload)
        except Exception as exc:  # the database is away: the others resync when it is back
            self._unsent = True
            self.send_failures += 1
            log.warning("fanout.send_failed", domain_event=event.name, error=type(exc).__name__)
            return
        self.sent += 1

    async def _notify(self, payload: str) -> None:
        async with self.database.autocommit() as conn:
            await conn.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": self.channel, "payload": payload},
            )

    async def _store_and_notify(self, payload: str) -> None:
        """Store the event and notify its row's id, in one statement (so one round trip, and
        the row is committed before anyone hears of it)."""
        now = utcnow()
        async with self.database.autocommit() as conn:
            if self._pruned is None or now - self._pruned > PRUNE_EVERY:
                self._pruned = now
                await conn.execute(
                    delete(StoredNotice).where(StoredNotice.stored_at < now - STORED_FOR)
                )
            await conn.execute(
                STORE_AND_NOTIFY,
                {"payload": payload, "now": now, "channel": self.channel, "origin": self.origin},
            )
        self.stored += 1

    # --- listening ----------------------------------------------------------------------

    async def _listen(self) -> None:
        delay = self._backoff[0]
        while True:
            lost = asyncio.Event()
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(
                    **connect_args(self.database),
                    timeout=10,
                    server_settings={"application_name": APPLICATION_NAME},
                )
                conn.add_termination_listener(functools.partial(_set_on_close, lost))
                await conn.add_listener(self.channel, self._heard_one)
                self._conn = conn
                self.connections += 1
                self.state = "up"
                delay = self._backoff[0]
                log.info("fanout.listening", channel=self.channel, connections=self.connections)
                if self.connections > 1:
                    self.resyncs += 1
                    self.bus.publish(ClusterResync(reason="reconnected"))
                await self._watch(conn, lost)
            except asyncio.CancelledError:
                if conn is not None and not conn.is_closed():
                    conn.terminate()
                raise
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.warning("fanout.listen_lost", error=type(exc).__name__)
            finally:
                self.state = "down"
                self._conn = None
            if conn is not None and not conn.is_closed():
                conn.terminate()
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, self._backoff[1])

    async def _watch(self, conn: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Return when the connection is lost: closed under us, or a probe unanswered (a
        connection cut without a word is found within ``probe_seconds``)."""
        while not lost.is_set():
            try:
                async with asyncio.timeout(self._probe):
                    await lost.wait()
                return
            except TimeoutError:
                pass
            async with asyncio.timeout(self._probe):
                await conn.execute("SELECT 1")

    def _heard_one(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        self._heard.put_nowait(payload)

    async def _take(self) -> None:
        """Decode what was heard, in order, and publish it on the local bus."""
        while True:
            payload = await self._heard.get()
            try:
                await self._take_one(payload)
            except Exception as exc:  # a bug here must not stop the events after it
                self._drop("fanout.failed", None, repr(exc)[:200])

    async def _take_one(self, payload: str) -> None:
        try:
            notice = decode(payload)
        except NoticeInvalid as exc:
            self._drop(exc.error_id, None, None)
            return
        if notice.origin == self.origin:
            return
        if isinstance(notice, Unsent):
            self.resyncs += 1
            log.info("fanout.peer_unsent", origin=notice.origin)
            self.bus.publish(ClusterResync(reason="peer_unsent"))
            return
        if not isinstance(notice, Notice):
            try:
                stored = await self._fetch(notice.ref)
            except NoticeInvalid as exc:
                self._drop(exc.error_id, notice.origin, None)
                return
            if stored.origin != notice.origin:
                self._drop("fanout.ref_origin", notice.origin, None)
                return
            notice = stored
        self.received += 1
        self.bus.publish(notice.event)

    async def _fetch(self, ref: int) -> Notice:
        async with self.database.sessions() as session:
            payload = await session.scalar(
                select(StoredNotice.payload).where(StoredNotice.id == ref)
            )
        if payload is None:
            raise NoticeInvalid("fanout.ref_unknown", "the stored event is gone")
        found = decode(payload)
        if not isinstance(found, Notice):
            raise NoticeInvalid("fanout.ref_nested", "a stored event names another")
        return found

    def _drop(self, reason: str, origin: str | None, error: str | None) -> None:
        self.dropped[reason] += 1
        log.warning("fanout.notice_dropped", reason=reason, origin=origin, error=error)


def _set_on_close(lost: asyncio.Event, conn: Any) -> None:
    lost.set()


class PeerEventsCollector(Collector):
    def __init__(self, bridge: PeerEvents) -> None:
        self.bridge = bridge

    def collect(self) -> Iterable[Any]:
        b = self.bridge
        sent = CounterMetricFamily(
            "wardline_cluster_events_sent", "Domain events sent to the other instances"
        )
        sent.add_metric([], b.sent)
        yield sent
        received = CounterMetricFamily(
            "wardline_cluster_events_received", "Domain events received from other instances"
        )
        received.add_metric([], b.received)
        yield received
        dropped = CounterMetricFamily(
            "wardline_cluster_events_dropped",
            "Notifications dropped unread (garbled, unknown type, stored row gone)",
            labels=["reason"],
        )
        for reason, count in sorted(b.dropped.items()):
            dropped.add_metric([reason], count)
        yield dropped
        failed = CounterMetricFamily(
            "wardline_cluster_events_send_failures", "Domain events that could not be sent"
        )
        failed.add_metric([], b.send_failures)
        yield failed
        resyncs = CounterMetricFamily(
            "wardline_cluster_events_resyncs",
            "Reconnections of the listening connection (the live views were rebuilt)",
        )
        resyncs.add_metric([], b.resyncs)
        yield resyncs
        up = GaugeMetricFamily(
            "wardline_cluster_events_listening", "1 when the instance hears the others"
        )
        up.add_metric([], 1 if b.state == "up" else 0)
        yield up
