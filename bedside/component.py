"""``setup(app)``: the bedside edge in the composition root (cleanup context, app keys,
readiness check ``mqtt``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from bedside.edge import BedsideEdge
from bedside.options import BedsideOptions
from bedside.presence import TerminalRegistry
from wardline import appkeys as k

BEDSIDE = web.AppKey("bedside", BedsideEdge)
NURSE_CALLS = k.NURSE_CALLS
TERMINALS = web.AppKey("terminals", TerminalRegistry)


def setup(app: web.Application) -> None:
    settings = app[k.SETTINGS]
    if not settings.mqtt_enabled:

        def disabled() -> dict[str, Any]:
            return {"state": "disabled"}

        app[k.READINESS].register("mqtt", disabled)
        return
    edge = BedsideEdge(
        settings, BedsideOptions(), db=app[k.DATABASE], bus=app[k.BUS], stays=app[k.STAYS],
        clock=app[k.CLOCK], audit=app[k.AUDIT], leases=app[k.LEASES].duty,
    )  # fmt: skip
    app[BEDSIDE] = edge
    app[NURSE_CALLS] = edge.nurse_calls
    app[TERMINALS] = edge.registry
    app[k.READINESS].register("mqtt", edge.health)
    app[k.METRICS].register(BedsideCollector(edge))
    app.cleanup_ctx.append(_bedside_context)


async def _bedside_context(app: web.Application) -> AsyncIterator[None]:
    edge = app[BEDSIDE]
    await edge.start()
    yield
    await edge.stop()


class BedsideCollector(Collector):
    """Prometheus figures of the terminal border (read at scrape time)."""

    def __init__(self, edge: BedsideEdge) -> None:
        self.edge = edge

    def collect(self) -> Iterable[Any]:
        link, gateway = self.edge.link, self.edge.gateway
        up = GaugeMetricFamily("wardline_mqtt_connected", "1 when connected to the broker")
        up.add_metric([], 1.0 if link.state == "up" else 0.0)
        yield up
        connections = CounterMetricFamily(
            "wardline_mqtt_connections", "Connections made to the broker (reconnections + 1)"
        )
        connections.add_metric([], link.connections)
        yield connections
        refused = CounterMetricFamily(
            "wardline_mqtt_refused_messages",
            "Terminal messages refused (dropped, changing nothing), by reason",
            labels=["error"],
        )
        for error, count in sorted(gateway.refused.items()):
            refused.add_metric([error], count)
        yield refused
        queued = GaugeMetricFamily(
            "wardline_mqtt_terminal_messages_queued",
            "Terminal messages waiting to be handled, by lane",
            labels=["lane"],
        )
        stats = gateway.stats()
        queued.add_metric(["clinical"], stats["queued_clinical"])
        queued.add_metric(["ordinary"], stats["queued_ordinary"])
        yield queued
        unknown = CounterMetricFamily(
            "wardline_mqtt_unknown_terminal_messages", "Messages from terminals not in inventory"
        )
        unknown.add_metric([], gateway.unknown_terminal)
        yield unknown
        alerts = GaugeMetricFamily(
            "wardline_terminals_offline_alerts", "Terminals offline for longer than the limit"
        )
        alerts.add_metric([], len(self.edge.registry.alerts()))
        yield alerts
