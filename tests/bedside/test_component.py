"""The bedside edge in the real composition root: /readyz reports the broker, and an
admission through the app's Stays reaches the terminal as retained context."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from bedside.component import BEDSIDE, NURSE_CALLS, setup
from bedside.contract import parse_context
from bedside.topics import Topics
from tests.bedside.conftest import free_port, retained
from tests.bedside.ward import seed_ward
from tests.services import wait_until
from wardline import appkeys as k
from wardline.app import build_app
from wardline.domain import commands as c
from wardline.settings import Settings


async def test_edge_in_app(
    tmp_path: Path,
    shared_broker: tuple[str, int],
    topics: Topics,
    serve_app: Callable[..., object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host, port = shared_broker
    monkeypatch.setenv("WARDLINE_BEDSIDE_TOPIC_ROOT", topics.root)
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
        mqtt_url=f"mqtt://{host}:{port}",  # type: ignore[arg-type]
        mqtt_client_id=f"svc-{topics.root}",
        ami_enabled=False,
        mllp_enabled=False,
    )
    app = build_app(settings, components=[setup])
    base = await serve_app(app)  # type: ignore[misc]
    edge = app[BEDSIDE]
    await seed_ward(app[k.DATABASE], "AP", [("AP-1-A", "1", "5101", "TAP")], dids=["0388999001"])
    await edge.context.resync()
    async with aiohttp.ClientSession() as http:
        await wait_until(lambda: edge.synced)
        async with http.get(f"{base}/readyz") as response:
            report = await response.json()
        assert report["checks"]["mqtt"]["state"] == "up"
        assert report["checks"]["mqtt"]["broker"] == f"mqtt://{host}:{port}"
        async with http.get(f"{base}/metrics") as response:
            metrics = await response.text()
        assert "wardline_mqtt_connected 1.0" in metrics

    patient = c.PatientData(ipp="IPP-AP", family_name="Apfamily", given_name="Robin")
    await app[k.STAYS].admit(
        c.Admit(visit_number="VAP", patient=patient, location=c.BedLocation(label="AP-1-A")),
        c.Actor(name="system:test"),
    )
    await app[k.BUS].drain()
    seen = await retained(host, port, f"{topics.root}/#")
    ctx = parse_context(seen[topics.context("TAP")])
    assert ctx is not None and ctx.greeting_name == "Robin"
    await edge.context.resync()  # a full resync (start-up, inventory) keeps the occupant
    seen = await retained(host, port, f"{topics.root}/#")
    again = parse_context(seen[topics.context("TAP")])
    assert again is not None and again.greeting_name == "Robin"
    call = await app[NURSE_CALLS].raise_from_tv("AP-1-A")
    assert [v.call_id for v in await app[NURSE_CALLS].open_calls("AP")] == [call.call_id]


async def test_readiness_down_without_broker(
    tmp_path: Path, serve_app: Callable[..., object]
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
        mqtt_url=f"mqtt://127.0.0.1:{free_port()}",  # type: ignore[arg-type]
        ami_enabled=False,
        mllp_enabled=False,
    )
    app = build_app(settings, components=[setup])
    base = await serve_app(app)  # type: ignore[misc]
    async with aiohttp.ClientSession() as http, http.get(f"{base}/readyz") as response:
        report = await response.json()
    assert report["checks"]["mqtt"]["state"] == "down"
    assert report["status"] == "not_ready"
