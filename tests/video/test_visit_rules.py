"""The rules around a visit, against the real Janus: a refusal starts nothing, guest links and
codes are one-time, expiring and throttled, roles and wards are enforced, four participants at
most, staff end a visit (room and tokens gone), an unanswered invitation ends by itself."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.video.lab import BED, OTHER_BED, VideoLab
from tests.video.test_visits import audit_actions, invite, janus_rooms, janus_tokens, refused
from video.component import VIDEO_SERVICE


async def test_a_declined_invitation_starts_nothing(videolab: VideoLab) -> None:
    nina, tv = await videolab.staff("nina"), await videolab.terminal()
    visit_id = (await invite(nina, guests=[{"label": "Son"}]))["visit_id"]
    response = await tv.call("POST", f"/api/v1/tv/visits/{visit_id}/decline")
    assert response.status == 204
    assert await janus_rooms(videolab) == [] and await janus_tokens(videolab) == []
    assert await refused(nina, "POST", f"/api/v1/visits/{visit_id}/join") == (409, "video.ended")
    assert await refused(tv, "POST", f"/api/v1/tv/visits/{visit_id}/accept") == (409, "video.ended")
    view = await nina.json("GET", f"/api/v1/visits/{visit_id}")
    assert view["state"] == "declined" and view["accepted_at"] is None
    assert view["duration_seconds"] is None
    assert [a for a, _, _ in await audit_actions(videolab, visit_id)] == [
        "video.invited",
        "video.declined",
    ]
    again = await invite(nina)  # the bed is free for another invitation
    assert again["visit_id"] != visit_id


async def test_guest_links_are_one_time_expiring_and_their_codes_throttled(
    videolab: VideoLab,
) -> None:
    nina, tv = await videolab.staff("nina"), await videolab.terminal()
    started = await invite(nina, guests=[{"label": "Son"}, {"label": "Interpreter"}])
    visit_id = started["visit_id"]
    await tv.json("POST", f"/api/v1/tv/visits/{visit_id}/accept")
    son, interpreter = started["guests"]
    son_link = son["link"].removeprefix("/visit/guest/")
    interp_link = interpreter["link"].removeprefix("/visit/guest/")
    stranger = videolab.browser()
    await stranger.refresh()
    for link in (
        "x" * 43,
        "not a link!",
        interp_link[:-1] + ("A" if interp_link[-1] != "A" else "B"),
    ):
        assert await refused(stranger, "GET", f"/api/v1/visit-guests/{link}") == (
            404,
            "video.link_invalid",
        )
    # a code belongs to its own link: the son's code does not open the interpreter's link
    if son["code"] != interpreter["code"]:
        assert await refused(
            stranger,
            "POST",
            "/api/v1/visit-guests/enter",
            {"link": interp_link, "code": son["code"]},
        ) == (403, "video.code_wrong")

    entered = await stranger.json(
        "POST", "/api/v1/visit-guests/enter", {"link": son_link, "code": son["code"]}
    )
    stranger.csrf = entered["csrf_token"]
    other = videolab.browser()
    await other.refresh()
    assert await refused(
        other, "POST", "/api/v1/visit-guests/enter", {"link": son_link, "code": son["code"]}
    ) == (404, "video.link_invalid")
    # a guest's session opens nothing but their own visit
    assert await refused(stranger, "GET", f"/api/v1/visits/{visit_id}") == (403, "auth.role")
    assert await refused(stranger, "POST", f"/api/v1/visits/{visit_id + 1}/join") == (
        404,
        "video.visit_unknown",
    )

    wrong = "999999" if interpreter["code"] != "999999" else "888888"
    answers = []
    for _ in range(6):  # five wrong codes in all (the son's one counted), then refused
        response = await other.call(
            "POST", "/api/v1/visit-guests/enter", {"link": interp_link, "code": wrong}
        )
        answers.append((response.status, (await response.json())["error"]))
    assert answers.count((429, "video.code_throttled")) >= 2
    assert set(answers) == {(403, "video.code_wrong"), (429, "video.code_throttled")}
    assert await refused(
        other,
        "POST",
        "/api/v1/visit-guests/enter",
        {"link": interp_link, "code": interpreter["code"]},
    ) == (429, "video.code_throttled")


async def test_an_expired_link_is_refused(videolab: VideoLab) -> None:
    nina = await videolab.staff("nina")
    started = await invite(nina, guests=[{"label": "Son"}])
    son = started["guests"][0]
    link = son["link"].removeprefix("/visit/guest/")
    guest = videolab.browser()
    await guest.refresh()
    videolab.clock.advance(minutes=121)
    await guest.refresh()  # a new session: the old one went idle meanwhile
    assert await refused(guest, "GET", f"/api/v1/visit-guests/{link}") == (
        404,
        "video.link_invalid",
    )
    assert await refused(
        guest, "POST", "/api/v1/visit-guests/enter", {"link": link, "code": son["code"]}
    ) == (404, "video.link_invalid")


async def test_roles_wards_and_limits(videolab: VideoLab) -> None:
    nina, clara = await videolab.staff("nina"), await videolab.staff("clara")
    paul, opal = await videolab.staff("paul"), await videolab.staff("opal")
    assert await refused(opal, "POST", "/api/v1/visits", {"bed": BED}) == (403, "auth.role")
    assert await refused(paul, "POST", "/api/v1/visits", {"bed": BED}) == (404, "video.bed_unknown")
    assert await refused(nina, "POST", "/api/v1/visits", {"bed": OTHER_BED}) == (
        409,
        "video.bed_empty",
    )
    assert await refused(nina, "POST", "/api/v1/visits", {"bed": BED, "staff": ["opal"]}) == (
        422,
        "video.staff_unknown",
    )
    too_many: dict[str, Any] = {
        "bed": BED,
        "staff": ["clara"],
        "guests": [{"label": "A"}, {"label": "B"}],
    }
    assert await refused(nina, "POST", "/api/v1/visits", too_many) == (422, "video.too_many")
    assert await refused(
        nina, "POST", "/api/v1/visits", {"bed": BED, "guests": [{"label": " "}]}
    ) == (422, "video.bad_request")
    assert await janus_rooms(videolab) == []

    visit_id = (await invite(clara, staff=["nina"]))["visit_id"]  # a clinician of no ward
    assert await refused(nina, "POST", "/api/v1/visits", {"bed": BED}) == (409, "video.bed_busy")
    assert await refused(paul, "GET", f"/api/v1/visits/{visit_id}") == (404, "video.visit_unknown")
    assert await refused(paul, "POST", f"/api/v1/visits/{visit_id}/end") == (
        404,
        "video.visit_unknown",
    )
    assert [v["visit_id"] for v in (await paul.json("GET", "/api/v1/visits"))["visits"]] == []
    assert [v["visit_id"] for v in (await nina.json("GET", "/api/v1/visits"))["visits"]] == [
        visit_id
    ]
    tv = await videolab.terminal()
    await tv.json("POST", f"/api/v1/tv/visits/{visit_id}/accept")
    assert await refused(tv, "POST", f"/api/v1/tv/visits/{visit_id}/accept") == (
        409,
        "video.wrong_state",
    )
    ended = await nina.json("POST", f"/api/v1/visits/{visit_id}/end")
    assert ended["state"] == "ended" and ended["end_reason"] == "staff"
    assert await refused(nina, "POST", f"/api/v1/visits/{visit_id}/end") == (409, "video.ended")


async def test_staff_leave_and_end_remove_tokens_and_room(
    videolab: VideoLab, http: aiohttp.ClientSession
) -> None:
    nina, clara, tv = (
        await videolab.staff("nina"),
        await videolab.staff("clara"),
        await videolab.terminal(),
    )
    visit_id = (await invite(nina, staff=["clara"]))["visit_id"]
    await tv.json("POST", f"/api/v1/tv/visits/{visit_id}/accept")
    first = await clara.json("POST", f"/api/v1/visits/{visit_id}/join")
    second = await clara.json("POST", f"/api/v1/visits/{visit_id}/join")  # a reload
    await nina.json("POST", f"/api/v1/visits/{visit_id}/join")
    tokens = await janus_tokens(videolab)
    assert first["janus"]["token"] not in tokens and second["janus"]["token"] in tokens
    assert len(tokens) == 2
    response = await clara.call("POST", f"/api/v1/visits/{visit_id}/leave")
    assert response.status == 204
    assert second["janus"]["token"] not in await janus_tokens(videolab)
    assert len(await janus_rooms(videolab)) == 1
    await nina.json("POST", f"/api/v1/visits/{visit_id}/end")
    assert await janus_rooms(videolab) == [] and await janus_tokens(videolab) == []
    actions = [a for a, _, _ in await audit_actions(videolab, visit_id)]
    assert actions == [
        "video.invited",
        "video.accepted",
        "video.joined",
        "video.joined",
        "video.joined",
        "video.left",
        "video.ended",
    ]


async def test_an_unanswered_invitation_ends_by_itself(videolab: VideoLab) -> None:
    nina, tv = await videolab.staff("nina"), await videolab.terminal()
    visit_id = (await invite(nina))["visit_id"]
    videolab.clock.advance(minutes=6)
    assert await refused(tv, "POST", f"/api/v1/tv/visits/{visit_id}/accept") == (409, "video.ended")
    view = await nina.json("GET", f"/api/v1/visits/{visit_id}")
    assert view["state"] == "ended" and view["end_reason"] == "no_answer"
    other = (await invite(nina))["visit_id"]
    videolab.clock.advance(minutes=6)
    done = await videolab.app[VIDEO_SERVICE].sweep()
    assert done["unanswered"] == 1
    assert (await nina.json("GET", f"/api/v1/visits/{other}"))["end_reason"] == "no_answer"
    assert await janus_rooms(videolab) == []
