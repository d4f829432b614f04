"""``wardline ehr context BED`` against the real FHIR engine (Medplum) holding the corpus:
what the nurse sees, as JSON, times in the ward's zone; an identity to be checked prints
nothing clinical. Every run is audited."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from aiohttp import web
from sqlalchemy import select

from ehr_bridge.adt_builder import AdtBed, AdtPatient, adt_message
from ehr_bridge.adt_message import parse_adt
from ehr_bridge.cli import cmd_context
from ehr_bridge.component import setup
from ehr_bridge.sandbox.corpus import CORPUS_PATIENTS, VISIT_SYSTEM
from ehr_bridge.sandbox.seed import example_beds
from tests.ehr_bridge.medplum_fixtures import TOKEN, medplum
from tests.fhir_peer import MedplumPeer
from wardline import appkeys as k
from wardline.app import build_app
from wardline.db.models import AuditEvent
from wardline.domain.commands import SYSTEM_ADMIN_CLI
from wardline.domain.inventory import load_inventory
from wardline.example_hospital import generate
from wardline.settings import Settings

__all__ = ["medplum"]
PARIS = ZoneInfo("Europe/Paris")


async def admitted(tmp_path: Path, peer: MedplumPeer) -> tuple[Settings, list[str]]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'w.db'}",
        fhir_url=peer.base_url,
        fhir_token=TOKEN,  # type: ignore[arg-type]
        ami_enabled=False,
        mqtt_enabled=False,
        mllp_enabled=False,
    )
    app = build_app(settings, components=[setup])
    runner = web.AppRunner(app)
    await runner.setup()
    beds = example_beds(20)
    labels = []
    try:
        inventory = tmp_path / "hospital.yaml"
        inventory.write_text(yaml.safe_dump(generate(beds=20)))
        await load_inventory(app[k.DATABASE], inventory, SYSTEM_ADMIN_CLI, app[k.AUDIT])
        for n, key in enumerate(("helene", "francois")):
            p, bed = CORPUS_PATIENTS[key], beds[n]
            patient = AdtPatient(
                ipp=p.ipp,
                family=p.family,
                given=p.given,
                birth_date=p.birth_date,
                sex=p.sex,
                visit_number=p.visit_number,
            )
            where = AdtBed(ward=bed.ward, room=bed.room, bed=bed.bed)
            message = adt_message("A01", patient, where, f"C{n}", charset="UNICODE UTF-8")
            await app[k.STAYS].apply(parse_adt(message).command, SYSTEM_ADMIN_CLI)
            labels.append(f"{bed.ward}-{bed.room}-{bed.bed}")
    finally:
        await runner.cleanup()
    return settings, labels


def printed(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """The JSON the command printed (structlog, unconfigured in tests, writes to stdout too;
    the CLI's own configuration sends logs to stderr)."""
    out = capsys.readouterr().out
    return json.loads(out[out.index("{\n") :])  # type: ignore[no-any-return]


async def test_context_prints_what_the_nurse_sees(
    tmp_path: Path,
    medplum: MedplumPeer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WARDLINE_EHR_VISIT_SYSTEM", VISIT_SYSTEM)
    monkeypatch.setenv("TZ", "UTC")  # the terminal's zone plays no part
    settings, (helene_bed, francois_bed) = await admitted(tmp_path, medplum)
    capsys.readouterr()
    assert await cmd_context(argparse.Namespace(bed=helene_bed), settings) == 0
    view = printed(capsys)
    assert view["identity"] == "checked"
    banner = view["banner"]
    assert (banner["family_name"], banner["allergy_status"]) == ("Lefèvre-Bérard", "recorded")
    assert banner["allergy_warning"] is None
    penicillin = next(a for a in banner["allergies"] if a["code"]["code"] == "764146007")
    assert penicillin["criticality"] == "high"
    assert penicillin["reactions"][0]["manifestations"] == ["Choc anaphylactique"]
    shown = {o["order_id"].removeprefix("corpus-mr-"): o["shown_as"] for o in view["orders"]}
    assert shown["morphine"] == shown["oxazepam"] == "if_needed"
    assert shown["bisoprolol"] == "suspended"
    assert shown["fluindione-nodosage"] == shown["macrogol-textonly"] == "to_clarify"
    assert shown["paracetamol"] == "scheduled"
    paracetamol = next(o for o in view["orders"] if o["order_id"] == "corpus-mr-paracetamol")
    assert paracetamol["ordered_dose"] == {
        "quantity": {"value": "1", "unit": "g", "unit_text": "g"}
    }
    schedule = view["schedule"]
    today = datetime.now(UTC).astimezone(PARIS)
    assert (schedule["time_zone"], schedule["day"]) == ("Europe/Paris", today.date().isoformat())
    times = [d["time"] for d in schedule["doses"] if d["order_id"] == "corpus-mr-paracetamol"]
    assert times == ["00:00", "06:00", "12:00", "18:00"]
    offset = today.strftime("%z")
    assert all(d["due_at"].endswith(f"{offset[:3]}:{offset[3:]}") for d in schedule["doses"])
    assert not {"corpus-mr-morphine", "corpus-mr-bisoprolol"} & {
        d["order_id"] for d in schedule["doses"]
    }

    assert await cmd_context(argparse.Namespace(bed=francois_bed), settings) == 3
    refused = printed(capsys)
    assert refused == {
        "bed": francois_bed,
        "visit_number": "8000021",
        "identity": "to_be_checked",
        "reason": "encounter.subject",
    }
    from wardline.db.engine import Database

    db = Database(settings.effective_database_url)
    try:
        async with db.sessions() as s:
            actions = list(
                await s.scalars(
                    select(AuditEvent.action).where(AuditEvent.actor == SYSTEM_ADMIN_CLI.name)
                )
            )
    finally:
        await db.dispose()
    assert actions.count("ehr.context_view") == 1
    assert actions.count("ehr.identity_to_be_checked") == 1
