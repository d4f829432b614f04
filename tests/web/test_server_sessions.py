"""Staff sessions held on the server, over real HTTP: the cookie is an opaque token; signing
out, a role change or a switched-off account end the session at once; idle and absolute
expiry on the application's clock; a new token at sign-in."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from kiosk_ui.component import SESSION_COOKIE
from kiosk_ui.component import setup as web_setup
from kiosk_ui.models import WebSession
from kiosk_ui.security import RateLimiter
from kiosk_ui.state import WEB
from kiosk_ui.throttle import SignInThrottle
from tests.conftest import Hospital
from tests.web.conftest import PASSWORD, Browser, Serve, WebLab, add_staff, web_settings
from wardline import appkeys as k
from wardline.app import build_app


@pytest.fixture
async def clocklab(hospital: Hospital, tmp_path: Path, serve_app: Serve) -> AsyncIterator[WebLab]:
    """The web edge on the test's clock."""
    app = build_app(
        web_settings(tmp_path), database=hospital.db, components=[web_setup], clock=hospital.clock
    )
    await add_staff(app)
    lab = WebLab(app, await serve_app(app), [])
    yield lab
    for b in lab.browsers:
        await b.close()


def token_of(b: Browser) -> str:
    cookie = next(c for c in b.http.cookie_jar if c.key == SESSION_COOKIE)
    return cookie.value


async def replay(lab: WebLab, token: str, path: str) -> int:
    """The same cookie sent by another client (an attacker who copied it)."""
    async with aiohttp.ClientSession() as http:
        r = await http.get(lab.base + path, headers={"Cookie": f"{SESSION_COOKIE}={token}"})
        return r.status


async def rows(lab: WebLab) -> list[WebSession]:
    async with lab.app[k.DATABASE].sessions() as s:
        return list(await s.scalars(select(WebSession)))


async def test_the_cookie_is_an_opaque_token_replaced_at_sign_in(clocklab: WebLab) -> None:
    b = clocklab.browser()
    await b.refresh()
    before = token_of(b)
    await b.sign_in("ada")
    token = token_of(b)
    assert token != before  # no fixation: the token chosen before sign-in is gone
    assert await replay(clocklab, before, "/api/v1/admin/staff") == 401
    assert len(token) >= 40 and "ada" not in token and "admin" not in token
    stored = await rows(clocklab)
    assert token_id_in(stored, token) and not token_id_in(stored, before)
    assert all(r.id != token for r in stored)  # only the token's hash is kept
    assert await replay(clocklab, token, "/api/v1/admin/staff") == 200


def token_id_in(stored: list[WebSession], token: str) -> bool:
    return hashlib.sha256(token.encode()).hexdigest() in {r.id for r in stored}


@pytest.mark.parametrize("how", ["api", "form"])
async def test_a_cookie_replayed_after_sign_out_is_refused(clocklab: WebLab, how: str) -> None:
    b = await clocklab.signed_in("ada")
    token = token_of(b)
    assert await replay(clocklab, token, "/api/v1/admin/staff") == 200
    if how == "api":
        r = await b.call("DELETE", "/api/v1/session")
        assert r.status == 204
    else:
        r = await b.http.post(
            clocklab.base + "/signout", data={"csrf_token": b.csrf}, allow_redirects=False
        )
        assert r.status == 303
    assert await replay(clocklab, token, "/api/v1/admin/staff") == 401
    assert not token_id_in(await rows(clocklab), token)


async def test_removing_a_role_or_switching_an_account_off_ends_its_sessions(
    clocklab: WebLab,
) -> None:
    ada = await clocklab.signed_in("ada")
    await ada.json(
        "POST",
        "/api/v1/admin/staff",
        {
            "username": "boss",
            "display_name": "Boss",
            "roles": ["admin", "switchboard"],
            "password": PASSWORD,
        },
    )
    boss = await clocklab.signed_in("boss")
    opal = await clocklab.signed_in("opal")
    assert (await boss.call("GET", "/api/v1/admin/staff")).status == 200
    assert (await opal.call("GET", "/api/v1/phones/switchboard")).status == 200
    changed = await ada.json("PATCH", "/api/v1/admin/staff/boss", {"roles": ["switchboard"]})
    assert changed["roles"] == ["switchboard"]
    r = await boss.call("GET", "/api/v1/admin/staff")
    assert (r.status, (await r.json())["error"]) == (401, "auth.required")
    await ada.json("PATCH", "/api/v1/admin/staff/opal", {"active": False})
    assert (await opal.call("GET", "/api/v1/phones/switchboard")).status == 401
    assert (await opal.refresh())["signed_in"] is False
    r = await opal.call("POST", "/api/v1/session", {"username": "opal", "password": PASSWORD})
    assert r.status == 401  # switched off: cannot sign in again
    again = await clocklab.signed_in("boss")  # the new roles in a new session
    assert (await again.call("GET", "/api/v1/admin/staff")).status == 403
    assert (await ada.call("GET", "/api/v1/admin/staff")).status == 200  # others untouched


async def test_idle_expiry(clocklab: WebLab, hospital: Hospital) -> None:
    b = await clocklab.signed_in("ada")
    for _ in range(3):
        hospital.clock.advance(minutes=29)
        assert (await b.call("GET", "/api/v1/admin/staff")).status == 200
    hospital.clock.advance(minutes=31)
    assert (await b.call("GET", "/api/v1/admin/staff")).status == 401
    async with clocklab.app[k.DATABASE].sessions() as s:
        staff_rows = await s.scalar(
            select(func.count())
            .select_from(WebSession)
            .where(WebSession.staff_user_id.is_not(None))
        )
    assert staff_rows == 0


async def test_absolute_expiry_even_when_used(clocklab: WebLab, hospital: Hospital) -> None:
    b = await clocklab.signed_in("ada")
    for _ in range(12 * 3 - 1):
        hospital.clock.advance(minutes=20)
        assert (await b.call("GET", "/api/v1/admin/staff")).status == 200
    hospital.clock.advance(minutes=25)  # 12 h 05 after sign-in
    assert (await b.call("GET", "/api/v1/admin/staff")).status == 401


async def test_expired_sessions_are_purged(clocklab: WebLab, hospital: Hospital) -> None:
    for name in ("ada", "opal"):
        await clocklab.signed_in(name)
    hospital.clock.advance(minutes=45)
    await clocklab.signed_in("nina")
    await clocklab.app[WEB].sessions.purge()
    left = await rows(clocklab)
    assert [r.data["user"]["username"] for r in left if "user" in r.data] == ["nina"]


async def test_the_sign_in_page_speaks_the_page_language(weblab: WebLab) -> None:
    expected = {
        "fr": ("Utilisateur inconnu ou mot de passe erroné.", "réessayez dans 1 secondes"),
        "en": ("Unknown user or wrong secret.", "try again in 1 seconds"),
        "de": ("Unbekannter Benutzer oder falsches Passwort", "in 1 Sekunden erneut"),
    }
    weblab.app[WEB].limiter = RateLimiter(1000, 60)
    weblab.app[WEB].throttle = SignInThrottle(clock=lambda: 0.0)
    for i, (lang, (failed, throttled)) in enumerate(expected.items()):
        b = weblab.browser()
        await b.refresh()
        await b.json("PUT", "/api/v1/session/language", {"language": lang})
        texts = []
        for _ in range(4):
            r = await b.http.post(
                weblab.base + "/signin",
                data={"username": f"nobody{i}", "password": "x", "csrf_token": b.csrf},
            )
            texts.append((r.status, await r.text()))
        assert [s for s, _ in texts] == [401, 401, 401, 429], lang
        assert failed in texts[0][1], lang
        assert throttled in texts[3][1], lang


async def test_an_open_live_feed_closes_when_its_session_ends(clocklab: WebLab) -> None:
    import aiohttp as _aiohttp

    opal = await clocklab.signed_in("opal")
    nina = await clocklab.signed_in("nina")
    sockets = []
    for b in (opal, nina):
        ws = await b.http.ws_connect(b.base.replace("http", "ws") + "/ws")
        snapshot = await ws.receive(timeout=5)
        assert snapshot.type == _aiohttp.WSMsgType.TEXT
        sockets.append(ws)
    feed, store = clocklab.app[WEB].feed, clocklab.app[WEB].sessions
    assert await feed.close_ended(store.alive) == 0
    assert (await opal.call("DELETE", "/api/v1/session")).status == 204
    await clocklab.app[k.BUS].drain()  # the session's end, published at sign-out, closed it
    assert await feed.close_ended(store.alive) == 0  # nothing left for the periodic check
    closed = await sockets[0].receive(timeout=5)
    # closed by the server: 4401 as a rule; under load the close handshake can be cut (1006)
    assert closed.type in (_aiohttp.WSMsgType.CLOSE, _aiohttp.WSMsgType.CLOSED), closed
    assert sockets[0].closed and sockets[0].close_code in (4401, 1006)
    assert not sockets[1].closed  # the other session goes on
    clocklab.app[k.CLOCK].advance(minutes=31)  # type: ignore[attr-defined]  # idle: expired
    assert await feed.close_ended(store.alive) == 1  # found by the periodic check
    closed = await sockets[1].receive(timeout=5)
    assert closed.type in (_aiohttp.WSMsgType.CLOSE, _aiohttp.WSMsgType.CLOSED), closed
    for ws in sockets:
        await ws.close()
