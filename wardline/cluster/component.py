"""The leases in the composition root: built by ``build_app`` (``appkeys.LEASES``), started
once every part is up (a duty's acquisition rebuilds through those parts) and handed back
when the service stops; readiness check ``leases`` and the lease metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

import structlog
from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from wardline import appkeys as k
from wardline.cluster.identity import instance_id
from wardline.cluster.leases import Leases

log = structlog.get_logger(__name__)


def setup(app: web.Application) -> None:
    settings = app[k.SETTINGS]
    leases = Leases(
        app[k.DATABASE],
        instance_id(settings),
        ttl=settings.lease_ttl_seconds,
        renew=settings.lease_renew_seconds,
    )
    app[k.LEASES] = leases
    app[k.READINESS].register("leases", leases.readiness)
    app[k.METRICS].register(LeaseCollector(leases))
    app.cleanup_ctx.append(_leases_context)
    app.on_startup.append(_start)


async def _leases_context(app: web.Application) -> AsyncIterator[None]:
    yield  # started by on_startup, after every cleanup context; stopped after the edges
    await app[k.LEASES].stop()


async def _start(app: web.Application) -> None:
    leases = app[k.LEASES]
    await leases.start()
    log.info("cluster.started", instance=leases.instance, single=leases.single)


class LeaseCollector(Collector):
    def __init__(self, leases: Leases) -> None:
        self.leases = leases

    def collect(self) -> Iterable[Any]:
        takeovers = CounterMetricFamily(
            "wardline_lease_takeovers",
            "Leases this instance took over from another instance, by duty",
            labels=["duty"],
        )
        acquisitions = CounterMetricFamily(
            "wardline_lease_acquisitions", "Leases this instance acquired, by duty", labels=["duty"]
        )
        held = GaugeMetricFamily(
            "wardline_lease_held", "1 while this instance holds the duty's lease", labels=["duty"]
        )
        token = GaugeMetricFamily(
            "wardline_lease_token", "Fencing token of the lease held (0 when not)", labels=["duty"]
        )
        for duty in self.leases.duties():
            takeovers.add_metric([duty.name], duty.takeovers)
            acquisitions.add_metric([duty.name], duty.acquisitions)
            held.add_metric([duty.name], 1.0 if duty.held else 0.0)
            token.add_metric([duty.name], float(duty.token or 0) if duty.held else 0.0)
        yield from (takeovers, acquisitions, held, token)
