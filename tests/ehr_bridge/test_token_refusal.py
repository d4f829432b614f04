"""A token endpoint that refuses the service's credentials: its own reason (RFC 6749
``error`` and ``error_description``) is kept in the error, for the admin."""

from __future__ import annotations

import aiohttp
import pytest

from ehr_bridge.errors import FhirAuthError
from ehr_bridge.fhir_auth import ClientCredentials
from ehr_bridge.fhir_client import SharedSessionClient
from ehr_bridge.sandbox.server import RunningSandbox, SandboxAuth
from ehr_bridge.sandbox.store import SandboxStore
from wardline.errors import Unavailable


async def test_a_refused_secret_keeps_the_token_endpoints_reason() -> None:
    sandbox = RunningSandbox(SandboxStore(), SandboxAuth(clients={"wardline": "s3cret"}))
    await sandbox.start()
    try:
        async with aiohttp.ClientSession() as http:
            tokens = ClientCredentials(http, f"{sandbox.url}/oauth/token", "wardline", "wrong")
            client = SharedSessionClient(sandbox.url, http, tokens)
            with pytest.raises(FhirAuthError) as refused:
                await client.read("Patient", "p1")
    finally:
        await sandbox.stop()
    assert refused.value.error_id == "fhir.token_refused"
    assert "(401): invalid_client" in refused.value.message
    assert isinstance(refused.value, Unavailable)  # the web answers 503, never 400
