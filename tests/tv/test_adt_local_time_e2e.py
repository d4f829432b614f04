"""End to end: a transfer sent over MLLP at 23:30 Paris time, without an offset, is shown at
23:30 on the same day by the bedside API and page of the bed it moved to and by the
switchboard's directory, all computed by the server in the ward's zone (stored in UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ehr_bridge.component import EHR
from ehr_bridge.sandbox.server import RunningSandbox
from kiosk_ui.terminal_auth import issue_credential
from tests.conftest import Hospital
from tests.ehr_bridge.messages import adt
from tests.ehr_bridge.mllp_client import Sender, ack_code
from tests.tv.conftest import OTHER_TERMINAL, Serve, open_lab
from wardline import appkeys as k


async def test_a_transfer_at_2330_local_shows_at_2330_the_same_day(
    hospital: Hospital, tmp_path: Path, sandbox: RunningSandbox, serve_app: Serve
) -> None:
    lab = await open_lab(hospital, tmp_path, sandbox, serve_app, mllp_enabled=True, mllp_port=0)
    try:
        listener = lab.app[EHR].listener
        assert listener is not None and listener.port
        async with Sender(listener.port) as sender:
            # summer: 23:30 in Paris is 21:30 UTC; read as UTC it would be 01:30 the next day
            ack = await sender.send(adt("A02", "T2330", bed="B", evn_at="20260703233000"))
            assert ack_code(ack) == "AA"
            assert str(ack.segment("MSH")(7)).endswith(("+0100", "+0200"))
        stay = await lab.app[k.STAYS].stay_by_visit("V100001")
        assert stay is not None and stay.bed is not None and stay.bed.label == "CARDIO-101-B"
        assert stay.bed_since == datetime(2026, 7, 3, 21, 30, tzinfo=UTC)  # stored in UTC

        # the bed the patient moved to: its terminal's API and its page
        credential = await issue_credential(lab.app[k.DATABASE], OTHER_TERMINAL)
        terminal = await lab.terminal(credential)
        context = await terminal.json("GET", "/api/v1/tv/context")
        assert context["occupied"] is True
        assert context["in_bed_since"] == "2026-07-03T23:30:00+02:00"
        page = await terminal.call("GET", "/tv")
        html = await page.text()
        assert page.status == 200
        assert 'datetime="2026-07-03T23:30:00+02:00"' in html
        assert "Dans ce lit depuis le 03/07 23:30" in html  # French, the default language

        # the switchboard's directory
        operator = lab.browser()
        await operator.sign_in("opal")
        found = await operator.json("POST", "/api/v1/directory/search", {"q": "martin"})
        (entry,) = [e for e in found["entries"] if e["kind"] == "patient"]
        assert entry["bed"] == "CARDIO-101-B"
        assert entry["in_bed_since"] == "2026-07-03T23:30:00+02:00"
        assert entry["in_bed_since_text"] == "03/07 23:30"
    finally:
        for b in lab.browsers:
            await b.close()
