"""The bedside edge assembled: one MQTT link, the terminal gateway, the context, presence and
nurse calls, and their background loops (kept by reference, failures logged)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import structlog

from bedside.beds import Places, SessionSource
from bedside.context import BedsideContext
from bedside.errors import BedsideError
from bedside.gateway import TerminalGateway
from bedside.incoming_call import IncomingCallBanner
from bedside.mqtt_link import MqttLink, parse_mqtt_url
from bedside.nurse_call import NurseCalls
from bedside.nurse_call_ring_plan import RingPlanner
from bedside.options import BedsideOptions
from bedside.presence import TerminalRegistry
from bedside.stays_port import StayReader
from bedside.topics import Topics
from wardline.bus import EventBus
from wardline.cluster.leases import NURSE_CALL_ESCALATION, TERMINAL_RESYNC, DutyLease, LeaseLost
from wardline.domain.audit import AuditLog
from wardline.settings import Settings

log = structlog.get_logger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class BedsideEdge:
    def __init__(
        self,
        settings: Settings,
        options: BedsideOptions,
        *,
        db: SessionSource,
        bus: EventBus,
        stays: StayReader,
        audit: AuditLog | None = None,
        clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        leases: Callable[[str], DutyLease] = DutyLease.solo,
    ) -> None:
        self.options = options
        self._db = db
        self.resync_lease = leases(TERMINAL_RESYNC)
        """The broker's retained state is rebuilt by the holder (several instances)."""
        self.topics = Topics(options.topic_root)
        self.places = Places(db)
        address = parse_mqtt_url(settings.mqtt_url.get_secret_value())
        share_group = settings.mqtt_share_group()
        self.link = MqttLink(
            address,
            client_id=settings.mqtt_client_id or address.username or "wardline-service",
            window=options.mqtt_window,
            backoff=(options.reconnect_min_seconds, options.reconnect_max_seconds),
            ca_file=options.mqtt_ca_file,
            # in a shared subscription the group, not the session, keeps the presses
            clean_session=bool(share_group),
        )
        self.registry = TerminalRegistry(
            db=db, bus=bus, offline_alert_seconds=settings.terminal_offline_alert_seconds,
            clock=clock, sleep=sleep,
        )  # fmt: skip
        self.nurse_calls = NurseCalls(
            db=db, bus=bus, link=self.link, topics=self.topics, places=self.places, clock=clock,
            sleep=sleep, audit=audit, planner=RingPlanner(settings.default_language),
            lease=leases(NURSE_CALL_ESCALATION),
        )  # fmt: skip
        self.nurse_calls.subscribe(bus)
        self.gateway = TerminalGateway(
            topics=self.topics, registry=self.registry, nurse_calls=self.nurse_calls,
            link=self.link, limits=options.intake_limits(),
        )  # fmt: skip
        kiosk = options.kiosk_base_url or f"http://{settings.http_host}:{settings.http_port}"
        self.context = BedsideContext(
            link=self.link, stays=stays, db=db, topics=self.topics,
            default_language=settings.default_language, kiosk_base_url=kiosk,
            lineup=options.channel_lineup, clock=clock, places=self.places,
        )  # fmt: skip
        self.incoming_calls = IncomingCallBanner(
            link=self.link, topics=self.topics, places=self.places
        )
        self.link.route(self.gateway.subscriptions(share_group), self.gateway.on_message)
        self.context.subscribe(bus)
        self.incoming_calls.subscribe(bus)
        self._sleep = sleep
        self._tasks: set[asyncio.Task[None]] = set()
        self.synced_connection = 0  # the connection whose retained state is rebuilt
        self.resyncs = 0
        self._resync_wanted = asyncio.Event()
        self.link.when_connected(self._connected)
        self.resync_lease.when_acquired(self._resync_wanted.set)  # another may have missed some

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("bedside.task_failed", task=name, error=repr(t.exception()))

        task.add_done_callback(done)

    async def start(self) -> None:
        self._spawn(self._sync_after_connections(), "bedside:sync")
        await self.gateway.start()
        await self.link.start()
        self._spawn(self.registry.run(self.options.presence_check_seconds), "bedside:presence")
        self._spawn(
            self.nurse_calls.run_escalation(self.options.nurse_call_tick_seconds),
            "bedside:escalation",
        )

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.gateway.close()
        await self.nurse_calls.close()
        try:
            await self.registry.flush_seen()
        except Exception:
            log.exception("bedside.flush_seen_failed")
        await self.link.stop()

    @property
    def synced(self) -> bool:
        """Connected, and the retained state rebuilt on this very connection (by this
        instance when it holds the resync lease; otherwise it is the holder's)."""
        if self.link.state != "up":
            return False
        return not self.resync_lease.held or self.synced_connection == self.link.connections

    def _connected(self, connection: int) -> None:
        self._resync_wanted.set()

    async def _sync_after_connections(self) -> None:
        """After every connection, rebuild the broker's retained state from the database
        (config and context of every terminal), whatever the broker kept: a broker restarted
        from an old save, or a session that missed erasures, is put right. Retried until
        done on the current connection."""
        delay = self.options.reconnect_min_seconds
        while True:
            await self._resync_wanted.wait()
            self._resync_wanted.clear()
            connection = self.link.connections
            if not self.resync_lease.held:
                continue  # the holder rebuilds; this instance does when it takes the lease
            try:
                await self._check_lease()
                await self.context.resync()
                if self.options.survey_retained:
                    await self._erase_strays()
            except LeaseLost:
                continue
            except BedsideError as exc:
                log.warning("bedside.sync_retry", error=exc.error_id)
                self._resync_wanted.set()
                await self._sleep(delay)
                delay = min(delay * 2, self.options.reconnect_max_seconds)
                continue
            except Exception as exc:  # the database: retried, never fatal
                log.error("bedside.sync_failed", error=repr(exc)[:200])
                self._resync_wanted.set()
                await self._sleep(delay)
                delay = min(delay * 2, self.options.reconnect_max_seconds)
                continue
            delay = self.options.reconnect_min_seconds
            self.resyncs += 1
            if not self._resync_wanted.is_set() and self.link.connections == connection:
                self.synced_connection = connection

    async def _check_lease(self) -> None:
        """The resync lease checked in the database before rebuilding (the rebuild only
        publishes what the database says, so a stale one repeats state, never invents it)."""
        async with self._db.session() as session:
            await self.resync_lease.fence(session)

    async def _erase_strays(self) -> None:
        """Whatever the broker kept for terminals that left the inventory goes too."""
        found: dict[str, bytes] = {}
        for channel in ("config", "context"):
            found |= await self.link.retained_topics(f"{self.topics.root}/terminal/+/{channel}")
        await self.context.erase_strays(found)

    def health(self) -> dict[str, Any]:
        report = self.link.health()
        report["synced"] = self.synced
        report["terminals"] = self.gateway.stats()
        report["offline_alerts"] = len(self.registry.alerts())
        if report["state"] == "up" and not self.synced:
            report["state"] = "degraded"
        return report
