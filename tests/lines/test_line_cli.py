"""``wardline line ...`` as a process: audited change, applied to the PBX over AMI."""

from __future__ import annotations

import asyncio
import os
import sys

from sqlalchemy import select

from telephony.simulator.server import PbxSimulator
from tests.conftest import ROOT, Hospital
from tests.lines.conftest import ADT, admit
from wardline.db.models import AuditEvent, Stay


async def run_line(*args: str, url: str, port: int) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wardline", "line", *args, cwd=ROOT,
        env={**os.environ, "WARDLINE_DATABASE_URL": url, "WARDLINE_AMI_PORT": str(port),
             "WARDLINE_AMI_SECRET": "wardline-secret", "WARDLINE_AMI_ACTION_TIMEOUT": "1",
             "WARDLINE_LOG_FORMAT": "json", "WARDLINE_LOG_LEVEL": "WARNING"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_suspend_is_audited_and_applied(hospital: Hospital) -> None:
    view = await hospital.stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    sim = await PbxSimulator().start()
    sim.astdb.update({"bed/2001/active": "1", f"did/{view.did}": "2001"})
    try:
        code, out, err = await run_line(
            "--actor", "admin-paul", "suspend", "V1", url=hospital.db.url, port=sim.port
        )
        assert code == 0, err
        assert "applied to the PBX" in out
        assert sim.astdb["bed/2001/active"] == "0"
        assert f"did/{view.did}" not in sim.astdb
    finally:
        await sim.stop()
    async with hospital.db.sessions() as s:
        stay = (await s.scalars(select(Stay).where(Stay.visit_number == "V1"))).one()
        actions = (
            await s.scalars(select(AuditEvent.action).where(AuditEvent.actor == "admin-paul"))
        ).all()
    assert stay.line_suspended and actions == ["line.suspend"]


async def test_pbx_down_keeps_the_change_and_unknown_stay_is_one_line(
    hospital: Hospital,
) -> None:
    await hospital.stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    sim = await PbxSimulator().start()
    port = sim.port
    await sim.stop()
    code, out, err = await run_line("barring", "V1", "internal", url=hospital.db.url, port=port)
    assert code == 0, err
    assert "next reconcile" in out
    async with hospital.db.sessions() as s:
        stay = (await s.scalars(select(Stay).where(Stay.visit_number == "V1"))).one()
    assert stay.barring == "internal"
    code, out, err = await run_line("restore", "NOPE", url=hospital.db.url, port=port)
    assert code != 0
    assert "unknown stay NOPE" in err and "Traceback" not in err
