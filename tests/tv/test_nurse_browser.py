"""The nurse at the bed in a real browser: badge and PIN on the TV, the schedule, a wrong
wristband refused, an administration that reaches the FHIR sandbox once, idle sign-out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ehr_bridge.models import EhrOutbox
from ehr_bridge.sandbox.server import RunningSandbox
from tests.conftest import Hospital
from tests.services import wait_until
from tests.tv.conftest import BADGE, IPP, PIN, Serve, TvLab, open_lab
from tests.tv.test_tv_browser import enrolled_tv, open_tile
from tests.web.browser import launch_chromium, save_screenshot
from wardline import appkeys as k

IDLE_SECONDS = 8.0


@pytest.fixture
async def idle_lab(
    hospital: Hospital, tmp_path: Path, sandbox: RunningSandbox, serve_app: Serve
) -> AsyncIterator[TvLab]:
    yield await open_lab(
        hospital, tmp_path, sandbox, serve_app, nurse_idle_signout_seconds=IDLE_SECONDS
    )


def administrations(lab: TvLab) -> int:
    return len(lab.sandbox.store.all("MedicationAdministration"))


async def outbox_rows(lab: TvLab) -> int:
    async with lab.app[k.DATABASE].sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(EhrOutbox)) or 0)


async def sign_in_at_the_bed(page: Any) -> None:
    await open_tile(page, "staff")
    await page.wait_for_selector("body[data-view='staff']")
    assert await page.evaluate("document.activeElement.id") == "badge"
    await page.keyboard.type(BADGE)
    await page.keyboard.press("ArrowDown")
    await page.keyboard.type(PIN)
    await page.keyboard.press("Enter")
    await page.wait_for_selector("body[data-nurse='in'] #schedule tr")


async def choose_dose(page: Any, medication: str) -> None:
    row = page.locator("#schedule tr", has_text=medication).first
    button = row.locator("button.dose")
    for _ in range(20):
        if await button.evaluate("b => b === document.activeElement"):
            break
        await page.keyboard.press("ArrowDown")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#admin-form:not([hidden])")


async def test_nurse_records_an_administration_once_then_idles_out(
    idle_lab: TvLab, tmp_path: Path
) -> None:
    lab = idle_lab
    async with launch_chromium() as browser:
        page = await enrolled_tv(browser, lab)
        await sign_in_at_the_bed(page)
        banner = await page.text_content("#banner") or ""
        assert "MARTIN" in banner and IPP in banner and "Gluten" in banner
        states = await page.eval_on_selector_all(
            "#schedule tr", "rs => rs.map(r => r.dataset.state)"
        )
        assert states and set(states) <= {"due", "overdue", "given", "not_given"}
        await save_screenshot(page, "nurse-schedule", tmp_path)

        # A wrong wristband: refused with a clear message, nothing recorded.
        await choose_dose(page, "Bisoprolol")
        await page.keyboard.type("999999")  # the wristband field has the focus
        await page.keyboard.press("ArrowDown")
        await page.keyboard.type("Bisoprolol 5 mg comprimé")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#admin-result[data-error='bedside.wrong_patient']")
        # In the page's language (the patient's TV is in French).
        assert (await page.text_content("#admin-result") or "").startswith(
            "Ce bracelet n'est pas celui du patient de ce lit"
        )
        assert await outbox_rows(lab) == 0 and administrations(lab) == 0

        # The right patient, medication, dose and route, inside the window.
        await page.fill("#wristband", IPP)
        await page.focus("#med-code")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#admin-form", state="hidden")
        # The confirmation stays in sight when the form goes.
        await page.wait_for_selector("#admin-result[data-kind='ok']", state="visible")
        await page.wait_for_selector("#writes li[data-state='delivered']")  # shown to the nurse
        await wait_until(lambda: administrations(lab) == 1, timeout=10)
        await asyncio.sleep(0.5)
        assert administrations(lab) == 1 and await outbox_rows(lab) == 1
        [resource] = lab.sandbox.store.all("MedicationAdministration")
        assert resource["status"] == "completed"

        # No input for the idle time: signed out, back to the patient's home, nothing kept.
        await page.wait_for_selector("body[data-nurse='out']", timeout=(IDLE_SECONDS + 4) * 1000)
        await page.wait_for_selector("body[data-view='home']")
        assert not await page.is_visible("#nurse-panel")
        assert (await page.text_content("#schedule")) == ""
        await open_tile(page, "staff")  # the staff tile opens the sign-in form again
        await page.wait_for_selector("body[data-view='staff'] #badge-form:not([hidden])")
        assert not await page.is_visible("#nurse-panel")
