"""Sign-in, throttling, rate limit, CSRF, roles, security headers, errors, languages."""

from __future__ import annotations

from kiosk_ui.security import RateLimiter
from kiosk_ui.state import WEB
from kiosk_ui.throttle import SignInThrottle
from tests.web.conftest import PASSWORD, SIGNIN_ATTEMPTS, WebLab


async def test_sign_in_gives_a_session_and_a_new_csrf_token(weblab: WebLab) -> None:
    b = weblab.browser()
    before = await b.refresh()
    assert before["signed_in"] is False
    state = await b.sign_in("opal", "9000")
    assert state["signed_in"] is True
    assert state["user"]["roles"] == ["switchboard"]
    assert state["user"]["extension"] == "9000"
    assert state["csrf_token"] != before["csrf_token"]
    again = await b.refresh()
    assert again["user"]["username"] == "opal"


async def test_wrong_password_is_401_with_a_stable_id(weblab: WebLab) -> None:
    b = weblab.browser()
    await b.refresh()
    r = await b.call("POST", "/api/v1/session", {"username": "opal", "password": "nope"})
    assert r.status == 401
    assert (await r.json())["error"] == "auth.failed"
    r = await b.call("POST", "/api/v1/session", {"username": "ghost", "password": "nope"})
    assert (r.status, (await r.json())["error"]) == (401, "auth.failed")


async def test_failures_slow_down_known_and_unknown_accounts_alike(weblab: WebLab) -> None:
    edge = weblab.app[WEB]
    edge.limiter = RateLimiter(1000, 60)
    now = [0.0]
    edge.throttle = SignInThrottle(clock=lambda: now[0])
    b = weblab.browser()
    await b.refresh()
    answers = {}
    for name in ("nina", "ghost"):
        seen = []
        for _ in range(6):
            r = await b.call("POST", "/api/v1/session", {"username": name, "password": "bad"})
            seen.append((r.status, r.headers.get("Retry-After"), await r.json()))
        answers[name] = seen
    assert answers["nina"] == answers["ghost"]
    assert [s for s, _, _ in answers["nina"]] == [401, 401, 401, 429, 429, 429]
    assert answers["nina"][3][1] == "1"
    assert answers["nina"][3][2]["error"] == "auth.throttled"
    right = {"username": "nina", "password": PASSWORD}
    r = await b.call("POST", "/api/v1/session", right)
    assert r.status == 429  # the wait holds even for the right password...
    now[0] += 1.5
    r = await b.call("POST", "/api/v1/session", {"username": "nina", "password": "bad"})
    assert r.status == 401
    r = await b.call("POST", "/api/v1/session", right)
    assert (r.status, r.headers["Retry-After"]) == (429, "2")  # ...and grows
    now[0] += 2.5
    r = await b.call("POST", "/api/v1/session", right)
    assert r.status == 200  # never a lock


async def test_sign_in_is_rate_limited_per_address(weblab: WebLab) -> None:
    b = weblab.browser()
    await b.refresh()
    statuses = []
    for i in range(SIGNIN_ATTEMPTS + 2):
        r = await b.call("POST", "/api/v1/session", {"username": f"u{i}", "password": "x"})
        statuses.append(r.status)
    assert statuses[:SIGNIN_ATTEMPTS] == [401] * SIGNIN_ATTEMPTS
    assert statuses[SIGNIN_ATTEMPTS:] == [429, 429]
    r = await b.call("POST", "/api/v1/session", {"username": "ada", "password": PASSWORD})
    assert r.status == 429
    assert r.headers["Retry-After"]


async def test_state_changes_without_the_csrf_token_are_refused(weblab: WebLab) -> None:
    b = weblab.browser()
    await b.refresh()
    r = await b.call(
        "POST", "/api/v1/session", {"username": "ada", "password": PASSWORD}, csrf=False
    )
    assert (r.status, (await r.json())["error"]) == (403, "auth.csrf")
    await b.sign_in("ada")
    b.csrf = "forged"
    r = await b.call("DELETE", "/api/v1/session")
    assert r.status == 403
    assert (await b.refresh())["signed_in"] is True


async def test_html_forms_need_the_token_and_a_same_origin(weblab: WebLab) -> None:
    b = weblab.browser()
    await b.refresh()
    r = await b.http.post(
        weblab.base + "/signin",
        data={"username": "ada", "password": PASSWORD},
        allow_redirects=False,
    )
    assert r.status == 403
    r = await b.http.post(
        weblab.base + "/signin",
        data={"username": "ada", "password": PASSWORD, "csrf_token": b.csrf},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    assert r.status == 403
    r = await b.http.post(
        weblab.base + "/signin",
        data={"username": "ada", "password": PASSWORD, "csrf_token": b.csrf},
        allow_redirects=False,
    )
    assert r.status == 303
    assert r.headers["Location"] == "/admin"


async def test_pages_send_strict_security_headers(weblab: WebLab) -> None:
    b = weblab.browser()
    r = await b.call("GET", "/signin")
    assert r.status == 200
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"
    html = await r.text()
    assert "<script>" not in html and "onclick" not in html
    cookie = r.headers.getall("Set-Cookie")
    assert any("HttpOnly" in c and "SameSite=Strict" in c for c in cookie)


async def test_bad_requests_are_4xx_json_never_500(weblab: WebLab) -> None:
    b = weblab.browser()
    await b.refresh()
    r = await b.http.post(
        weblab.base + "/api/v1/session",
        data=b"{not json",
        headers={"Content-Type": "application/json", "X-CSRF-Token": b.csrf},
    )
    assert (r.status, (await r.json())["error"]) == (422, "request.invalid")
    r = await b.call("POST", "/api/v1/session", {"username": ""})
    body = await r.json()
    assert r.status == 422 and body["details"]["errors"]
    r = await b.call("GET", "/api/v1/nowhere")
    assert (r.status, (await r.json())["error"]) == (404, "route.unknown")
    r = await b.call("PATCH", "/api/v1/session", {})
    assert r.status == 405


async def test_pages_need_a_session_and_the_role(weblab: WebLab) -> None:
    anonymous = weblab.browser()
    r = await anonymous.call("GET", "/")
    assert (r.status, r.headers["Location"]) == (303, "/signin")
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    r = await anonymous.call("GET", "/api/v1/phones/switchboard")
    assert (r.status, (await r.json())["error"]) == (401, "auth.required")


async def test_language_choice_is_remembered(weblab: WebLab) -> None:
    b = weblab.browser()
    r = await b.call("GET", "/signin")
    assert "Se connecter" in await r.text()
    await b.refresh()
    await b.json("PUT", "/api/v1/session/language", {"language": "de"})
    r = await b.call("GET", "/signin")
    assert "Anmelden" in await r.text()
    r = await b.http.post(
        weblab.base + "/lang",
        data={"lang": "en", "csrf_token": b.csrf, "back": "/signin"},
        allow_redirects=False,
    )
    assert r.status == 303 and "wl_lang=en" in r.headers["Set-Cookie"]
    fresh = weblab.browser()
    fresh.http.cookie_jar.update_cookies({"wl_lang": "en"})
    assert "Sign in" in await (await fresh.call("GET", "/signin")).text()


async def test_switchboard_extension_must_be_a_switchboard_phone(weblab: WebLab) -> None:
    b = weblab.browser()
    await b.refresh()
    body = {"username": "opal", "password": PASSWORD, "extension": "2001"}
    r = await b.call("POST", "/api/v1/session", body)
    assert (r.status, (await r.json())["error"]) == (422, "signin.extension")
    phones = await (await weblab.signed_in("oscar")).json("GET", "/api/v1/phones/switchboard")
    assert phones["extensions"] == ["9000", "9001"]


async def test_a_person_gets_their_own_language_unless_they_chose_here(weblab: WebLab) -> None:
    oscar = await weblab.signed_in("oscar", "9001")
    assert "Waiting calls" in await (await oscar.call("GET", "/console")).text()
    chooser = weblab.browser()
    await chooser.refresh()
    await chooser.json("PUT", "/api/v1/session/language", {"language": "de"})
    await chooser.sign_in("oscar", "9001")
    assert "Wartende Anrufe" in await (await chooser.call("GET", "/console")).text()
