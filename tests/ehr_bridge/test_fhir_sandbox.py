"""The FHIR sandbox over real HTTP: the behaviours of real servers Wardline must handle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from ehr_bridge.sandbox.seed import example_bed_locations, seed_example, seed_patient
from ehr_bridge.sandbox.server import RunningSandbox, SandboxAuth
from ehr_bridge.sandbox.store import SandboxStore

TOKEN = "sandbox-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    store = SandboxStore()
    seed_patient(
        store,
        ipp="100001",
        visit_number="V100001",
        location_id="loc-cardio-101-a",
        gluten_free=True,
    )
    running = RunningSandbox(store, SandboxAuth(token=TOKEN, clients={"wardline": "s3cret"}))
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, headers=AUTH if headers is None else headers) as r,
    ):
        return r.status, await r.json(content_type=None)


def administration(identifier: str, patient: str = "Patient/pat-100001") -> dict[str, Any]:
    return {
        "resourceType": "MedicationAdministration",
        "identifier": [{"system": "urn:wardline:administration", "value": identifier}],
        "status": "completed",
        "medicationCodeableConcept": {"text": "Paracétamol"},
        "subject": {"reference": patient},
        "effectiveDateTime": "2026-03-01T08:00:00+00:00",
    }


async def post(
    sandbox: RunningSandbox, body: dict[str, Any], condition: str | None = None
) -> tuple[int, Any, str | None]:
    headers = dict(AUTH, **({"If-None-Exist": condition} if condition else {}))
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{sandbox.url}/{body['resourceType']}", json=body, headers=headers) as r,
    ):
        return r.status, await r.json(content_type=None), r.headers.get("Location")


async def test_bearer_token_is_required(sandbox: RunningSandbox) -> None:
    status, body = await get(f"{sandbox.url}/Patient/pat-100001", headers={})
    assert status == 401 and body["resourceType"] == "OperationOutcome"
    status, body = await get(f"{sandbox.url}/Patient/pat-100001")
    assert status == 200 and body["name"][0]["family"] == "MARTIN"


async def test_client_credentials_token(sandbox: RunningSandbox) -> None:
    async with aiohttp.ClientSession() as http:
        form = {
            "grant_type": "client_credentials",
            "client_id": "wardline",
            "client_secret": "s3cret",
        }
        async with http.post(f"{sandbox.url}/oauth/token", data=form) as r:
            assert r.status == 200
            issued = await r.json()
        bad = dict(form, client_secret="nope")
        async with http.post(f"{sandbox.url}/oauth/token", data=bad) as r:
            assert r.status == 401
    headers = {"Authorization": f"Bearer {issued['access_token']}"}
    status, _ = await get(f"{sandbox.url}/Encounter/enc-V100001", headers=headers)
    assert status == 200


async def test_paging_with_offsets_and_include(sandbox: RunningSandbox) -> None:
    url = (
        f"{sandbox.url}/Observation?patient=Patient/pat-100001&category=vital-signs"
        "&_count=3&_sort=-date"
    )
    seen: list[str] = []
    pages = 0
    while url:
        status, bundle = await get(url)
        assert status == 200
        pages += 1
        seen += [e["resource"]["id"] for e in bundle["entry"]]
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), "")
    assert len(seen) == len(set(seen)) == bundle["total"] == 8
    assert pages == 3
    status, bundle = await get(
        f"{sandbox.url}/MedicationRequest?patient=pat-100001&status=active"
        "&_include=MedicationRequest:medication"
    )
    modes = [e["search"]["mode"] for e in bundle["entry"]]
    assert modes.count("match") == 3 and modes.count("include") == 3


async def test_location_search_needs_the_type_prefix(sandbox: RunningSandbox) -> None:
    _, typed = await get(f"{sandbox.url}/Encounter?location=Location/loc-cardio-101-a")
    _, bare = await get(f"{sandbox.url}/Encounter?location=loc-cardio-101-a")
    assert typed["total"] == 1 and bare["total"] == 0


async def test_conditional_create(sandbox: RunningSandbox) -> None:
    cond = "identifier=urn:wardline:administration|adm-1"
    status, body, location = await post(sandbox, administration("adm-1"), cond)
    assert status == 201 and location and body["id"] in location
    status, again, location = await post(sandbox, administration("adm-1"), cond)
    assert status == 200 and again["id"] == body["id"] and location is None
    assert sandbox.store.created["MedicationAdministration"] == 1
    sandbox.store.add(administration("adm-1"))  # a second match appears on the server
    status, outcome, _ = await post(sandbox, administration("adm-1"), cond)
    assert status == 412 and outcome["resourceType"] == "OperationOutcome"


async def test_refusal_carries_an_operation_outcome(sandbox: RunningSandbox) -> None:
    status, outcome, _ = await post(sandbox, administration("adm-2", patient="Patient/nobody"))
    assert status == 422
    assert "Patient/nobody" in outcome["issue"][0]["diagnostics"]
    assert sandbox.store.created["MedicationAdministration"] == 0


def test_example_seed_matches_the_inventory() -> None:
    store = SandboxStore()
    locations = example_bed_locations()
    assert "loc-cardio-101-a" in locations
    assert seed_example(store, locations) == len(locations) // 2
    diets = store.all("NutritionOrder")
    assert diets and all("gluten" in d["oralDiet"]["type"][0]["text"] for d in diets)
    assert store.search("Encounter", {"location": "Location/loc-cardio-101-a"})
