"""Patient-safe context on the real broker: admission, update, transfer, discharge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bedside.beds import BedPlace
from bedside.context import BedsideContext, compose_context
from bedside.contract import parse_config, parse_context
from bedside.mqtt_link import BrokerAddress, MqttLink
from bedside.options import DEFAULT_LINEUP
from bedside.topics import Topics
from tests.bedside.conftest import retained
from tests.bedside.ward import MemoryStays, PatientView, SqliteDatabase, StayView, seed_ward
from wardline.bus import EventBus

PATIENT = PatientView(
    id=41, family_name="Testfamily", given_name="Dominique", addressed_as="Dom",
    preferred_language="en",
)  # fmt: skip


def test_compose_context_is_patient_safe() -> None:
    place = BedPlace(1, "W1-101-A", "101", "W1", "Ward", "1101", "T1", "2000", ())
    stay = StayView(7, "V7", "active", PATIENT, None, "0140000101", line_suspended=True)
    ctx = compose_context(stay, place, now=datetime.now(UTC), default_language="fr")
    assert ctx.greeting_name == "Dom" and ctx.language == "en"
    assert ctx.phone.state == "suspended" and not ctx.services.phone
    no_pref = StayView(8, "V8", "active", PatientView(42, "F", "Alex", None, "xx"), None, None)
    ctx2 = compose_context(no_pref, place, now=datetime.now(UTC), default_language="de")
    assert (ctx2.greeting_name, ctx2.language, ctx2.phone.state) == ("Alex", "de", "none")
    assert b"Testfamily" not in ctx.to_bytes()


@pytest.fixture
async def hospital(
    tmp_path: Path, shared_broker: tuple[str, int], topics: Topics
) -> AsyncIterator[tuple[MemoryStays, EventBus, Topics, tuple[str, int]]]:
    db = SqliteDatabase(tmp_path / "w.db")
    await db.create()
    beds = [("C1-101-A", "101", "1101", "TA"), ("C1-102-A", "102", "1102", "TB")]
    await seed_ward(db, "C1", beds)
    bus = EventBus()
    stays = MemoryStays(db, bus)
    link = MqttLink(BrokerAddress(*shared_broker), client_id=f"svc-{topics.root}")
    context = BedsideContext(
        link=link, stays=stays, db=db, topics=topics, default_language="fr",
        kiosk_base_url="http://127.0.0.1:8080", lineup=DEFAULT_LINEUP,
    )  # fmt: skip
    context.subscribe(bus)
    await link.start()
    await link.wait_connected()
    await bus.start()
    await context.resync()
    yield stays, bus, topics, shared_broker
    await bus.stop()
    await link.stop()
    await db.dispose()


async def test_admission_transfer_discharge(
    hospital: tuple[MemoryStays, EventBus, Topics, tuple[str, int]],
) -> None:
    stays, bus, topics, (host, port) = hospital
    seen = await retained(host, port, f"{topics.root}/#")
    config = parse_config(seen[topics.config("TA")])
    assert (config.bed_label, config.room, config.ward_code) == ("C1-101-A", "101", "C1")
    assert config.kiosk_url.endswith("/tv/TA")
    assert topics.context("TA") not in seen  # empty bed: nothing retained

    await stays.admit("V1", PATIENT, "C1-101-A", did="0140000101")
    await bus.drain()
    seen = await retained(host, port, f"{topics.root}/#")
    ctx = parse_context(seen[topics.context("TA")])
    assert ctx is not None
    assert (ctx.greeting_name, ctx.bed_label, ctx.room) == ("Dom", "C1-101-A", "101")
    assert ctx.phone.number == "0140000101" and ctx.phone.state == "active"
    assert b"Testfamily" not in seen[topics.context("TA")]

    await stays.update_patient("V1", addressed_as="Domi")
    await bus.drain()
    seen = await retained(host, port, f"{topics.root}/#")
    updated = parse_context(seen[topics.context("TA")])
    assert updated is not None and updated.greeting_name == "Domi"

    await stays.transfer("V1", "C1-102-A")
    await bus.drain()
    seen = await retained(host, port, f"{topics.root}/#")
    assert topics.context("TA") not in seen
    moved = parse_context(seen[topics.context("TB")])
    assert moved is not None and moved.bed_label == "C1-102-A" and moved.greeting_name == "Domi"

    await stays.discharge("V1")
    await bus.drain()
    seen = await retained(host, port, f"{topics.root}/#")
    assert not [t for t in seen if t.endswith("/context")]
    assert all(b"Dom" not in payload for payload in seen.values())
