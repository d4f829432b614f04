"""Beside the schedule, over HTTP and in Chromium: no allergy data is a warning, and the
orders that are not scheduled (suspended, if needed, to clarify) reach the nurse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.tv.conftest import BADGE, IPP, PIN, TvLab
from tests.tv.test_tv_browser import enrolled_tv, staff_badge_in
from tests.web.browser import launch_chromium, save_screenshot

SUBJECT = {"reference": "Patient/pat-100001"}


def unscheduled_orders(lab: TvLab) -> None:
    store = lab.sandbox.store
    for allergy in store.all("AllergyIntolerance"):
        store.resources["AllergyIntolerance"].pop(allergy["id"])
    orders: list[dict[str, Any]] = [
        {
            "id": "mr-hold",
            "status": "on-hold",
            "statusReason": {"text": "Bradycardie"},
            "medicationCodeableConcept": {"text": "Amiodarone 200 mg"},
            "dosageInstruction": [{"timing": {"repeat": {"timeOfDay": ["08:00:00"]}}}],
        },
        {
            "id": "mr-prn",
            "status": "active",
            "medicationCodeableConcept": {"text": "Morphine 10 mg/mL"},
            "dosageInstruction": [
                {"text": "5 mg", "asNeededCodeableConcept": {"text": "Douleur EVA > 4"}}
            ],
        },
        {
            "id": "mr-unclear",
            "status": "active",
            "medicationCodeableConcept": {"text": "Fluindione 20 mg"},
        },
    ]
    for order in orders:
        store.add(
            {"resourceType": "MedicationRequest", "intent": "order", "subject": SUBJECT, **order}
        )


async def test_the_orders_api_says_what_is_beside_the_schedule(tvlab: TvLab) -> None:
    unscheduled_orders(tvlab)
    tv = await tvlab.terminal()
    refused = await tv.call("GET", "/api/v1/tv/nurse/orders")
    assert (await refused.json())["error"] == "bedside.nurse_signed_out"
    await tv.json("POST", "/api/v1/tv/nurse/signin", {"badge": BADGE, "pin": PIN})
    view = await tv.json("GET", "/api/v1/tv/nurse/orders")
    assert (view["allergy_status"], view["allergies"]) == ("not_recorded", [])
    shown = {o["order_id"]: (o["shown_as"], o["reason"]) for o in view["orders"]}
    assert shown["mr-hold"] == ("suspended", "Bradycardie")
    assert shown["mr-prn"] == ("if_needed", "Douleur EVA > 4")
    assert shown["mr-unclear"] == ("to_clarify", None)
    assert shown["mr-100001-0"][0] == "scheduled"
    schedule = (await tv.json("GET", "/api/v1/tv/nurse/record"))["schedule"]
    assert not {"mr-hold", "mr-prn", "mr-unclear"} & {d["order_id"] for d in schedule}


@pytest.mark.browser
async def test_the_nurse_sees_the_warning_and_the_orders_to_clarify(
    tvlab: TvLab, tmp_path: Path
) -> None:
    unscheduled_orders(tvlab)
    async with launch_chromium() as browser:
        page = await enrolled_tv(browser, tvlab)
        await staff_badge_in(page, BADGE, PIN)
        await page.wait_for_selector("#other-orders:not([hidden]) li[data-kind='to_clarify']")
        warning = await page.text_content("#allergy-status[data-status='not_recorded']") or ""
        assert warning.startswith("Aucune allergie renseignée")
        unclear = await page.text_content("#orders-other li[data-order='mr-unclear']") or ""
        assert "Fluindione 20 mg" in unclear and "à clarifier avec le prescripteur" in unclear
        prn = await page.text_content("#orders-other li[data-order='mr-prn']") or ""
        assert "si besoin" in prn and "Douleur EVA > 4" in prn
        held = await page.text_content("#orders-other li[data-order='mr-hold']") or ""
        assert "prescription suspendue" in held
        await save_screenshot(page, "nurse-beside-the-schedule", tmp_path)


@pytest.mark.browser
async def test_an_if_needed_dose_is_given_from_its_order_and_its_time_shown(
    tvlab: TvLab,
) -> None:
    """The "if needed" order has its button: the same form and five rights (wristband,
    medication, dose confirmed against the order's text), no due time; once the EHR holds
    the dose, the order says when it was last given, in the ward's time (08:10 in Paris)."""
    from tests.services import wait_until

    unscheduled_orders(tvlab)
    async with launch_chromium() as browser:
        page = await enrolled_tv(browser, tvlab)
        await staff_badge_in(page, BADGE, PIN)
        prn = "#orders-other li[data-order='mr-prn']"
        await page.wait_for_selector(f"{prn} button.give-prn")
        assert "pas donné dans les dernières 24 h" in (
            await page.text_content(f"{prn} .last-given") or ""
        )
        assert not await page.is_visible("#orders-other li[data-order='mr-hold'] button")
        await page.click(f"{prn} button.give-prn")
        await page.wait_for_selector("#admin-form:not([hidden])")
        title = await page.text_content("#admin-title") or ""
        assert "Morphine 10 mg/mL" in title and "si besoin" in title
        await page.fill("#wristband", IPP)
        await page.fill("#med-code", "Morphine 10 mg/mL")
        await page.fill("#dose-value", "5")
        await page.fill("#dose-unit", "mg")
        await page.click("#record-given")  # a dose known only by its text: confirm it first
        await page.wait_for_selector("#admin-result[data-error='bedside.confirm_dose']")
        await page.check("#dose-confirmed")
        await page.click("#record-given")
        await page.wait_for_selector("#admin-form", state="hidden")

        def given() -> list[dict[str, Any]]:
            return [
                r
                for r in tvlab.sandbox.store.all("MedicationAdministration")
                if r.get("request", {}).get("reference", "").endswith("mr-prn")
            ]

        await wait_until(lambda: len(given()) == 1, timeout=10)
        [resource] = given()
        assert resource["status"] == "completed"
        await page.wait_for_selector(f"{prn} .last-given:has-text('08:10')", timeout=10_000)
        last = await page.text_content(f"{prn} .last-given") or ""
        assert "dernière prise à 08:10" in last
        # The focus is back on the order's button: a second dose is the nurse's decision.
        assert await page.evaluate("document.activeElement.className") == "give-prn"
