"""``wardline asterisk-config`` as a process: a refused inventory writes no file."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from telephony.config.files import FILES
from tests.conftest import EXAMPLE_HOSPITAL, ROOT, Hospital
from tests.lines.conftest import ADT, admit
from wardline.db.models import Stay


async def run_cli(*args: str, **env: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wardline", "asterisk-config", *args, cwd=ROOT,
        env={**os.environ, "WARDLINE_ASTERISK_SIP_SECRET_SEED": "cli-seed",
             "WARDLINE_AMI_SECRET": "cli-ami", "WARDLINE_LOG_FORMAT": "json", **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def edited_inventory(tmp_path: Path, edit: Any) -> Path:
    data = yaml.safe_load(EXAMPLE_HOSPITAL.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "hospital.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def first_ward(data: dict[str, Any]) -> dict[str, Any]:
    ward: dict[str, Any] = data["sites"][0]["wards"][0]
    return ward


async def test_duplicate_bed_extension_is_refused(tmp_path: Path) -> None:
    def dup(data: dict[str, Any]) -> None:
        first_ward(data)["rooms"][0]["beds"][1]["extension"] = "2001"

    out = tmp_path / "out"
    code, _stdout, stderr = await run_cli(
        "--inventory", str(edited_inventory(tmp_path, dup)), "--out", str(out)
    )
    assert code != 0
    assert "duplicate extension 2001" in stderr and "Traceback" not in stderr
    assert not out.exists()


async def test_extension_on_a_parking_slot_is_refused(tmp_path: Path) -> None:
    def on_slot(data: dict[str, Any]) -> None:
        first_ward(data)["rooms"][0]["beds"][1]["extension"] = "705"

    out = tmp_path / "out"
    code, _stdout, stderr = await run_cli(
        "--inventory", str(edited_inventory(tmp_path, on_slot)), "--out", str(out)
    )
    assert code != 0
    assert "extension 705 is used twice" in stderr and "parking slot" in stderr
    assert not out.exists()


async def test_from_database_then_did_outside_pool_changes_nothing(
    hospital: Hospital, tmp_path: Path
) -> None:
    await hospital.stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    out = tmp_path / "out"
    url = hospital.db.url
    code, stdout, stderr = await run_cli("--out", str(out), WARDLINE_DATABASE_URL=url)
    assert code == 0, stderr
    assert "pjsip.conf: new" in stdout
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert len(before) == len(FILES) + 1  # and the change summary
    async with hospital.db.session() as s:
        stay = (await s.scalars(select(Stay).where(Stay.visit_number == "V1"))).one()
        stay.did = "0999999999"
    code, stdout, stderr = await run_cli("--out", str(out), WARDLINE_DATABASE_URL=url)
    assert code != 0
    assert "DID 0999999999 held by a stay is outside the DID pool" in stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
