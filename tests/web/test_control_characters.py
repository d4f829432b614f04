"""Control characters at the web border: every text field of every JSON endpoint of the
OpenAPI document, every query and path parameter, and the forms, refused with 422 and a clear
message naming the field; nothing changes. Plus the typed path parameters and ``Allow``."""

from __future__ import annotations

import re
from typing import Any

from tests.web.conftest import WebLab

BAD = ["a\x00b", "a\x1bb", "a\x7fb", "a\x85b"]


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _string_fields(doc: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """The body's properties that accept text (directly, in a list, or nullable)."""
    found = []
    for name, prop in _resolve(doc, schema).get("properties", {}).items():
        options = prop.get("anyOf", [prop])
        kinds = {o.get("type") for o in options} | {o.get("items", {}).get("type") for o in options}
        if "string" in kinds or any("enum" in o or "const" in o for o in options):
            found.append(name)
    return found


async def test_every_text_input_of_the_api_refuses_control_characters(
    consolelab: WebLab,
) -> None:
    admin = await consolelab.signed_in("ada")
    doc = await admin.json("GET", "/api/v1/openapi.json")
    before = await admin.json("GET", "/api/v1/admin/staff")
    checked: set[str] = set()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            url = re.sub(r"\{\w+\}", "1", path)
            tries: list[tuple[str, str, Any]] = []
            body_schema = (
                op.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema")
            )
            if body_schema is not None:
                for name in _string_fields(doc, body_schema):
                    for bad in BAD:
                        tries.append((f"field {name}", url, {name: bad}))
                tries.append(("field", url, {"a\x00": "x"}))
            for param in op.get("parameters", []):
                if param["in"] == "query":
                    tries.append(
                        (f"query parameter {param['name']}", f"{url}?{param['name']}=a%00b", None)
                    )
                else:
                    bad_url = path.replace("{" + param["name"] + "}", "a%00b")
                    bad_url = re.sub(r"\{\w+\}", "1", bad_url)
                    tries.append((f"path parameter {param['name']}", bad_url, None))
            for field, target, body in tries:
                r = await admin.call(method.upper(), target, body)
                answer = await r.json()
                assert r.status == 422, (method, target, body, r.status, answer)
                assert answer["error"] == "request.control_character", answer
                assert answer["details"]["field"].startswith(field), (field, answer)
                assert answer["message"] and answer["message"] != answer["error"]
                checked.add(f"{method} {path}")
    assert "post /api/v1/admin/staff" in checked and "post /api/v1/session" in checked
    assert len(checked) >= 15, sorted(checked)
    assert await admin.json("GET", "/api/v1/admin/staff") == before


async def test_nul_in_a_staff_display_name_is_a_422_and_nothing_is_stored(
    weblab: WebLab,
) -> None:
    admin = await weblab.signed_in("ada")
    body = {
        "username": "new.nurse",
        "display_name": "New\x00Nurse",
        "roles": ["nurse"],
        "password": "long enough password",
    }
    r = await admin.call("POST", "/api/v1/admin/staff", body)
    answer = await r.json()
    assert (r.status, answer["error"]) == (422, "request.control_character")
    assert answer["details"] == {"field": "field display_name", "character": "U+0000"}
    names = [u["username"] for u in (await admin.json("GET", "/api/v1/admin/staff"))["staff"]]
    assert "new.nurse" not in names
    r = await admin.call("POST", "/api/v1/admin/staff", body | {"display_name": "New Nurse"})
    assert r.status == 201


async def test_forms_refuse_control_characters(weblab: WebLab) -> None:
    b = weblab.browser()
    await b.refresh()
    forms = {
        "/signin": {"username": "ada\x00", "password": "x"},
        "/lang": {"lang": "en", "back": "/\x01"},
        "/tv/enroll": {"credential": "abc\x00defghij"},
    }
    posted = {
        r.resource.canonical
        for r in weblab.app.router.routes()
        if r.method == "POST"
        and r.resource is not None
        and not r.resource.canonical.startswith("/api/")
    }
    assert posted == set(forms) | {"/signout"}  # every form of the pages is swept
    forms["/signout"] = {"note": "\x00"}
    for path, form in forms.items():
        r = await b.http.post(
            weblab.base + path,
            data=form | {"csrf_token": b.csrf},
            headers={"Accept": "application/json"},
            allow_redirects=False,
        )
        answer = await r.json()
        assert (r.status, answer["error"]) == (422, "request.control_character"), path
        assert answer["details"]["field"].startswith("form field"), answer


async def test_path_parameters_are_typed_and_405_names_the_allowed_methods(
    adminlab: WebLab,
) -> None:
    admin = await adminlab.signed_in("ada")
    doc = await admin.json("GET", "/api/v1/openapi.json")
    replay = doc["paths"]["/api/v1/admin/adt/{message_id}/replay"]["post"]
    (param,) = replay["parameters"]
    assert param["schema"]["type"] == "integer"
    for path, ops in doc["paths"].items():
        for op in ops.values():
            for p in op.get("parameters", []):
                assert "type" in p["schema"] or "anyOf" in p["schema"], (path, p)
    r = await admin.call("POST", "/api/v1/admin/adt/abc/replay")
    answer = await r.json()
    assert (r.status, answer["error"]) == (422, "request.invalid")
    assert answer["details"]["errors"][0]["loc"] == "message_id"
    for method, path, allowed in (
        ("PATCH", "/api/v1/session", {"GET", "POST", "DELETE"}),
        ("DELETE", "/api/v1/admin/staff", {"GET", "POST"}),
    ):
        r = await admin.call(method, path, {})
        assert r.status == 405
        assert allowed <= {m.strip() for m in r.headers["Allow"].split(",")}, r.headers
        assert (await r.json())["error"] == "route.method"
