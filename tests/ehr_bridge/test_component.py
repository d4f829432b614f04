"""The EHR bridge wired into the application: MLLP in, bedside record out, readiness, CLI."""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from prometheus_client import generate_latest
from sqlalchemy import select

from ehr_bridge.adt_message import parse_adt
from ehr_bridge.cli import cmd_context, cmd_demo_adt, cmd_sandbox, register_cli
from ehr_bridge.component import ADT_FEED, CLINICAL_RECORD, EHR, setup
from ehr_bridge.sandbox.seed import example_bed_locations, seed_example, seed_patient
from ehr_bridge.sandbox.server import RunningSandbox, SandboxAuth
from ehr_bridge.sandbox.store import SandboxStore
from tests.ehr_bridge.messages import adt
from tests.ehr_bridge.mllp_client import Sender, ack_code
from wardline import appkeys as k
from wardline.app import build_app
from wardline.db.models import AuditEvent
from wardline.domain.commands import SYSTEM_ADMIN_CLI, Actor
from wardline.domain.ehr_events import AdtMessageRefused
from wardline.domain.inventory import load_inventory
from wardline.example_hospital import generate
from wardline.settings import Settings

TOKEN = "t0ken"


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    store = SandboxStore()
    seed_patient(
        store,
        ipp="100001",
        visit_number="V100001",
        location_id="loc-cardio-101-a",
        gluten_free=True,
    )
    running = RunningSandbox(store, SandboxAuth(token=TOKEN))
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


def settings_for(tmp_path: Path, sandbox: RunningSandbox) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'w.db'}",
        mllp_port=0,
        fhir_url=sandbox.url,
        fhir_token=TOKEN,  # type: ignore[arg-type]
        ami_enabled=False,
        mqtt_enabled=False,
    )


async def test_setup_runs_listener_and_clinical_record(
    tmp_path: Path, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WARDLINE_EHR_WARD_ALIASES", '{"UF1042": "CARDIO"}')
    settings = settings_for(tmp_path, sandbox)
    app = build_app(settings, components=[setup])
    refusals: list[AdtMessageRefused] = []

    async def on_refused(event: AdtMessageRefused) -> None:
        refusals.append(event)

    app[k.BUS].subscribe(AdtMessageRefused, on_refused, name="test-refusals")
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        inventory = tmp_path / "hospital.yaml"
        inventory.write_text(yaml.safe_dump(generate(beds=20)))
        await load_inventory(app[k.DATABASE], inventory, SYSTEM_ADMIN_CLI, app[k.AUDIT])
        listener = app[EHR].listener
        assert listener is not None and listener.port
        async with Sender(listener.port) as sender:
            assert ack_code(await sender.send(adt("A01", "C1", ward="UF1042"))) == "AA"
        stay = await app[k.STAYS].stay_for_bed("CARDIO-101-A")
        assert stay is not None
        record = await app[CLINICAL_RECORD].record_for_stay(stay)
        assert record.patient.gluten_free and record.orders
        async with Sender(listener.port) as sender:  # a transfer for a stay not yet admitted
            assert (
                ack_code(await sender.send(adt("A02", "C2", ipp="7", visit="V7", room="102")))
                == "AE"
            )
            assert (
                ack_code(await sender.send(adt("A01", "C3", ipp="7", visit="V7", bed="B"))) == "AA"
            )
        [refused] = await app[ADT_FEED].messages("error")
        assert (refused.control_id, refused.error_id) == ("C2", "stay.unknown")
        await app[k.BUS].drain()
        assert [(e.message_id, e.error_id) for e in refusals] == [
            (refused.message_id, "stay.unknown")
        ]
        admin = Actor(name="admin.martin", roles=frozenset({"admin"}))
        replayed = await app[ADT_FEED].replay(refused.message_id, admin)
        assert (replayed.ack_code, replayed.status) == ("AA", "applied")
        assert await app[ADT_FEED].messages("error") == []
        async with app[k.DATABASE].sessions() as s:
            audited = await s.scalars(select(AuditEvent).where(AuditEvent.action == "adt.replay"))
            assert [a.actor for a in audited] == ["admin.martin"]
        moved = await app[k.STAYS].stay_by_visit("V7")
        assert moved is not None and moved.bed is not None and moved.bed.label == "CARDIO-102-A"
        report = await app[k.READINESS].report()
        assert report["checks"]["ehr_adt"]["state"] == "up"
        assert report["checks"]["ehr_fhir"]["state"] == "up"
        assert report["checks"]["ehr_fhir"]["outbox_pending"] == 0
        metrics = generate_latest(app[k.METRICS]).decode()
        assert 'wardline_adt_messages_total{ack="AA"} 2.0' in metrics
        assert 'wardline_adt_messages_total{ack="AE"} 1.0' in metrics
    finally:
        await runner.cleanup()
    assert app[EHR].listener is None and app[EHR].clinical_record is None


async def test_context_of_an_empty_bed_is_one_clear_error(
    tmp_path: Path, sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path, sandbox)
    app = build_app(settings, components=[setup])
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        inventory = tmp_path / "hospital.yaml"
        inventory.write_text(yaml.safe_dump(generate(beds=20)))
        await load_inventory(app[k.DATABASE], inventory, SYSTEM_ADMIN_CLI, app[k.AUDIT])
    finally:
        await runner.cleanup()
    capsys.readouterr()
    assert await cmd_context(argparse.Namespace(bed="CARDIO-102-B"), settings) == 2
    assert "no active stay" in capsys.readouterr().err


def test_cli_registers_its_commands() -> None:
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["ehr", "sandbox", "--port", "9123"])
    assert args.handler is cmd_sandbox and args.port == 9123
    args = parser.parse_args(["ehr", "context", "CARDIO-101-A"])
    assert args.handler is cmd_context and args.bed == "CARDIO-101-A"


async def test_cli_context_prints_json(
    tmp_path: Path, sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path, sandbox)
    app = build_app(settings, components=[setup])
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        inventory = tmp_path / "hospital.yaml"
        inventory.write_text(yaml.safe_dump(generate(beds=20)))
        await load_inventory(app[k.DATABASE], inventory, SYSTEM_ADMIN_CLI, app[k.AUDIT])
        await app[k.STAYS].apply(parse_adt(adt("A01", "C1")).command, SYSTEM_ADMIN_CLI)
    finally:
        await runner.cleanup()
    capsys.readouterr()
    assert await cmd_context(argparse.Namespace(bed="CARDIO-101-A"), settings) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["banner"]["family_name"] == "MARTIN"
    assert printed["stale"] is False


async def test_demo_feed_matches_the_sandbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = SandboxStore()
    assert seed_example(store, example_bed_locations(20)) == 10
    running = RunningSandbox(store, SandboxAuth(token=TOKEN))
    await running.start()
    settings = settings_for(tmp_path, running)
    app = build_app(settings, components=[setup])
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        inventory = tmp_path / "hospital.yaml"
        inventory.write_text(yaml.safe_dump(generate(beds=20)))
        await load_inventory(app[k.DATABASE], inventory, SYSTEM_ADMIN_CLI, app[k.AUDIT])
        listener = app[EHR].listener
        assert listener is not None
        args = argparse.Namespace(host="127.0.0.1", port=listener.port, beds=20)
        assert await cmd_demo_adt(args, settings) == 0
        assert "AA: 10" in capsys.readouterr().out
        stays = await app[k.STAYS].active_stays()
        assert len(stays) == 10
        for stay in stays:
            record = await app[CLINICAL_RECORD].record_for_stay(stay)
            assert record.patient.family_name == stay.patient.family_name
            assert record.orders
    finally:
        await runner.cleanup()
        await running.stop()


def test_bad_ehr_setting_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from ehr_bridge.component import load_options
    from wardline.errors import ConfigError

    monkeypatch.setenv("WARDLINE_EHR_PAGE_LIMIT", "zero")
    with pytest.raises(ConfigError) as info:
        load_options()
    assert "WARDLINE_EHR_PAGE_LIMIT" in info.value.message


def test_fhir_without_the_ipp_system_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from wardline.errors import ConfigError

    monkeypatch.delenv("WARDLINE_EHR_IPP_SYSTEM")
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'w.db'}",
        fhir_url="http://127.0.0.1:9/fhir",
        ami_enabled=False,
        mqtt_enabled=False,
        mllp_enabled=False,
    )
    with pytest.raises(ConfigError) as info:
        build_app(settings)
    assert "WARDLINE_EHR_IPP_SYSTEM" in info.value.message
    assert "\n" not in info.value.message
    build_app(settings.model_copy(update={"fhir_url": None}))  # without FHIR it is not needed
