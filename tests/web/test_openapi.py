"""The OpenAPI document is valid OpenAPI 3.1 and describes every ``/api/v1`` route."""

from __future__ import annotations

from openapi_spec_validator import validate

from tests.web.conftest import WebLab


async def test_openapi_document_is_valid_and_complete(weblab: WebLab) -> None:
    b = weblab.browser()
    doc = await b.json("GET", "/api/v1/openapi.json")
    validate(doc)
    routes = {
        (r.method.lower(), r.resource.canonical)
        for r in weblab.app.router.routes()
        if r.resource is not None
        and r.resource.canonical.startswith("/api/v1/")
        and r.method != "HEAD"
        and not r.resource.canonical.endswith("openapi.json")
    }
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert routes == documented
    sign_in = doc["paths"]["/api/v1/session"]["post"]
    assert sign_in["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/SignInIn"
    )
    assert "4XX" in sign_in["responses"]
    assert "ErrorOut" in doc["components"]["schemas"]
