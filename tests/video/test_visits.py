"""Video visits over real HTTP against a real Janus and coturn: staff invite, the TV accepts
or declines on its live feed, participants join Janus with the token Wardline issued, guests
enter with their link and code and wait until admitted, the end destroys the room and the
tokens; every step is an audit row."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from tests.video import turn_client
from tests.video.gateways import join_as
from tests.video.lab import BED, TERMINAL, VideoLab
from tests.web.conftest import Browser
from video import janus_messages as jm
from video.component import VIDEO_SERVICE
from video.errors import GatewayError
from video.janus_client import JanusSession
from wardline import appkeys as k
from wardline.db.models import AuditEvent


async def refused(b: Browser, method: str, path: str, body: Any = None) -> tuple[int, str]:
    response = await b.call(method, path, body)
    assert response.status >= 400, await response.text()
    return response.status, (await response.json())["error"]


async def invite(b: Browser, **body: Any) -> dict[str, Any]:
    response = await b.call("POST", "/api/v1/visits", {"bed": BED, **body})
    assert response.status == 201, await response.text()
    return dict(await response.json())


def room_of(grant: dict[str, Any]) -> jm.RoomSpec:
    return jm.RoomSpec(grant["janus"]["room"], "", grant["janus"]["pin"], "")


async def janus_rooms(lab: VideoLab) -> list[int]:
    """Every room on Janus, private ones included (listed with the admin key)."""
    async with aiohttp.ClientSession() as http:
        c = lab.gateways.config
        session = JanusSession(http, lab.gateways.api_url, api_secret=c.api_secret)
        await session.open()
        try:
            listed = await session.request(jm.list_rooms(c.room_admin_key))
        finally:
            await session.close()
    return [int(r["room"]) for r in listed["list"]]


async def janus_tokens(lab: VideoLab) -> list[str]:
    gateway = lab.app[VIDEO_SERVICE].keeper.gateway
    assert gateway is not None
    return await gateway.tokens()


async def audit_actions(lab: VideoLab, visit_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    async with lab.app[k.DATABASE].sessions() as s:
        rows = await s.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_type == "video_visit")
            .where(AuditEvent.subject_id == str(visit_id))
            .order_by(AuditEvent.seq)
        )
        return [(r.action, r.actor, r.details) for r in rows]


async def next_of(ws: aiohttp.ClientWebSocketResponse, topic: str, kind: str) -> dict[str, Any]:
    while True:
        message = json.loads((await ws.receive(timeout=10)).data)
        if message.get("topic") == topic and message.get("type") == kind:
            return dict(message["data"])


async def test_a_whole_visit_from_invitation_to_back_on_the_tv(
    videolab: VideoLab, http: aiohttp.ClientSession
) -> None:
    lab = videolab
    nina, tv, guest = await lab.staff("nina"), await lab.terminal(), lab.browser()
    feed = await tv.http.ws_connect(lab.base.replace("http", "ws") + "/ws?topics=tv_visit")
    snapshot = json.loads((await feed.receive(timeout=10)).data)
    assert snapshot["data"]["tv_visit"] == {"visit": None}

    started = await invite(nina, staff=["clara"], guests=[{"label": "Daughter"}])
    visit_id = started["visit_id"]
    assert started["state"] == "invited" and len(started["guests"]) == 1
    code, link = started["guests"][0]["code"], started["guests"][0]["link"]
    assert len(code) == 6 and code.isdigit() and link.startswith("/visit/guest/")
    invited = await next_of(feed, "tv_visit", "VisitInvited")
    assert invited["visit_id"] == visit_id and invited["invited_by"] == "Nina Rossi"
    assert set(invited["others"]) == {"Nina Rossi", "Dr Clara Weiss", "Daughter"}
    assert (await tv.json("GET", "/api/v1/tv/visit"))["visit"]["state"] == "invited"

    # nothing starts before the patient accepts: no room, no credentials
    assert await refused(nina, "POST", f"/api/v1/visits/{visit_id}/join") == (
        409,
        "video.not_accepted",
    )
    assert await janus_rooms(lab) == []

    accepted = await tv.json("POST", f"/api/v1/tv/visits/{visit_id}/accept")
    assert accepted["state"] == "live"
    assert len(await janus_rooms(lab)) == 1

    staff_grant = await nina.json("POST", f"/api/v1/visits/{visit_id}/join")
    assert staff_grant["janus"]["url"] == lab.gateways.ws_url
    joined = await join_as(
        http,
        lab.gateways,
        staff_grant["janus"]["token"],
        room_of(staff_grant),
        feed_id=staff_grant["janus"]["feed_id"],
    )
    assert joined["videoroom"] == "joined" and joined["room"] == staff_grant["janus"]["room"]
    ice = staff_grant["ice_servers"][0]
    allocation = await turn_client.allocate(
        "127.0.0.1", lab.gateways.config.turn_port, ice["username"], ice["credential"]
    )
    assert allocation.kind == turn_client.ALLOCATE_OK, allocation.error

    # the guest: link, a wrong code, the right one, the waiting room, admission
    token = link.removeprefix("/visit/guest/")
    await guest.refresh()
    assert (await guest.json("GET", f"/api/v1/visit-guests/{token}"))["label"] == "Daughter"
    wrong = "000000" if code != "000000" else "111111"
    status, error = await refused(
        guest, "POST", "/api/v1/visit-guests/enter", {"link": token, "code": wrong}
    )
    assert (status, error) == (403, "video.code_wrong")
    desk = await nina.http.ws_connect(lab.base.replace("http", "ws") + "/ws?topics=visits")
    snap = json.loads((await desk.receive(timeout=10)).data)["data"]["visits"]["visits"]
    assert [v["visit_id"] for v in snap] == [visit_id]
    entered = await guest.json("POST", "/api/v1/visit-guests/enter", {"link": token, "code": code})
    guest.csrf = entered["csrf_token"]
    waiting_event = await next_of(desk, "visits", "VisitGuestWaiting")
    assert waiting_event["name"] == "Daughter" and waiting_event["kind"] == "guest"
    door = await guest.http.ws_connect(lab.base.replace("http", "ws") + "/ws?topics=visit_guest")
    assert json.loads((await door.receive(timeout=10)).data)["topic"] == "snapshot"
    assert entered["state"] == "waiting" and entered["visit_id"] == visit_id
    assert await refused(guest, "POST", f"/api/v1/visits/{visit_id}/join") == (
        409,
        "video.not_admitted",
    )
    waiting = await nina.json("GET", f"/api/v1/visits/{visit_id}")
    guest_row = next(p for p in waiting["participants"] if p["kind"] == "guest")
    assert guest_row["state"] == "waiting"
    admitted = await nina.json(
        "POST", f"/api/v1/visits/{visit_id}/guests/{guest_row['guest_id']}/admit"
    )
    assert any(p["state"] == "admitted" for p in admitted["participants"])
    assert (await guest.json("GET", "/api/v1/visit-guests/me"))["state"] == "admitted"
    let_in = await next_of(door, "visit_guest", "VisitGuestAdmitted")
    assert let_in["participant_id"] == guest_row["guest_id"]
    guest_grant = await guest.json("POST", f"/api/v1/visits/{visit_id}/join")
    assert guest_grant["janus"]["room"] == staff_grant["janus"]["room"]
    assert guest_grant["janus"]["token"] != staff_grant["janus"]["token"]
    joined = await join_as(
        http,
        lab.gateways,
        guest_grant["janus"]["token"],
        room_of(guest_grant),
        feed_id=guest_grant["janus"]["feed_id"],
    )
    assert joined["videoroom"] == "joined"
    assert len(await janus_tokens(lab)) == 2

    # Back on the TV: the visit ends for everyone; the room and the tokens are gone
    response = await tv.call("POST", f"/api/v1/tv/visits/{visit_id}/leave")
    assert response.status == 204
    ended = await next_of(feed, "tv_visit", "VisitEnded")
    assert ended == {"visit_id": visit_id, "bed": BED, "ward_code": "CARDIO", "reason": "patient"}
    assert await janus_rooms(lab) == [] and await janus_tokens(lab) == []
    assert await refused(nina, "POST", f"/api/v1/visits/{visit_id}/join") == (409, "video.ended")
    with pytest.raises(GatewayError):  # the staff's token is gone: Janus refuses it
        await JanusSession(http, lab.gateways.api_url, token=staff_grant["janus"]["token"]).open()
    listed = await nina.json("GET", "/api/v1/visits?ward=CARDIO")
    [row] = [v for v in listed["visits"] if v["visit_id"] == visit_id]
    assert row["state"] == "ended" and row["end_reason"] == "patient"
    assert row["duration_seconds"] is not None and row["accepted_at"] is not None
    assert row["invited_at"].endswith("+01:00")  # the ward's zone (Paris, winter)
    assert (await next_of(door, "visit_guest", "VisitEnded"))["reason"] == "patient"
    await feed.close()
    await desk.close()
    await door.close()

    actions = await audit_actions(lab, visit_id)
    assert [a for a, _, _ in actions] == [
        "video.invited",
        "video.accepted",
        "video.joined",
        "video.code_refused",
        "video.guest_entered",
        "video.admitted",
        "video.joined",
        "video.ended",
    ]
    actors = [actor for _, actor, _ in actions]
    assert actors[0] == "nina" and actors[1] == f"tv:{TERMINAL}" and actors[5] == "nina"
    assert actions[-1][2]["reason"] == "patient" and actions[-1][2]["participants"] == 2
    assert "Daughter" not in json.dumps(actions) and code not in json.dumps(actions)
