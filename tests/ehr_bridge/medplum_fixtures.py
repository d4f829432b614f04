"""The corpus in the real FHIR engine (Medplum), once per test module, and bedside records
read from it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from ehr_bridge.bedside_record import BedsideRecords
from ehr_bridge.config import EhrOptions
from ehr_bridge.fhir_auth import StaticToken
from ehr_bridge.fhir_client import SharedSessionClient
from ehr_bridge.sandbox.corpus import IPP_SYSTEM, VISIT_SYSTEM, corpus_resources
from tests.fhir_peer import MedplumPeer, running_medplum

TOKEN = "medplum-corpus"


@pytest.fixture(scope="module")
def medplum() -> Iterator[MedplumPeer]:
    with running_medplum(token=TOKEN) as peer:
        peer.put_all(corpus_resources())
        yield peer


@pytest.fixture
async def fhir(medplum: MedplumPeer) -> AsyncIterator[SharedSessionClient]:
    async with aiohttp.ClientSession() as session:
        yield SharedSessionClient(medplum.base_url, session, StaticToken(TOKEN))


def corpus_records(client: SharedSessionClient, **options: object) -> BedsideRecords:
    settings: dict[str, object] = {"ipp_system": IPP_SYSTEM, "visit_system": VISIT_SYSTEM}
    settings.update(options)
    return BedsideRecords(client, EhrOptions(**settings), ttl_seconds=0)  # type: ignore[arg-type]
