"""A hospital (database + bus) whose bed lines follow the stays on the PBX simulator over AMI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import pytest

from telephony.ami.link import AmiLink, Backoff
from telephony.calls.session import PbxSession
from telephony.lines.bed_lines import BedLines
from telephony.simulator.server import PbxSimulator
from tests.conftest import Hospital
from wardline.domain import commands as c
from wardline.domain.lines import Lines

ADT = c.Actor(name="system:adt")
OPERATOR = c.Actor(name="switchboard-anne")


def patient(
    ipp: str, family: str = "Martin", given: str = "Claire", **extra: object
) -> c.PatientData:
    return c.PatientData(
        ipp=ipp,
        family_name=family,
        given_name=given,
        birth_date=date(1950, 3, 14),
        sex="F",
        **extra,  # type: ignore[arg-type]
    )


def admit(visit: str, ipp: str, bed: str, **extra: object) -> c.Admit:
    return c.Admit(
        visit_number=visit, patient=patient(ipp, **extra), location=c.BedLocation(label=bed)
    )


def make_link(port: int) -> AmiLink:
    return AmiLink(
        host="127.0.0.1",
        port=port,
        username="wardline",
        secret="wardline-secret",
        action_timeout=2.0,
        backoff=Backoff(initial=0.05, maximum=0.2),
    )


@dataclass
class LineLab:
    h: Hospital
    sim: PbxSimulator
    session: PbxSession
    bed_lines: BedLines
    lines: Lines

    def astdb(self) -> dict[str, str]:
        return {k: v for k, v in self.sim.astdb.items() if k.startswith(("bed/", "did/"))}

    async def settle(self) -> None:
        await self.h.bus.drain()
        await self.bed_lines.wait_reconciled()
        await self.h.bus.drain()


@pytest.fixture
async def line_lab(hospital: Hospital) -> AsyncIterator[LineLab]:
    sim = await PbxSimulator().start()
    session = PbxSession(make_link(sim.port), hospital.bus.publish)
    bed_lines = BedLines(session.actions, hospital.db)
    bed_lines.subscribe(hospital.bus)
    lines = Lines(hospital.db, hospital.bus, hospital.audit, clock=hospital.clock)
    await session.start()
    await session.link.wait_synced(5)
    lab = LineLab(hospital, sim, session, bed_lines, lines)
    await lab.settle()
    try:
        yield lab
    finally:
        await session.stop()
        await bed_lines.close()
        await sim.stop()
