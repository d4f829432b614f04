"""Operations endpoints: ``/healthz`` (alive), ``/readyz`` (each dependency's state, JSON) and
``/metrics`` (Prometheus text format from the application's own registry)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

Check = Callable[[], dict[str, Any] | Awaitable[dict[str, Any]]]


class Readiness:
    """Named checks; each answers ``{"state": "up" | "degraded" | "down", ...}``."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}
        self.started = time.monotonic()

    def register(self, name: str, check: Check) -> None:
        self._checks[name] = check

    async def report(self, check_seconds: float = 2.0) -> dict[str, Any]:
        results: dict[str, Any] = {}
        for name, check in self._checks.items():
            try:
                value = check()
                if inspect.isawaitable(value):
                    async with asyncio.timeout(check_seconds):
                        value = await value
                results[name] = value
            except Exception as exc:  # a failing check is a "down" dependency, not a 500
                results[name] = {"state": "down", "error": type(exc).__name__}
        ready = all(r.get("state") in ("up", "degraded", "disabled") for r in results.values())
        return {
            "status": "ready" if ready else "not_ready",
            "uptime_seconds": round(time.monotonic() - self.started, 1),
            "checks": results,
        }


def readiness_gauge(registry: CollectorRegistry, readiness: Readiness) -> Gauge:
    """``wardline_dependency_up{dependency}``, refreshed on each /readyz or /metrics read."""
    return Gauge(
        "wardline_dependency_up",
        "1 when the dependency is up (or degraded), 0 when down",
        ["dependency"],
        registry=registry,
    )


def routes(
    readiness_of: Callable[[web.Request], Readiness],
    registry_of: Callable[[web.Request], CollectorRegistry],
    gauge_of: Callable[[web.Request], Gauge],
) -> list[web.RouteDef]:
    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(request: web.Request) -> web.Response:
        report = await readiness_of(request).report()
        _update_gauge(gauge_of(request), report)
        return web.json_response(report, status=200 if report["status"] == "ready" else 503)

    async def metrics(request: web.Request) -> web.Response:
        report = await readiness_of(request).report()
        _update_gauge(gauge_of(request), report)
        body = generate_latest(registry_of(request))
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return [
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
        web.get("/metrics", metrics),
    ]


def _update_gauge(gauge: Gauge, report: dict[str, Any]) -> None:
    for name, check in report["checks"].items():
        up = check.get("state") in ("up", "degraded")
        gauge.labels(dependency=name).set(1 if up else 0)
