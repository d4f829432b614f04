"""Every state-changing endpoint of the OpenAPI document, fed malformed bodies and path
parameters by every role: always a JSON refusal with a stable id, never a 500."""

from __future__ import annotations

import re

from tests.web.conftest import WebLab

BODIES: list[object] = [None, [], "x", 5, {}, {"to": 5, "q": None}, {"to": "9" * 40}]


async def test_malformed_requests_are_refused_never_crash(consolelab: WebLab) -> None:
    admin = await consolelab.signed_in("ada")
    doc = await admin.json("GET", "/api/v1/openapi.json")
    browsers = [admin, await consolelab.signed_in("opal", "9000"), consolelab.browser()]
    await browsers[-1].refresh()
    checked = 0
    for path, ops in doc["paths"].items():
        for method in ops:
            if method == "get" or path == "/api/v1/session":
                continue
            url = re.sub(r"\{\w+\}", "x%27%00", path)
            for b in browsers:
                for body in BODIES:
                    r = await b.call(method.upper(), url, body)
                    assert r.status < 500, (method, url, body, r.status, await r.text())
                    if r.status >= 400:
                        error = await r.json()
                        assert set(error) == {"error", "message", "details"}
                        assert re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", error["error"]), error
                    checked += 1
    assert checked > 100
