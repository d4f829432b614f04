"""Readiness checks and Prometheus metrics of the EHR bridge."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from ehr_bridge.models import EhrOutbox
from wardline import appkeys as k
from wardline.db.engine import Database

if TYPE_CHECKING:
    from ehr_bridge.component import EhrBridge


async def outbox_counts(db: Database) -> dict[str, int]:
    async with db.sessions() as s:
        rows = await s.execute(
            select(EhrOutbox.state, func.count())
            .where(EhrOutbox.state != "delivered")
            .group_by(EhrOutbox.state)
        )
        return {str(state): int(n) for state, n in rows}


class _EhrCollector(Collector):
    def __init__(self, bridge: EhrBridge) -> None:
        self.bridge = bridge

    def collect(self) -> Iterable[Any]:
        acks = CounterMetricFamily(
            "wardline_adt_messages", "ADT messages answered, by acknowledgement", labels=["ack"]
        )
        counts = self.bridge.processor.counts if self.bridge.processor else {}
        for code in ("AA", "AE", "AR", "duplicate"):
            acks.add_metric([code], counts.get(code, 0))
        yield acks
        delivered = CounterMetricFamily(
            "wardline_ehr_writes_delivered", "Bedside writes delivered to the EHR"
        )
        delivered.add_metric([], self.bridge.worker.delivered if self.bridge.worker else 0)
        yield delivered
        fetches = GaugeMetricFamily(
            "wardline_fhir_record_fetches", "Bedside records fetched from the EHR"
        )
        fetches.add_metric([], self.bridge.records.fetches if self.bridge.records else 0)
        yield fetches


def register_health(app: web.Application, bridge: EhrBridge) -> None:
    def adt() -> dict[str, Any]:
        if not app[k.SETTINGS].mllp_enabled:
            return {"state": "disabled"}
        listener = bridge.listener
        if listener is None or not listener.running:
            return {"state": "down"}
        counts = bridge.processor.counts if bridge.processor else {}
        return {"state": "up", "port": listener.port, **counts}

    async def fhir() -> dict[str, Any]:
        if not app[k.SETTINGS].fhir_url:
            return {"state": "disabled"}
        if bridge.client is None or bridge.worker is None:
            return {"state": "down"}
        counts = await outbox_counts(app[k.DATABASE])
        record_error = bridge.records.last_error if bridge.records else None
        errors = [e for e in (record_error, bridge.worker.last_error) if e]
        return {
            "state": "degraded" if errors else "up",
            "outbox_pending": counts.get("pending", 0),
            "outbox_failed": counts.get("failed", 0),
            "last_error": errors[0] if errors else None,
        }

    app[k.READINESS].register("ehr_adt", adt)
    app[k.READINESS].register("ehr_fhir", fhir)
    app[k.METRICS].register(_EhrCollector(bridge))
