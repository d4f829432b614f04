"""Issue 21 through the console's HTTP API on a real Asterisk 22 loaded with the generated
configuration: a bed's call queued at the switchboard is answered with "answer next",
blind-transferred to a bed that answers, and hung up, each from the API an operator's page
uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kiosk_ui.component import setup as web_setup
from telephony.component import TELEPHONY
from telephony.component import setup as telephony_setup
from tests.conftest import Hospital
from tests.services import wait_until
from tests.telephony import test_real_pbx_switchboard as board_tests
from tests.telephony.real_pbx import AMI_SECRET, RealPbx, place_call
from tests.telephony.test_real_pbx_switchboard import Phones
from tests.web.conftest import Browser, Serve, WebLab, add_staff, web_settings
from wardline.app import build_app

pytestmark = pytest.mark.asterisk

db = board_tests.db  # the SQLite database of the switchboard tests
OPERATOR, BED, OTHER_BED = "9000", "2001", "2002"


@pytest.fixture
async def phones(real_pbx: RealPbx) -> AsyncIterator[Phones]:
    found = Phones(real_pbx)
    try:
        yield found
    finally:
        await found.close()


@pytest.fixture
async def console(
    real_pbx: RealPbx, hospital: Hospital, tmp_path: Path, serve_app: Serve
) -> AsyncIterator[WebLab]:
    settings = web_settings(
        tmp_path,
        ami_enabled=True,
        ami_port=real_pbx.ami_port,
        ami_secret=AMI_SECRET,
        ami_action_timeout=5.0,
    )
    app = build_app(settings, database=hospital.db, components=[telephony_setup, web_setup])
    await add_staff(app)
    base = await serve_app(app)
    await app[TELEPHONY].link.wait_synced(30)
    lab = WebLab(app, base, [])
    yield lab
    for b in lab.browsers:
        await b.close()


async def board(b: Browser) -> dict[str, Any]:
    out: dict[str, Any] = await b.json("GET", "/api/v1/console/board")
    return out


async def test_answer_next_blind_transfer_and_hang_up_from_the_console_api(
    real_pbx: RealPbx, console: WebLab, phones: Phones
) -> None:
    await phones.register(OPERATOR, OTHER_BED)
    phones.calls.append(await place_call(real_pbx, "9", caller=BED))
    op = await console.signed_in("opal", OPERATOR)

    async def queued() -> bool:
        return any(c["phase"] == "queued" for c in (await board(op))["calls"])

    await wait_until(queued, 15)
    call_id = (await op.json("POST", "/api/v1/calls/answer-next"))["call_id"]

    async def phase_of(wanted: str) -> bool:
        calls = {c["call_id"]: c for c in (await board(op))["calls"]}
        return calls.get(call_id, {}).get("phase") == wanted

    await wait_until(lambda: phase_of("talking"), 15)
    mine = next(c for c in (await board(op))["calls"] if c["call_id"] == call_id)
    assert mine["handled_by"] == OPERATOR
    await op.json("POST", f"/api/v1/calls/{call_id}/transfer", {"to": OTHER_BED, "kind": "blind"})

    async def bed_talks() -> bool:
        phones = (await board(op))["phones"]
        return phones.get(OTHER_BED) == "in_use" and phones.get(OPERATOR) == "idle"

    await wait_until(bed_talks, 15)
    r = await op.call("POST", f"/api/v1/calls/{call_id}/hangup")
    assert r.status < 300, await r.text()

    async def ended() -> bool:
        return not (await board(op))["calls"]

    await wait_until(ended, 15)
    assert real_pbx.problems() == []
