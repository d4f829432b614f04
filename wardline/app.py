"""The composition root: ``build_app(settings, **overrides)`` wires every component.

Nothing is instantiated at import time. Every long-lived resource is an aiohttp cleanup
context, started in order and stopped in reverse; the edges add theirs through their
``setup(app)`` function. Overrides replace a part for tests (``database``, ``bus``, ``clock``,
``components``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from wardline import appkeys as k
from wardline.bus import EventBus
from wardline.cluster.component import setup as cluster
from wardline.db.base import utcnow
from wardline.db.engine import Database, current_revisions, upgrade
from wardline.domain.audit import AuditLog
from wardline.domain.audit_checkpoints import checkpointer
from wardline.domain.staff import StaffDirectory
from wardline.domain.stays import Stays
from wardline.fanout.component import setup as peer_events
from wardline.loop_monitor import (
    LoopMonitor,
    loop_lag_histogram,
    monitor_context,
    started,
    thaw_heap,
)
from wardline.ops import Readiness, readiness_gauge, routes
from wardline.settings import Settings
from wardline.ward_time import WardTime

log = structlog.get_logger(__name__)

Component = Callable[[web.Application], None]


def default_components() -> list[Component]:
    """The edges, in start order. Each module's ``setup(app)`` adds its cleanup contexts."""
    from bedside.component import setup as bedside
    from ehr_bridge.component import setup as ehr_bridge
    from kiosk_ui.component import setup as kiosk_ui
    from telephony.component import setup as telephony

    return [telephony, bedside, ehr_bridge, kiosk_ui]  # the web last: it reads their ports


class _BusCollector(Collector):
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus

    def collect(self) -> Iterable[Any]:
        published = CounterMetricFamily(
            "wardline_domain_events", "Domain events published on the in-process bus"
        )
        published.add_metric([], self.bus.published)
        yield published
        depth = GaugeMetricFamily(
            "wardline_bus_queue_depth", "Domain events waiting for a subscriber"
        )
        depth.add_metric([], self.bus.depth())
        yield depth


def build_app(settings: Settings, **overrides: Any) -> web.Application:
    app = web.Application(client_max_size=2 * 1024 * 1024)
    clock: Callable[[], datetime] = overrides.pop("clock", utcnow)
    database: Database = overrides.pop("database", None) or Database(
        settings.effective_database_url
    )
    bus: EventBus = overrides.pop("bus", None) or EventBus()
    components: Sequence[Component] | None = overrides.pop("components", None)
    if components is None:
        components = default_components()
    if overrides:
        raise TypeError(f"unknown overrides: {', '.join(sorted(overrides))}")

    audit = AuditLog(clock=clock, key=settings.audit_key_bytes())
    registry = CollectorRegistry()
    registry.register(_BusCollector(bus))
    readiness = Readiness()
    app[k.SETTINGS] = settings
    app[k.CLOCK] = clock
    app[k.DATABASE] = database
    app[k.BUS] = bus
    app[k.AUDIT] = audit
    app[k.STAYS] = Stays(
        database,
        bus,
        audit,
        clock=clock,
        quarantine=timedelta(hours=settings.did_quarantine_hours),
    )
    app[k.STAFF] = StaffDirectory(database, audit, clock=clock)
    app[k.WARD_TIME] = WardTime(database, settings)
    app[k.READINESS] = readiness
    app[k.METRICS] = registry
    gauge = readiness_gauge(registry, readiness)
    monitor = LoopMonitor(
        loop_lag_histogram(registry), threshold=settings.loop_stall_seconds, armed=False
    )
    app[k.LOOP_MONITOR] = monitor
    app.cleanup_ctx.append(monitor_context(monitor))
    app.on_startup.append(started(monitor))  # runs after every cleanup context started
    app.on_cleanup.append(thaw_heap)

    async def database_check() -> dict[str, Any]:
        up = await database.ping()
        return {
            "state": "up" if up else "down",
            "engine": database.dialect,
            "revisions": sorted(await current_revisions(database)) if up else [],
        }

    readiness.register("database", database_check)
    app.cleanup_ctx.append(_database_context)
    app.cleanup_ctx.append(
        checkpointer(
            database,
            audit.key,
            settings.effective_audit_checkpoint_file,
            settings.audit_checkpoint_seconds,
            clock,
        )
    )
    app.cleanup_ctx.append(_bus_context)
    peer_events(app)  # after the bus: started after it, stopped before it
    cluster(app)  # before the edges: they take their duties' leases from it
    for component in components:
        component(app)
    app.add_routes(
        routes(lambda r: r.app[k.READINESS], lambda r: r.app[k.METRICS], lambda r: gauge)
    )
    return app


async def _database_context(app: web.Application) -> AsyncIterator[None]:
    settings, database = app[k.SETTINGS], app[k.DATABASE]
    if settings.db_auto_upgrade:
        await upgrade(database.url)
    log.info("database.open", engine=database.dialect)
    yield
    await database.dispose()


async def _bus_context(app: web.Application) -> AsyncIterator[None]:
    bus = app[k.BUS]
    await bus.start()
    yield
    await bus.stop()
