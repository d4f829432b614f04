"""Wardline's hands on a real Janus (VideoRoom, token_auth, admin API) and a real coturn (REST
API credentials), both started from the generated configuration on 127.0.0.1."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from tests.video import turn_client
from tests.video.gateways import Gateways, join_as
from video import janus_messages as jm
from video.errors import GatewayError
from video.janus_client import JanusGateway, JanusSession
from video.turn import turn_credential


def spec(room: int = 4_711_823) -> jm.RoomSpec:
    return jm.RoomSpec(room, "room-secret-0123456789", "pin-0123456789", "visit 1")


async def test_a_room_is_private_with_pin_and_secret_and_only_wardline_creates_it(
    janus: JanusGateway, gateways: Gateways, http: aiohttp.ClientSession
) -> None:
    room = spec()
    token = "participant-token-000000000001"
    await janus.add_token(token)
    await janus.create_room(room, [token])
    assert await janus.room_exists(room.room)

    joined = await join_as(http, gateways, token, room)
    assert joined["videoroom"] == "joined" and joined["room"] == room.room
    wrong_pin = await join_as(http, gateways, token, room, pin="not-the-pin")
    assert wrong_pin["error_code"] == jm.VIDEOROOM_UNAUTHORIZED

    participant = JanusSession(http, gateways.api_url, token=token)
    await participant.open()
    try:  # the participant's token lists no room and creates none
        assert (await participant.request(jm.list_rooms()))["list"] == []
        with pytest.raises(GatewayError) as refused:
            await participant.request(jm.create_room(spec(99), None))
        assert refused.value.details["code"] != 0
        with pytest.raises(GatewayError):
            await participant.request(jm.create_room(spec(98), "a guessed admin key"))
        with pytest.raises(GatewayError):  # nor destroys it without the room's secret
            await participant.request(jm.destroy_room(room.room, "guessed"))
    finally:
        await participant.close()
    assert await janus.room_exists(room.room)
    assert not await janus.room_exists(98) and not await janus.room_exists(99)


async def test_without_a_token_or_with_a_removed_one_janus_refuses(
    janus: JanusGateway, gateways: Gateways, http: aiohttp.ClientSession
) -> None:
    room = spec()
    await janus.create_room(room, [])
    stranger = JanusSession(http, gateways.api_url, token="never-added-token-0000000000")
    with pytest.raises(GatewayError) as refused:
        await stranger.open()
    assert refused.value.details["code"] == jm.UNAUTHORIZED
    anonymous = JanusSession(http, gateways.api_url)
    with pytest.raises(GatewayError):
        await anonymous.open()

    token = "participant-token-000000000002"
    await janus.add_token(token)  # known to Janus but not allowed in this room
    refused_room = await join_as(http, gateways, token, room)
    assert refused_room["error_code"] == jm.VIDEOROOM_UNAUTHORIZED
    await janus.allow(room.room, room.secret, "add", [token])
    assert (await join_as(http, gateways, token, room))["videoroom"] == "joined"

    session = JanusSession(http, gateways.api_url, token=token)
    await session.open()
    await janus.remove_token(token)
    assert token not in await janus.tokens()
    answer = await session.send(jm.list_rooms())
    assert answer["janus"] == "error" and answer["error"]["code"] == jm.UNAUTHORIZED
    with pytest.raises(GatewayError):
        await JanusSession(http, gateways.api_url, token=token).open()


async def test_destroying_the_room_and_kicking_are_idempotent(janus: JanusGateway) -> None:
    room = spec()
    await janus.create_room(room, [])
    await janus.kick(room.room, room.secret, 12345)  # nobody with that feed: nothing to do
    await janus.destroy_room(room.room, room.secret)
    assert not await janus.room_exists(room.room)
    await janus.destroy_room(room.room, room.secret)  # a room already gone is not an error
    await janus.allow(room.room, room.secret, "remove", ["gone"])


async def test_an_unreachable_janus_is_a_gateway_error(http: aiohttp.ClientSession) -> None:
    from tests.video.gateways import free_port
    from video.janus_client import JanusAddress

    port = free_port()
    dead = JanusGateway(
        http,
        JanusAddress(
            f"http://127.0.0.1:{port}/janus",
            f"http://127.0.0.1:{port}/admin",
            "s" * 20,
            "a" * 20,
            "k" * 20,
            timeout=2.0,
        ),
    )
    with pytest.raises(GatewayError) as down:
        await dead.create_room(spec(), [])
    assert down.value.error_id == "video.gateway_unreachable"


async def test_coturn_accepts_wardlines_credentials_and_refuses_expired_or_forged_ones(
    gateways: Gateways,
) -> None:
    c = gateways.config
    urls = tuple(gateways.turn_urls)
    fresh = turn_credential(c.turn_secret, urls, "v1p2", datetime.now(UTC) + timedelta(minutes=5))
    answer = await _allocate(gateways, fresh.username, fresh.credential)
    assert answer.kind == turn_client.ALLOCATE_OK, answer.error
    assert answer.relayed() is not None and answer.relayed()[0] == "127.0.0.1"  # type: ignore[index]

    expired = turn_credential(c.turn_secret, urls, "v1p3", datetime.now(UTC) - timedelta(seconds=5))
    assert (await _allocate(gateways, expired.username, expired.credential)).error == 401
    forged = turn_credential(
        "another secret 0123456789", urls, "v1p4", datetime.now(UTC) + timedelta(minutes=5)
    )
    assert (await _allocate(gateways, forged.username, forged.credential)).error == 401


async def _allocate(g: Gateways, username: str, password: str) -> turn_client.Answer:
    deadline = time.monotonic() + 10
    while True:  # coturn starts after Janus: wait for its first answer
        try:
            return await turn_client.allocate("127.0.0.1", g.config.turn_port, username, password)
        except (TimeoutError, ConnectionRefusedError):
            if time.monotonic() > deadline:
                raise
