"""The TV's session on the server-side store: it outlives the staff expiries (a TV is left on
for days) and ends when the terminal's credential is issued again."""

from __future__ import annotations

from kiosk_ui.terminal_auth import issue_credential
from tests.tv.conftest import TERMINAL, TvLab
from wardline import appkeys as k


async def test_a_tv_session_lasts_and_ends_with_its_credential(tvlab: TvLab) -> None:
    tv = await tvlab.terminal()
    assert (await tv.call("GET", "/api/v1/tv/context")).status == 200
    tvlab.clock.advance(hours=13)  # past the staff sessions' idle and absolute expiry
    assert (await tv.call("GET", "/api/v1/tv/context")).status == 200
    await issue_credential(tvlab.app[k.DATABASE], TERMINAL)
    r = await tv.call("GET", "/api/v1/tv/context")
    assert (r.status, (await r.json())["error"]) == (401, "auth.required")
