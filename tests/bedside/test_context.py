"""Patient-safe context on the real broker, driven by the core's Stays: admission, update,
transfer, discharge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bedside.beds import BedPlace
from bedside.context import BedsideContext, compose_context
from bedside.contract import parse_config, parse_context
from bedside.mqtt_link import BrokerAddress, MqttLink
from bedside.options import DEFAULT_LINEUP
from bedside.topics import Topics
from tests.bedside.conftest import retained
from tests.bedside.ward import seed_ward
from wardline.bus import EventBus
from wardline.db.engine import Database
from wardline.domain import commands as c
from wardline.domain.audit import AuditLog
from wardline.domain.stays import Stays

ACTOR = c.Actor(name="system:test")
PATIENT = c.PatientData(
    ipp="IPP-41", family_name="Testfamily", given_name="Dominique", addressed_as="Dom",
    preferred_language="en",
)  # fmt: skip


@dataclass(frozen=True)
class Patient:
    id: int
    given_name: str
    addressed_as: str | None
    preferred_language: str | None


@dataclass(frozen=True)
class Stay:
    stay_id: int
    visit_number: str
    status: str
    patient: Patient
    bed: None
    did: str | None
    do_not_disturb: bool = False
    line_suspended: bool = False
    on_leave: bool = False


def test_compose_context_is_patient_safe() -> None:
    place = BedPlace(1, "W1-101-A", "101", "W1", "Ward", "1101", "T1", "2000", ())
    stay = Stay(7, "V7", "active", Patient(1, "Dominique", "Dom", "en"), None, "0140000101",
                line_suspended=True)  # fmt: skip
    ctx = compose_context(stay, place, now=datetime.now(UTC), default_language="fr")
    assert ctx.greeting_name == "Dom" and ctx.language == "en"
    assert ctx.phone.state == "suspended" and not ctx.services.phone
    no_pref = Stay(8, "V8", "active", Patient(2, "Alex", None, "xx"), None, None)
    ctx2 = compose_context(no_pref, place, now=datetime.now(UTC), default_language="de")
    assert (ctx2.greeting_name, ctx2.language, ctx2.phone.state) == ("Alex", "de", "none")
    dnd = Stay(9, "V9", "active", Patient(3, "Sam", None, None), None, "01", do_not_disturb=True)
    assert compose_context(
        dnd, place, now=datetime.now(UTC), default_language="fr"
    ).phone.state == ("do_not_disturb")


@pytest.fixture
async def hospital(
    db: Database, shared_broker: tuple[str, int], topics: Topics
) -> AsyncIterator[tuple[Stays, EventBus, Topics, tuple[str, int]]]:
    beds = [("C1-101-A", "101", "1101", "TA"), ("C1-102-A", "102", "1102", "TB")]
    await seed_ward(db, "C1", beds, dids=["0388000001", "0388000002"])
    bus = EventBus()
    stays = Stays(db, bus, AuditLog())
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


async def test_admission_transfer_discharge(
    hospital: tuple[Stays, EventBus, Topics, tuple[str, int]],
) -> None:
    stays, bus, topics, (host, port) = hospital
    seen = await retained(host, port, f"{topics.root}/#")
    config = parse_config(seen[topics.config("TA")])
    assert (config.bed_label, config.room, config.ward_code) == ("C1-101-A", "101", "C1")
    assert config.kiosk_url.endswith("/tv/TA")
    assert topics.context("TA") not in seen  # empty bed: nothing retained

    where = c.BedLocation(label="C1-101-A")
    admitted = await stays.admit(c.Admit(visit_number="V1", patient=PATIENT, location=where), ACTOR)
    await bus.drain()
    seen = await retained(host, port, f"{topics.root}/#")
    ctx = parse_context(seen[topics.context("TA")])
    assert ctx is not None
    assert (ctx.greeting_name, ctx.bed_label, ctx.room, ctx.language) == (
        "Dom", "C1-101-A", "101", "en",
    )  # fmt: skip
    assert ctx.phone.number == admitted.did and ctx.phone.state == "active"
    assert b"Testfamily" not in seen[topics.context("TA")]

    await stays.set_leave(c.SetLeave(visit_number="V1", on_leave=True), ACTOR)
    await bus.drain()
    seen = await retained(host, port, f"{topics.root}/#")
    away = parse_context(seen[topics.context("TA")])
    assert away is not None and away.on_leave and away.meal_ordering == "closed"
    await stays.set_leave(c.SetLeave(visit_number="V1", on_leave=False), ACTOR)

    renamed = c.PatientData(
        ipp="IPP-41", family_name="Testfamily", given_name="Dominique", addressed_as="Domi"
    )
    await stays.update_patient(c.UpdatePatient(patient=renamed, visit_number="V1"), ACTOR)
    await bus.drain()
    seen = await retained(host, port, f"{topics.root}/#")
    updated = parse_context(seen[topics.context("TA")])
    assert updated is not None and updated.greeting_name == "Domi"

    await stays.transfer(
        c.Transfer(visit_number="V1", location=c.BedLocation(label="C1-102-A")), ACTOR
    )
    await bus.drain()
    seen = await retained(host, port, f"{topics.root}/#")
    assert topics.context("TA") not in seen
    moved = parse_context(seen[topics.context("TB")])
    assert moved is not None and moved.bed_label == "C1-102-A" and moved.greeting_name == "Domi"
    assert moved.phone.number == admitted.did  # the DID follows the patient

    await stays.discharge(c.Discharge(visit_number="V1"), ACTOR)
    await bus.drain()
    seen = await retained(host, port, f"{topics.root}/#")
    assert not [t for t in seen if t.endswith("/context")]
    assert all(b"Dom" not in payload for payload in seen.values())
    assert set(seen) == {topics.config("TA"), topics.config("TB")}
