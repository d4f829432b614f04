"""The web edge wired after every other edge, as the composition root will: no route or
middleware collides, operations endpoints keep working and get the security headers."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Hospital
from tests.web.conftest import Browser, Serve, add_staff, web_settings
from wardline.app import build_app


async def test_after_every_edge(hospital: Hospital, tmp_path: Path, serve_app: Serve) -> None:
    app = build_app(
        web_settings(tmp_path),
        database=hospital.db,
    )
    await add_staff(app)
    b = Browser(await serve_app(app))
    try:
        r = await b.call("GET", "/healthz")
        assert r.status == 200
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        state = await b.sign_in("ada")
        assert state["user"]["roles"] == ["admin"]
        assert (await b.call("GET", "/admin")).status == 200
        assert (await b.call("GET", "/api/v1/admin/outbox")).status == 200
    finally:
        await b.close()
