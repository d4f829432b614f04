"""Bed lines on a real Asterisk 22: after the PBX lost its AstDB (the families deleted behind
Wardline's back), one reconcile makes AstDB exactly what the stays want, key by key."""

from __future__ import annotations

import pytest

from telephony.lines.bed_lines import BedLines
from telephony.lines.keys import all_keys
from telephony.lines.reads import active_lines
from tests.conftest import EXAMPLE_HOSPITAL, Hospital
from tests.lines.conftest import ADT, admit
from tests.telephony.conftest import Lab
from tests.telephony.real_pbx import RealPbx
from tests.telephony.test_real_pbx_switchboard import db  # noqa: F401 (the SQLite fixture)
from wardline.domain import commands as c
from wardline.domain.inventory_file import read_inventory

pytestmark = pytest.mark.asterisk


async def held(lab: Lab) -> dict[str, str]:
    actions = lab.session.actions
    keys = {f"bed/{k}": v for k, v in (await actions.tree("bed")).items()}
    keys.update({f"did/{k}": v for k, v in (await actions.tree("did")).items()})
    return keys


async def test_a_pbx_that_lost_its_astdb_is_reconciled_key_by_key(
    real_pbx: RealPbx, real_session: Lab, hospital: Hospital
) -> None:
    inv = read_inventory(EXAMPLE_HOSPITAL)
    labels = [inv.bed_label(w, r, b) for _s, w, r, b in inv.beds()]
    for i, label in enumerate(labels[:12]):
        names = {"family": f"Dupré-{i}", "given": "Hélène d'Arc"} if i % 3 == 0 else {}
        await hospital.stays.admit(admit(f"V{i}", f"P{i}", label, **names), ADT)
    await hospital.stays.discharge(c.Discharge(visit_number="V5"), ADT)
    lines = BedLines(real_session.session.actions, hospital.db)
    try:
        await lines.reconcile()
        wanted = all_keys(await active_lines(hospital.db))
        assert len(wanted) >= 11 * 4
        assert await held(real_session) == wanted
        # the PBX loses its AstDB (and keeps a stale key Wardline owns)
        real_pbx.cli("database deltree bed")
        real_pbx.cli("database deltree did")
        real_pbx.cli("database put did 0399999999 2001")
        assert await held(real_session) == {"did/0399999999": "2001"}
        repair = await lines.reconcile()
        assert repair.deleted == ["did/0399999999"]
        assert len(repair.written) == len(wanted)
        assert await held(real_session) == wanted
        assert (await lines.reconcile()).changed == 0
    finally:
        await lines.close()
