"""A nurse call through the composed application: the bedside nurse-call service, telephony on
the PBX simulator (the example hospital: CARDIO's station is 2900), the console's API.

Acknowledging from the console's nurse-call panel stops the station's ring (its CANCEL) and is
audited under the operator's name; answering the ring at the station acknowledges the call;
a nurse of another ward cannot take the call; bad ids are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from sqlalchemy import select

from bedside.nurse_call import NurseCalls
from bedside.nurse_call_ring_plan import RingPlanner
from bedside.topics import Topics
from kiosk_ui.component import setup as web_setup
from telephony.component import TELEPHONY
from telephony.component import setup as telephony_setup
from telephony.simulator.server import PbxSimulator
from tests.conftest import EXAMPLE_HOSPITAL, Hospital
from tests.services import wait_until
from tests.tv.conftest import Notices
from tests.web.conftest import Serve, WebLab, add_staff, web_settings
from wardline import appkeys as k
from wardline.app import build_app
from wardline.db.models import AuditEvent, StaffUser


def nurse_calls_component(app: web.Application) -> None:
    calls = NurseCalls(
        db=app[k.DATABASE], bus=app[k.BUS], link=Notices(), topics=Topics(), clock=app[k.CLOCK],
        audit=app[k.AUDIT], planner=RingPlanner("fr"),
    )  # fmt: skip
    calls.subscribe(app[k.BUS])
    app[k.NURSE_CALLS] = calls


@pytest.fixture
async def ward(
    hospital: Hospital, tmp_path: object, serve_app: Serve
) -> AsyncIterator[tuple[WebLab, NurseCalls]]:
    sim = await PbxSimulator.from_inventory(EXAMPLE_HOSPITAL).start()
    settings = web_settings(
        tmp_path, ami_enabled=True, ami_port=sim.port, ami_secret="wardline-secret",  # type: ignore[arg-type]
        ami_action_timeout=2.0,
    )  # fmt: skip
    app = build_app(
        settings,
        database=hospital.db,
        components=[telephony_setup, nurse_calls_component, web_setup],
    )
    await add_staff(app)
    async with app[k.DATABASE].session() as s:  # a nurse of another ward
        nina = await s.scalar(select(StaffUser).where(StaffUser.username == "nina"))
        assert nina is not None
        s.add(StaffUser(username="nora", display_name="Nora", roles="nurse",
                        password_hash=nina.password_hash, ward_code="PNEUMO"))  # fmt: skip
    base = await serve_app(app)
    await app[TELEPHONY].link.wait_synced(5)
    calls = app[k.NURSE_CALLS]
    assert isinstance(calls, NurseCalls)
    lab = WebLab(app, base, [], sim)
    yield lab, calls
    for b in lab.browsers:
        await b.close()
    await sim.stop()


async def test_the_console_acknowledges_and_the_station_stops_ringing(
    ward: tuple[WebLab, NurseCalls],
) -> None:
    lab, calls = ward
    assert lab.pbx is not None
    sim = lab.pbx
    raised = await calls.raise_from_tv("CARDIO-101-A")
    await wait_until(lambda: sim.ringing("2900") is not None, 5)
    assert sim.ringing("2900")[1:] == ("2990", "Appel ch. 101 lit A")  # type: ignore[index]
    other = await lab.signed_in("nora")
    refused = await other.call("POST", f"/api/v1/nurse-calls/{raised.call_id}/acknowledge")
    assert refused.status == 404  # not her ward's call
    bad = await other.call("POST", "/api/v1/nurse-calls/x1/acknowledge")
    assert bad.status == 422  # InvalidInput
    op = await lab.signed_in("opal", "9000")
    done = await op.json("POST", f"/api/v1/nurse-calls/{raised.call_id}/acknowledge")
    assert (done["state"], done["acknowledged_by"]) == ("acknowledged", "opal")
    await wait_until(lambda: sim.ringing("2900") is None, 5)
    assert sim.calls() == {}
    again = await op.json("POST", f"/api/v1/nurse-calls/{raised.call_id}/acknowledge")
    assert again["acknowledged_by"] == "opal"  # taken once

    second = await calls.raise_from_tv("CARDIO-102-A")
    await wait_until(lambda: sim.ringing("2900") is not None, 5)
    sim.answer("2900")

    async def taken() -> bool:
        views = await calls.open_calls("CARDIO")
        return any(v.call_id == second.call_id and v.state == "acknowledged" for v in views)

    await wait_until(taken, 5)
    [view] = [v for v in await calls.open_calls("CARDIO") if v.call_id == second.call_id]
    assert view.acknowledged_by == "phone:2900"
    async with lab.app[k.DATABASE].session() as s:
        rows = (await s.scalars(select(AuditEvent).order_by(AuditEvent.seq))).all()
    trail = [(r.actor, r.action, r.subject_id) for r in rows if r.subject_type == "nurse_call"]
    assert trail == [
        ("opal", "nurse_call.acknowledge", str(raised.call_id)),
        ("phone:2900", "nurse_call.acknowledge", str(second.call_id)),
    ]


@pytest.mark.browser
async def test_the_panel_shows_a_ring_that_failed_and_acknowledges_with_its_button(
    ward: tuple[WebLab, NurseCalls],
) -> None:
    from tests.web.browser import launch_chromium
    from tests.web.test_browser import sign_in

    lab, calls = ward
    assert lab.pbx is not None
    async with launch_chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 900}, locale="fr-FR")
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await sign_in(page, lab.base, "opal", "9000")
        await page.wait_for_selector('#live-state[data-state="up"]')
        lab.pbx.pbx.phones["2900"].registered = False  # the station is unplugged
        raised = await calls.raise_from_tv("CARDIO-101-B")
        item = f'#nurse-calls li[data-nurse-call="{raised.call_id}"]'
        await page.wait_for_selector(f'{item}[data-ring^="failed"]')
        assert "n'a pas pu être appelé" in await page.inner_text(item)
        await page.click(f"{item} button.acknowledge")
        await page.wait_for_selector(f'{item}[data-state="acknowledged"]')
        assert await page.query_selector(f"{item} button.acknowledge") is None
        [view] = await calls.open_calls("CARDIO")
        assert (view.state, view.acknowledged_by) == ("acknowledged", "opal")
        assert errors == []
