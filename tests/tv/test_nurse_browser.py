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
from tests.tv.test_tv_browser import VIEWPORT, enrolled_tv, open_tile
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
    """Reach the dose with the arrows and open it with OK. The schedule is drawn again when
    a write settles, which can take the focus away half-way: then walk to it again."""
    row = page.locator("#schedule tr", has_text=medication).first
    button = row.locator("button.dose")
    for _attempt in range(3):
        for _ in range(20):
            if await button.evaluate("b => b === document.activeElement"):
                break
            await page.keyboard.press("ArrowDown")
        await page.keyboard.press("Enter")
        try:
            await page.wait_for_selector("#admin-form:not([hidden])", timeout=5000)
            return
        except Exception:  # the schedule was redrawn under the keys
            continue
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

        # A wrong wristband: refused with a clear message in the page's language (French).
        await choose_dose(page, "Bisoprolol")
        await page.keyboard.type("999999")  # the wristband field has the focus
        await page.keyboard.press("ArrowDown")
        await page.keyboard.type("Bisoprolol 5 mg comprimé")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#admin-result[data-error='bedside.wrong_patient']")
        assert "n'est pas celui du patient de ce lit" in (
            await page.text_content("#admin-result") or ""
        )
        assert await outbox_rows(lab) == 0 and administrations(lab) == 0

        # The right patient and medication; the order has only a text dose ("1 comprimé"):
        # the nurse types the dose and confirms it against that text.
        assert await page.text_content("#order-dose") == "1 comprimé"
        assert await page.is_visible("#dose-confirmed")
        await page.fill("#wristband", IPP)
        await page.fill("#dose-value", "1")
        await page.fill("#dose-unit", "{tbl}")
        await page.focus("#med-code")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#admin-result[data-error='bedside.confirm_dose']")
        assert "1 comprimé" in (await page.text_content("#admin-result") or "")
        await page.check("#dose-confirmed")
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
        assert resource["dosage"]["text"] == "1 comprimé"

        # No input for the idle time: signed out, back to the patient's home, nothing kept.
        await page.wait_for_selector("body[data-nurse='out']", timeout=(IDLE_SECONDS + 4) * 1000)
        await page.wait_for_selector("body[data-view='home']")
        assert not await page.is_visible("#nurse-panel")
        assert (await page.text_content("#schedule")) == ""
        await open_tile(page, "staff")  # the staff tile opens the sign-in form again
        await page.wait_for_selector("body[data-view='staff'] #badge-form:not([hidden])")
        assert not await page.is_visible("#nurse-panel")


async def test_a_double_click_on_enregistrer_makes_one_record(tvlab: TvLab) -> None:
    async with launch_chromium() as browser:
        page = await enrolled_tv(browser, tvlab)
        await sign_in_at_the_bed(page)
        posts: list[str] = []
        page.on(
            "request",
            lambda r: (
                posts.append(r.url)
                if r.method == "POST" and r.url.endswith("/tv/nurse/administrations")
                else None
            ),
        )
        await choose_dose(page, "Bisoprolol")
        await page.fill("#wristband", IPP)
        await page.fill("#med-code", "Bisoprolol 5 mg comprimé")
        await page.fill("#dose-value", "1")
        await page.fill("#dose-unit", "{tbl}")
        await page.check("#dose-confirmed")
        assert await page.text_content("#record-given") == "Enregistrer"
        await page.dblclick("#record-given")
        await page.wait_for_selector("#admin-form", state="hidden")
        await wait_until(lambda: administrations(tvlab) == 1, timeout=10)
        await page.wait_for_selector("#schedule tr[data-order='mr-100001-1'][data-state='given']")
        await asyncio.sleep(0.5)
        assert len(posts) == 1  # the second click found the button disabled
        assert administrations(tvlab) == 1 and await outbox_rows(tvlab) == 1
        assert not await page.is_disabled("#record-given")  # enabled again once answered


async def test_not_given_with_a_reason_in_the_browser(tvlab: TvLab) -> None:
    async with launch_chromium() as browser:
        page = await enrolled_tv(browser, tvlab)
        await sign_in_at_the_bed(page)
        await choose_dose(page, "Bisoprolol")
        await page.fill("#wristband", IPP)
        await page.click("#record-not-given")  # no reason yet: refused, in French
        await page.wait_for_selector("#admin-result[data-error='bedside.reason_needed']")
        assert "n'a pas été donnée" in (await page.text_content("#admin-result") or "")
        await page.click("button.reason[data-reason='vomited']")
        assert await page.get_attribute("button.reason[data-reason='vomited']", "aria-pressed") == (
            "true"
        )
        await page.click("#record-not-given")
        await page.wait_for_selector("#admin-form", state="hidden")
        row = "#schedule tr[data-order='mr-100001-1'][data-state='not_given']"
        await page.wait_for_selector(row)
        await wait_until(lambda: administrations(tvlab) == 1, timeout=10)
        [resource] = tvlab.sandbox.store.all("MedicationAdministration")
        assert resource["status"] == "not-done"
        assert resource["statusReason"][0]["coding"][0]["code"] == "vomited"
        # Shown as not given: choosing it again and recording is refused by the server.
        # (Chosen with a click: the walk with the arrows is the first choice's, above.)
        row = page.locator("#schedule tr[data-order='mr-100001-1'][data-state='not_given']")
        await row.locator("button.dose").click()
        await page.wait_for_selector("#admin-form:not([hidden])")
        await page.fill("#wristband", IPP)
        await page.click("button.reason[data-reason='refused']")
        await page.click("#record-not-given")
        await page.wait_for_selector("#admin-result[data-error='bedside.dose_already_recorded']")
        assert "déjà été enregistrée" in (await page.text_content("#admin-result") or "")
        assert administrations(tvlab) == 1


async def test_a_terminal_in_utc_shows_the_wards_paris_times(tvlab: TvLab) -> None:
    """The lab's clock is 07:10 UTC, 08:10 in Paris; the paracetamol is due at 00:00, 06:00,
    12:00 and 18:00 Paris time (23:00, 05:00, 11:00, 17:00 UTC in November)."""
    async with launch_chromium() as browser:
        page = await browser.new_page(viewport=VIEWPORT, timezone_id="UTC")
        assert await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == "UTC"
        await page.goto(tvlab.base + "/tv/enroll")
        await page.fill("#credential", tvlab.credential)
        await page.keyboard.press("Enter")
        await page.wait_for_selector("body[data-view='home']")
        clock = page.locator("#clock")
        assert "08:10" in (await clock.text_content() or "")
        await page.wait_for_function("document.getElementById('clock').dateTime !== ''")
        assert "08:10" in (await clock.text_content() or "")  # after the script's own update
        assert "dimanche 22 novembre" in (await clock.text_content() or "")
        await sign_in_at_the_bed(page)
        times = await page.eval_on_selector_all(
            "#schedule tr[data-order='mr-100001-0'] button.dose", "bs => bs.map(b => b.textContent)"
        )
        assert times == ["00:00", "06:00", "12:00", "18:00"]
        await choose_dose(page, "Bisoprolol")
        assert (await page.text_content("#admin-title") or "").endswith("08:00")
