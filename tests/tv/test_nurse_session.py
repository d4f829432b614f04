"""The nurse's session at the bed is the server's: it ends on the server when she leaves (sign
out, Back, Home, idle, the next badge) and whenever the patient's side of the TV is used, and a
copy of the TV's cookie taken while she was signed in is worth nothing afterwards."""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import func, select
from yarl import URL

from kiosk_ui.component import SESSION_COOKIE
from kiosk_ui.models import BedsideNurseSession
from tests import conftest as root
from tests.tv.conftest import BADGE, PIN, TvLab
from tests.web.conftest import Browser
from wardline import appkeys as k
from wardline.db.models import AuditEvent

# The nurse's session is rows and locks (DELETE ... RETURNING, SELECT ... FOR UPDATE): these
# tests run on both engines, unlike the rest of the TV's (the root conftest's database).
db = root.db


async def signed_in(lab: TvLab) -> Browser:
    tv = await lab.terminal()
    await tv.json("POST", "/api/v1/tv/nurse/signin", {"badge": BADGE, "pin": PIN})
    assert (await tv.call("GET", "/api/v1/tv/nurse/record")).status == 200
    return tv


def cookie_of(b: Browser) -> str:
    morsel = b.http.cookie_jar.filter_cookies(URL(b.base)).get(SESSION_COOKIE)
    assert morsel is not None
    return morsel.value


async def replay(lab: TvLab, cookie: str, csrf: str) -> int:
    """The record asked for with a copy of the TV's cookie, from another client."""
    async with aiohttp.ClientSession() as http:
        response = await http.get(
            lab.base + "/api/v1/tv/nurse/record",
            headers={"Cookie": f"{SESSION_COOKIE}={cookie}", "X-CSRF-Token": csrf},
        )
        return response.status


async def sessions(lab: TvLab) -> int:
    async with lab.app[k.DATABASE].sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(BedsideNurseSession)) or 0)


async def signouts(lab: TvLab) -> list[dict[str, object]]:
    async with lab.app[k.DATABASE].sessions() as s:
        rows = await s.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.like("bedside.nurse_%signout"))
            .order_by(AuditEvent.seq)
        )
        return [dict(r.details or {}) for r in rows]


@pytest.mark.parametrize("by", ["back", "home", "signout", "idle"])
async def test_leaving_ends_the_session_on_the_server_for_every_copy_of_the_cookie(
    tvlab: TvLab, by: str
) -> None:
    tv = await signed_in(tvlab)
    copy = cookie_of(tv)
    assert await replay(tvlab, copy, tv.csrf) == 200  # the copy works while she is there
    assert (await tv.call("POST", "/api/v1/tv/nurse/signout", {"by": by})).status == 204
    assert await sessions(tvlab) == 0
    assert (await tv.call("GET", "/api/v1/tv/nurse/record")).status == 403
    assert await replay(tvlab, copy, tv.csrf) == 403
    assert await signouts(tvlab) == [{"by": by}]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/tv/context", None),
        ("GET", "/api/v1/tv/calls", None),
        ("GET", "/api/v1/tv/meals", None),
        ("POST", "/api/v1/tv/survey", {"answers": {"care": 4}}),
        ("POST", "/api/v1/tv/nurse-call", None),
        ("POST", "/api/v1/tv/language", {"lang": "en"}),
        ("GET", "/tv", None),
    ],
)
async def test_the_patients_side_of_the_tv_signs_the_nurse_out(
    tvlab: TvLab, method: str, path: str, body: object
) -> None:
    tv = await signed_in(tvlab)
    copy = cookie_of(tv)
    response = await tv.call(method, path, body)
    assert response.status < 400 or path == "/api/v1/tv/nurse-call", response.status
    assert await sessions(tvlab) == 0
    assert (await tv.call("GET", "/api/v1/tv/nurse/record")).status == 403
    assert await replay(tvlab, copy, tv.csrf) == 403
    assert await signouts(tvlab) == [{"by": "page" if path == "/tv" else "patient"}]


async def test_input_keeps_her_signed_in_and_silence_signs_her_out(tvlab: TvLab) -> None:
    idle = tvlab.app[k.SETTINGS].nurse_idle_signout_seconds
    tv = await signed_in(tvlab)
    for _ in range(3):  # keys pressed now and then: never idle for the whole time
        tvlab.clock.advance(seconds=idle * 0.75)
        assert (await tv.call("POST", "/api/v1/tv/nurse/presence")).status == 204
    assert (await tv.call("GET", "/api/v1/tv/nurse/record")).status == 200
    tvlab.clock.advance(seconds=idle + 1)
    refused = await tv.call("POST", "/api/v1/tv/nurse/presence")
    assert refused.status == 403
    assert (await refused.json())["details"] == {"reason": "idle"}
    assert await sessions(tvlab) == 0 and await signouts(tvlab) == [{"by": "idle"}]


async def test_another_session_of_the_same_terminal_never_borrows_her_session(
    tvlab: TvLab,
) -> None:
    await signed_in(tvlab)
    other = await tvlab.terminal()  # the same terminal enrolled again elsewhere
    assert (await other.call("GET", "/api/v1/tv/nurse/record")).status == 403
    assert await sessions(tvlab) == 1  # hers is untouched by the refusal


async def test_a_wrong_pin_after_a_nurse_leaves_no_one_signed_in(tvlab: TvLab) -> None:
    tv = await signed_in(tvlab)
    wrong = await tv.call("POST", "/api/v1/tv/nurse/signin", {"badge": BADGE, "pin": "0000"})
    assert wrong.status == 401 and (await wrong.json())["error"] == "auth.failed"
    assert await sessions(tvlab) == 0
    assert (await tv.call("GET", "/api/v1/tv/nurse/record")).status == 403
    assert await signouts(tvlab) == [{"by": "next_badge"}]
