"""The service's MQTT link against real Mosquitto brokers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiomqtt
import pytest

from bedside.errors import BedsideError, BrokerUnavailable
from bedside.mqtt_link import BrokerAddress, MqttLink, parse_mqtt_url
from bedside.topics import Topics
from tests.bedside.conftest import PrivateBroker, free_port, retained
from tests.services import wait_until


def test_parse_mqtt_url() -> None:
    plain = parse_mqtt_url("mqtt://svc:p%40ss@broker.local:1884")
    assert plain == BrokerAddress("broker.local", 1884, "svc", "p@ss", False)
    secure = parse_mqtt_url("mqtts://broker.local")
    assert (secure.port, secure.tls, secure.username) == (8883, True, None)
    for bad in ("http://x", "mqtt://", "mqtt://h:99999"):
        with pytest.raises(BedsideError):
            parse_mqtt_url(bad)


async def test_retained_publish_and_erase(shared_broker: tuple[str, int], topics: Topics) -> None:
    host, port = shared_broker
    link = MqttLink(BrokerAddress(host, port), client_id=f"svc-{topics.root}")
    await link.start()
    try:
        await link.wait_connected()
        topic = topics.context("T-1")
        await link.publish(topic, b'{"v":1}', retain=True)
        assert await retained(host, port, f"{topics.root}/#") == {topic: b'{"v":1}'}
        await link.publish(topic, b"", retain=True)
        assert await retained(host, port, f"{topics.root}/#") == {}
        assert link.health()["state"] == "up"
    finally:
        await link.stop()


async def test_many_publishes_bounded_window(
    shared_broker: tuple[str, int], topics: Topics
) -> None:
    host, port = shared_broker
    link = MqttLink(BrokerAddress(host, port), client_id=f"svc-{topics.root}", window=64)
    await link.start()
    try:
        await link.wait_connected()
        batch = [(topics.notify(f"T-{i}"), b"x", False) for i in range(3000)]
        other = [(topics.notify(f"U-{i}"), b"y", False) for i in range(500)]
        # Two callers share the one window; both finish, nothing is left in flight.
        await asyncio.wait_for(
            asyncio.gather(link.publish_many(batch), link.publish_many(other)), 30
        )
        assert link.health()["in_flight"] == 0
    finally:
        await link.stop()


async def test_publish_fails_cleanly_without_broker() -> None:
    port = free_port()
    link = MqttLink(
        BrokerAddress("127.0.0.1", port),
        client_id="svc-nobroker",
        publish_timeout=0.5,
        backoff=(0.05, 0.1),
    )
    await link.start()
    try:
        with pytest.raises(BrokerUnavailable):
            await link.publish("wltest/x", b"1", retain=True)
        assert link.health()["state"] == "down"
    finally:
        await link.stop()


async def test_broker_restart_renews_subscriptions_and_tells_the_owner(
    broker_factory: Callable[[list[str]], PrivateBroker],
) -> None:
    """After a restart the subscriptions are renewed and ``when_connected`` is told of each
    connection (the owner rebuilds the retained state: the link keeps no stale copy)."""
    broker = broker_factory(["T-7"])
    await broker.wait_ready()
    creds = broker.credentials
    topics = Topics()
    received: list[tuple[str, bytes]] = []
    connections: list[int] = []

    def on_message(topic: str, payload: bytes, retained_flag: bool) -> None:
        received.append((topic, payload))
        if payload == b"boom":
            raise ValueError("a bug in the intake")

    link = MqttLink(
        BrokerAddress("127.0.0.1", broker.port, creds.service_user, creds.service_password),
        client_id=creds.service_user,
        subscriptions=[topics.all_from_terminals("event")],
        on_message=on_message,
        backoff=(0.05, 0.3),
    )
    link.when_connected(connections.append)
    await link.start()
    try:
        await link.wait_connected()
        assert connections == [1]
        await link.publish(topics.context("T-7"), b'{"v":1,"n":1}', retain=True)
        broker.stop()  # persistence off: the broker forgets everything
        await wait_until(lambda: link.health()["state"] == "down")
        broker.start()
        await broker.wait_ready()
        await wait_until(lambda: connections == [1, 2] and link.state == "up", timeout=10)
        terminal = {"username": "T-7", "password": creds.terminals["T-7"]}
        seen = await retained("127.0.0.1", broker.port, f"{topics.root}/terminal/T-7/#",
                              **terminal)  # fmt: skip
        assert seen == {}  # nothing replayed from memory
        async with aiomqtt.Client("127.0.0.1", broker.port, **terminal) as client:
            await client.publish(topics.event("T-7"), b"boom", qos=1)
            await client.publish(topics.event("T-7"), b"after-restart", qos=1)
        await wait_until(lambda: (topics.event("T-7"), b"after-restart") in received)
        assert link.health()["intake_failures"] == 1 and link.connections == 2
    finally:
        await link.stop()


async def test_persistent_session_keeps_events_sent_while_away(
    shared_broker: tuple[str, int], topics: Topics
) -> None:
    host, port = shared_broker
    got: list[bytes] = []

    def on_message(topic: str, payload: bytes, retained_flag: bool) -> None:
        got.append(payload)

    def make() -> MqttLink:
        return MqttLink(
            BrokerAddress(host, port), client_id=f"svc-away-{topics.root}",
            subscriptions=[topics.all_from_terminals("event")], on_message=on_message,
        )  # fmt: skip

    link = make()
    await link.start()
    await link.wait_connected()
    await link.stop()  # the service goes away; its session stays on the broker
    async with aiomqtt.Client(host, port) as terminal:
        await terminal.publish(topics.event("T-A"), b"pressed-while-away", qos=1)
    link = make()
    await link.start()
    try:
        await wait_until(lambda: got == [b"pressed-while-away"])
    finally:
        await link.stop()


async def test_a_cancelled_publish_stops(shared_broker: tuple[str, int], topics: Topics) -> None:
    """A publisher cancelled at any moment stops, even in the instant its wait has just ended
    (the link is up, the PUBACK has come in): a lost cancel lets a notice sender run on, and
    whoever stops it waits forever."""
    host, port = shared_broker
    link = MqttLink(BrokerAddress(host, port), client_id=f"svc-{topics.root}")
    await link.start()
    try:
        await link.wait_connected()
        for turns in range(8):  # cancelled after 0..7 turns of the loop
            publishing = asyncio.create_task(link.publish(topics.notify("T-1"), b"x"))
            for _ in range(turns):
                await asyncio.sleep(0)
            if publishing.cancel():
                await asyncio.gather(publishing, return_exceptions=True)
                assert publishing.cancelled(), f"cancel after {turns} turns was lost"
        publishing = asyncio.create_task(link.publish(topics.notify("T-1"), b"x"))
        # Turn by turn (an event would come turns late): until sent, then until the PUBACK is in.
        async with asyncio.timeout(5):
            while not link.health()["in_flight"]:  # noqa: ASYNC110
                await asyncio.sleep(0)
            while link.health()["in_flight"]:  # noqa: ASYNC110
                await asyncio.sleep(0)
        if publishing.cancel():
            await asyncio.gather(publishing, return_exceptions=True)
            assert publishing.cancelled(), "cancel as the PUBACK came in was lost"
    finally:
        await link.stop()
