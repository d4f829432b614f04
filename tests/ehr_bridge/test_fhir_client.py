"""The FHIR client against the sandbox over real HTTP: bundle, paging, auth, stale cache."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from ehr_bridge.bedside_record import BedsideRecords
from ehr_bridge.config import EhrOptions
from ehr_bridge.errors import FhirUnreachable
from ehr_bridge.fhir_auth import ClientCredentials, StaticToken
from ehr_bridge.fhir_client import SharedSessionClient
from ehr_bridge.identity import IdentityToBeChecked
from ehr_bridge.sandbox.seed import seed_patient
from ehr_bridge.sandbox.server import RunningSandbox, SandboxAuth
from ehr_bridge.sandbox.store import SandboxStore
from tests.ehr_bridge.fhir_fixtures import stay_view

TOKEN = "t0ken"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    store = SandboxStore()
    seed_patient(
        store,
        ipp="100001",
        visit_number="V100001",
        location_id="loc-cardio-101-a",
        gluten_free=True,
        penicillin_allergy=True,
    )
    running = RunningSandbox(
        store, SandboxAuth(token=TOKEN, clients={"wardline": "s3cret"}, token_lifetime=60)
    )
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def records(client: SharedSessionClient, clock: Clock, **options: object) -> BedsideRecords:
    return BedsideRecords(client, EhrOptions(**options), ttl_seconds=60, monotonic=clock)  # type: ignore[arg-type]


async def test_bedside_record_from_the_sandbox(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    client = SharedSessionClient(sandbox.url, http, StaticToken(TOKEN))
    record = await records(client, Clock()).get(stay_view())
    assert (record.patient.family_name, record.patient.given_name) == ("MARTIN", "JEANNE")
    assert ("IPP", "100001") in record.patient.identifiers
    assert {a.substance for a in record.patient.allergies} == {"Gluten", "Pénicilline"}
    assert record.patient.gluten_free and record.patient.diets == ("Régime sans gluten",)
    assert [o.medication for o in record.orders] == [
        "Paracétamol 1 g comprimé",
        "Bisoprolol 5 mg comprimé",
        "Enoxaparine 4000 UI/0,4 mL",
    ]
    assert record.orders[0].timings[0].frequency == 4
    assert {v.kind for v in record.vitals} == {
        "heart_rate",
        "temperature",
        "spo2",
        "respiratory_rate",
    }
    assert not record.stale
    # every request went through the one shared session
    assert client.requests >= 7 and not http.closed


async def test_paging_follows_next_links_up_to_the_limit(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    client = SharedSessionClient(sandbox.url, http, StaticToken(TOKEN))
    params = {"patient": "Patient/pat-100001", "category": "vital-signs", "_count": "3"}
    full = await client.search_all("Observation", params, page_limit=10)
    assert (len(full.matches), full.pages, full.truncated) == (8, 3, False)
    cut = await client.search_all("Observation", params, page_limit=2)
    assert (len(cut.matches), cut.pages, cut.truncated) == (6, 2, True)


async def test_repeated_next_link_stops(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    sandbox.store.loop_paging = True
    client = SharedSessionClient(sandbox.url, http, StaticToken(TOKEN))
    params = {"patient": "Patient/pat-100001", "category": "vital-signs", "_count": "3"}
    result = await client.search_all("Observation", params, page_limit=50)
    assert result.truncated and result.pages == 2  # the page, then the same link once


async def test_client_credentials_refresh_before_expiry(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    tokens = ClientCredentials(http, f"{sandbox.url}/oauth/token", "wardline", "s3cret", margin=30)
    client = SharedSessionClient(sandbox.url, http, tokens)
    assert await client.read("Patient", "pat-100001")
    assert await client.read("Patient", "pat-100001")
    assert tokens.fetched == 1
    tokens._expires -= 31  # within the margin of expiry (lifetime 60 s)
    assert await client.read("Patient", "pat-100001")
    assert tokens.fetched == 2


async def test_revoked_token_is_fetched_again_after_401(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    tokens = ClientCredentials(http, f"{sandbox.url}/oauth/token", "wardline", "s3cret")
    client = SharedSessionClient(sandbox.url, http, tokens)
    assert await client.read("Patient", "pat-100001")
    sandbox.auth.issued.clear()  # the server forgets every token it issued
    assert await client.read("Patient", "pat-100001")
    assert tokens.fetched == 2


async def test_stale_cache_while_the_sandbox_is_stopped(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    clock = Clock()
    client = SharedSessionClient(sandbox.url, http, StaticToken(TOKEN), timeout=2)
    source = records(client, clock)
    fresh = await source.get(stay_view())
    clock.now += 10
    cached = await source.get(stay_view())
    assert source.fetches == 1 and not cached.stale and cached.age_seconds == 10
    await sandbox.stop()
    clock.now += 120  # past the TTL: a fetch is tried, fails, the cache is served
    stale = await source.get(stay_view())
    assert stale.stale and stale.age_seconds == pytest.approx(130)
    assert source.fetches == 2
    assert stale.patient == fresh.patient and source.last_error == "fhir.unreachable"
    clock.now += 1  # within the quiet period after a failure: no new attempt
    assert (await source.get(stay_view())).stale and source.fetches == 2
    with pytest.raises(FhirUnreachable):
        await source.get(stay_view(ipp="555", visit="V555"))  # nothing cached for this one
    await sandbox.start()
    clock.now += 10  # the quiet period is over: fetched again
    again = await source.get(stay_view())
    assert not again.stale and source.fetches == 4


async def test_unknown_patient(sandbox: RunningSandbox, http: aiohttp.ClientSession) -> None:
    client = SharedSessionClient(sandbox.url, http, StaticToken(TOKEN))
    with pytest.raises(IdentityToBeChecked) as refused:
        await records(client, Clock()).get(stay_view(ipp="999", visit="V999"))
    assert refused.value.reason == "patient.unknown"


async def test_visit_at_bed_uses_a_typed_location_reference(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    client = SharedSessionClient(sandbox.url, http, StaticToken(TOKEN))
    source = records(client, Clock())
    assert await source.visit_at_bed("loc-cardio-101-a") == "V100001"
    assert await source.visit_at_bed("loc-cardio-101-b") is None


async def test_fhirpy_searches_go_through_the_shared_session(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    client = SharedSessionClient(sandbox.url, http, StaticToken(TOKEN))
    before = sandbox.store.requests["GET"]
    patients = await client.resources("Patient").search(identifier="100001").fetch()
    assert [p["id"] for p in patients] == ["pat-100001"]
    encounter = await client.reference("Encounter", "enc-V100001").to_resource()
    assert encounter["status"] == "in-progress"
    assert client.requests == 2 and sandbox.store.requests["GET"] == before + 2
    assert not http.closed
