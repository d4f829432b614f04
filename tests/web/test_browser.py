"""In a real browser (Playwright on Debian's chromium): an operator signs in, sees a call arrive
from the PBX simulator, answers it and transfers it to a bed with the keyboard alone; the
lamps change. Screenshots of the pages are saved (see tests/web/browser.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.browser import launch_chromium, save_screenshot
from tests.web.conftest import PASSWORD, WebLab
from wardline import appkeys as k
from wardline.domain.nurse_call_events import NurseCallRaised

pytestmark = pytest.mark.browser


async def sign_in(page: Any, base: str, username: str, extension: str | None = None) -> None:
    await page.goto(base + "/signin")
    await page.focus("#username")
    await page.keyboard.type(username)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    if extension:
        await page.select_option("#extension", extension)
    await page.keyboard.press("Enter")


async def test_operator_answers_and_transfers_with_the_keyboard(
    consolelab: WebLab, tmp_path: Path
) -> None:
    assert consolelab.pbx is not None
    async with launch_chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 900}, locale="fr-FR")
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await sign_in(page, consolelab.base, "opal", "9000")
        await page.wait_for_url("**/console")
        await page.wait_for_selector('#live-state[data-state="up"]')
        assert await page.get_attribute('.lamp[data-ext="2001"]', "data-state") == "idle"

        consolelab.pbx.external_call(to="8000", caller="0612345678", name="Camille Martin")
        await page.wait_for_selector('#queue tr[data-phase="queued"]')
        assert "Camille Martin" in await page.inner_text("#queue")
        await page.wait_for_selector('.lamp[data-ext="9000"][data-state="ringing"]')

        await page.keyboard.press("a")  # answer the next waiting call on my phone
        await page.wait_for_selector('#status-line:has-text("Appel pris sur mon poste")')
        consolelab.pbx.answer("9000")  # the operator's headset picks up
        await page.wait_for_selector('#calls tr[data-phase="talking"]')
        await page.wait_for_selector('.lamp[data-ext="9000"][data-state="in_use"]')
        await save_screenshot(page, "console", tmp_path)

        await page.keyboard.press("t")  # transfer: the target field takes the focus
        await page.keyboard.type("2001")
        await page.keyboard.press("Enter")
        await page.wait_for_selector('.lamp[data-ext="2001"][data-state="ringing"]')
        await page.wait_for_selector('.lamp[data-ext="9000"][data-state="idle"]')
        status = await page.inner_text("#status-line")
        assert "2001" in status

        consolelab.app[k.BUS].publish(
            NurseCallRaised(
                call_id=5,
                bed_label="CARDIO-101-B",
                ward_code="CARDIO",
                nurse_station_extension="2900",
                source="button",
            )
        )
        await page.wait_for_selector('#nurse-calls li[data-nurse-call="5"][data-state="open"]')
        assert errors == []


async def test_admin_page_with_the_keyboard(adminlab: WebLab, tmp_path: Path) -> None:
    async with launch_chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 900}, locale="fr-FR")
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await sign_in(page, adminlab.base, "ada")
        await page.wait_for_url("**/admin")
        await page.wait_for_selector('#inventory-table tr[data-bed="CARDIO-101-A"]')
        await page.wait_for_selector('#staff-table tr[data-user="opal"]')
        await page.focus("#verify")
        await page.keyboard.press("Enter")
        await page.wait_for_selector('#verify-result[data-ok="true"]')
        assert "intacte" in await page.inner_text("#verify-result")
        await page.evaluate("window.scrollTo(0, 0)")
        await save_screenshot(page, "admin", tmp_path)
        assert errors == []
