"""A visit survives what happens around it: a Janus that restarts forgets rooms and tokens,
and Wardline creates them again from its database; a Janus that is down when a visit ends
does not keep the visit open, and the sweeper destroys the room once Janus is back; a patient
who leaves the bed ends the visit; the relay-only policy reaches the browsers."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from ehr_bridge.adt_message import parse_adt
from tests.conftest import Hospital
from tests.ehr_bridge.messages import adt
from tests.video.gateways import Gateways, join_as
from tests.video.lab import Serve, VideoLab, open_video_lab
from tests.video.test_visits import invite, janus_rooms, janus_tokens, refused, room_of
from video.component import VIDEO_SERVICE
from wardline import appkeys as k
from wardline.domain.commands import SYSTEM_ADMIN_CLI


async def live_visit(lab: VideoLab) -> tuple[int, dict[str, Any]]:
    nina, tv = await lab.staff("nina"), await lab.terminal()
    visit_id = (await invite(nina))["visit_id"]
    await tv.json("POST", f"/api/v1/tv/visits/{visit_id}/accept")
    return visit_id, await nina.json("POST", f"/api/v1/visits/{visit_id}/join")


async def test_a_restarted_janus_gets_the_live_rooms_and_tokens_again(
    videolab: VideoLab, http: aiohttp.ClientSession
) -> None:
    _visit_id, grant = await live_visit(videolab)
    await videolab.gateways.restart_janus()
    assert await janus_rooms(videolab) == [] and await janus_tokens(videolab) == []
    service = videolab.app[VIDEO_SERVICE]
    assert await service.reconcile() == 1
    assert await janus_rooms(videolab) == [grant["janus"]["room"]]
    assert await janus_tokens(videolab) == [grant["janus"]["token"]]
    joined = await join_as(http, videolab.gateways, grant["janus"]["token"], room_of(grant))
    assert joined["videoroom"] == "joined"
    assert await service.reconcile() == 0  # nothing to do twice


async def test_the_running_sweeper_rebuilds_what_janus_forgot(
    hospital: Hospital, tmp_path: Any, gateways: Gateways, serve_app: Serve
) -> None:
    lab = await open_video_lab(hospital, tmp_path, gateways, serve_app, video_sweep_seconds=0.2)
    try:
        _, grant = await live_visit(lab)
        await gateways.restart_janus()
        for _ in range(200):  # the sweeper's next rounds, however slow the machine
            if await janus_rooms(lab) == [grant["janus"]["room"]]:
                break
            await asyncio.sleep(0.1)
        assert await janus_rooms(lab) == [grant["janus"]["room"]]
        assert await janus_tokens(lab) == [grant["janus"]["token"]]
    finally:
        await lab.close()


async def test_an_end_while_janus_is_down_is_cleaned_up_when_it_is_back(
    videolab: VideoLab,
) -> None:
    visit_id, _grant = await live_visit(videolab)
    nina = videolab.browsers[0]
    videolab.gateways.janus.terminate()
    videolab.gateways.janus.wait()
    ready = await nina.http.get(videolab.base + "/readyz")
    video = (await ready.json())["checks"]["video"]
    assert ready.status == 200 and video["state"] == "degraded"  # the wards go on without it
    assert await refused(nina, "POST", "/api/v1/visits", {"bed": "CARDIO-101-A"}) == (
        409,
        "video.bed_busy",
    )
    ended = await nina.json("POST", f"/api/v1/visits/{visit_id}/end")
    assert ended["state"] == "ended"  # the visit is over for everyone, Janus or not
    await videolab.gateways.restart_janus()
    service = videolab.app[VIDEO_SERVICE]
    await service.reconcile()  # ended visits are not brought back
    assert await janus_rooms(videolab) == []
    assert (await service.sweep())["cleaned"] == 1
    assert (await service.sweep())["cleaned"] == 0


async def test_a_patient_leaving_the_bed_ends_the_visit(videolab: VideoLab) -> None:
    visit_id, _ = await live_visit(videolab)
    await videolab.app[k.STAYS].apply(parse_adt(adt("A03", "C2")).command, SYSTEM_ADMIN_CLI)
    await videolab.app[k.BUS].drain()
    nina = videolab.browsers[0]
    view = await nina.json("GET", f"/api/v1/visits/{visit_id}")
    assert view["state"] == "ended" and view["end_reason"] == "discharged"
    assert await janus_rooms(videolab) == []
    assert await refused(nina, "POST", "/api/v1/visits", {"bed": view["bed"]}) == (
        409,
        "video.bed_empty",
    )


@pytest.mark.parametrize("relay_only", [True])
async def test_relay_only_reaches_the_browsers(
    hospital: Hospital, tmp_path: Any, gateways: Gateways, serve_app: Serve, relay_only: bool
) -> None:
    lab = await open_video_lab(hospital, tmp_path, gateways, serve_app, video_relay_only=relay_only)
    try:
        _, grant = await live_visit(lab)
        assert grant["ice_transport_policy"] == "relay"
        assert grant["ice_servers"][0]["urls"] == gateways.turn_urls
    finally:
        await lab.close()


async def test_accepting_while_janus_is_down_changes_nothing(videolab: VideoLab) -> None:
    nina, tv = await videolab.staff("nina"), await videolab.terminal()
    visit_id = (await invite(nina))["visit_id"]
    videolab.gateways.janus.terminate()
    videolab.gateways.janus.wait()
    assert await refused(tv, "POST", f"/api/v1/tv/visits/{visit_id}/accept") == (
        503,
        "video.gateway_unreachable",
    )
    assert (await nina.json("GET", f"/api/v1/visits/{visit_id}"))["state"] == "invited"
    await videolab.gateways.restart_janus()
    assert (await tv.json("POST", f"/api/v1/tv/visits/{visit_id}/accept"))["state"] == "live"
    assert len(await janus_rooms(videolab)) == 1
