"""The real FHIR peer itself, over HTTP, through Wardline's FHIR client: searches by token,
reads, conditional create and the bearer token, as Medplum's engine answers them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from ehr_bridge.errors import FhirAuthError
from ehr_bridge.fhir_auth import StaticToken
from ehr_bridge.fhir_client import SharedSessionClient
from tests.fhir_peer import MedplumPeer, running_medplum

TOKEN = "medplum-secret"


@pytest.fixture(scope="module")
def peer() -> Iterator[MedplumPeer]:
    with running_medplum(token=TOKEN) as running:
        running.put_all(
            [
                {
                    "resourceType": "Patient",
                    "id": "p-helene",
                    "identifier": [{"system": "urn:oid:1.2.250.1.999.1", "value": "700001"}],
                    "name": [{"family": "Lefèvre", "given": ["Hélène"]}],
                },
                {
                    "resourceType": "Patient",
                    "id": "homonyme",
                    "identifier": [{"system": "urn:oid:9.9.9", "value": "700001"}],
                    "name": [{"family": "Dupré", "given": ["Noël"]}],
                },
            ]
        )
        yield running


@pytest.fixture
async def client(peer: MedplumPeer) -> AsyncIterator[SharedSessionClient]:
    async with aiohttp.ClientSession() as session:
        yield SharedSessionClient(peer.base_url, session, StaticToken(TOKEN))


async def test_a_token_search_with_its_system_finds_only_that_system(
    client: SharedSessionClient,
) -> None:
    scoped = await client.search_all("Patient", {"identifier": "urn:oid:1.2.250.1.999.1|700001"})
    unscoped = await client.search_all("Patient", {"identifier": "700001"})
    assert [p["id"] for p in scoped.matches] == ["p-helene"]
    assert sorted(p["id"] for p in unscoped.matches) == ["homonyme", "p-helene"]
    assert scoped.matches[0]["name"][0]["family"] == "Lefèvre"


async def test_conditional_create_returns_the_existing_match(client: SharedSessionClient) -> None:
    result = await client.create_conditional(
        "Patient",
        {"resourceType": "Patient", "name": [{"family": "Autre"}]},
        "identifier=urn:oid:9.9.9|700001",
    )
    assert result.status == 200
    assert result.server_id == "homonyme"


async def test_a_wrong_token_is_refused_with_the_servers_reason(peer: MedplumPeer) -> None:
    async with aiohttp.ClientSession() as session:
        client = SharedSessionClient(peer.base_url, session, StaticToken("wrong"))
        with pytest.raises(FhirAuthError) as refused:
            await client.search_all("Patient", {"identifier": "700001"})
    assert "Invalid secret" in refused.value.message


def test_in_ci_a_missing_node_fails_instead_of_skipping(monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.fhir_peer as peer_module

    monkeypatch.setattr(peer_module.shutil, "which", lambda name: None)
    monkeypatch.setenv("WARDLINE_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="node is not installed"):
        peer_module.node_or_skip()
    monkeypatch.setenv("WARDLINE_REQUIRE_SERVICES", "0")
    with pytest.raises(pytest.skip.Exception):
        peer_module.node_or_skip()
