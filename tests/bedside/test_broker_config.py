"""The generated Mosquitto configuration, checked by a real Mosquitto started from it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import aiomqtt
import pytest

from bedside.broker_config import (
    CREDENTIALS_FILE,
    load_or_create_credentials,
    mosquitto_password_hash,
    render_acl,
    verify_mosquitto_password,
)
from bedside.mqtt_link import BrokerAddress, MqttLink
from bedside.topics import Topics
from tests.bedside.conftest import PrivateBroker, retained
from tests.services import wait_until


def test_password_hash_format_and_verify() -> None:
    stored = mosquitto_password_hash("s3cret")
    kind, iterations, salt, digest = stored.split("$")[1:]
    assert (kind, iterations) == ("7", "101")
    assert len(salt) == 16 and len(digest) == 88  # base64 of 12 and 64 bytes
    assert verify_mosquitto_password("s3cret", stored)
    assert not verify_mosquitto_password("other", stored)


def test_credentials_generated_once(tmp_path: Path) -> None:
    first = load_or_create_credentials(tmp_path, ["T-1"])
    again = load_or_create_credentials(tmp_path, ["T-1", "T-2"])
    assert again.terminals["T-1"] == first.terminals["T-1"]
    assert again.service_password == first.service_password
    assert set(again.terminals) == {"T-1", "T-2"}
    assert (tmp_path / CREDENTIALS_FILE).stat().st_mode & 0o077 == 0


def test_acl_confines_terminals() -> None:
    acl = render_acl("svc")
    assert "pattern read wardline/v1/terminal/%u/#" in acl
    assert "pattern write wardline/v1/terminal/%u/status" in acl
    assert "pattern write wardline/v1/terminal/%u/event" in acl
    assert "pattern write wardline/v1/terminal/%u/context" not in acl


async def test_terminal_confined_to_its_own_topics(
    broker_factory: Callable[[list[str]], PrivateBroker],
) -> None:
    broker = broker_factory(["T-1", "T-2"])
    await broker.wait_ready()
    creds = broker.credentials
    topics = Topics()
    received: list[str] = []

    def on_message(topic: str, payload: bytes, retained_flag: bool) -> None:
        received.append(topic)

    link = MqttLink(
        BrokerAddress("127.0.0.1", broker.port, creds.service_user, creds.service_password),
        client_id="svc-acl",
        subscriptions=[topics.all_from_terminals("event")],
        on_message=on_message,
    )
    await link.start()
    try:
        await link.wait_connected()
        await link.publish(topics.context("T-1"), b"ctx-1", retain=True)
        await link.publish(topics.context("T-2"), b"ctx-2", retain=True)
        t1 = ("T-1", creds.terminals["T-1"])
        own = await retained("127.0.0.1", broker.port, f"{topics.root}/terminal/T-1/#",
                             username=t1[0], password=t1[1])  # fmt: skip
        assert own == {topics.context("T-1"): b"ctx-1"}
        other = await retained("127.0.0.1", broker.port, f"{topics.root}/terminal/T-2/#",
                               username=t1[0], password=t1[1])  # fmt: skip
        assert other == {}
        everything = await retained("127.0.0.1", broker.port, f"{topics.root}/#",
                                    username=t1[0], password=t1[1])  # fmt: skip
        assert everything == {topics.context("T-1"): b"ctx-1"}  # a wildcard reveals no other

        async with aiomqtt.Client("127.0.0.1", broker.port, username=t1[0], password=t1[1]) as c:
            await c.publish(topics.event("T-2"), b"spoofed", qos=1)  # not its topic
            await c.publish(topics.context("T-1"), b"forged", qos=1, retain=True)  # read-only
            await c.publish(topics.event("T-1"), b"mine", qos=1)
        await wait_until(lambda: topics.event("T-1") in received)
        await asyncio.sleep(0.2)
        assert received == [topics.event("T-1")]
        own = await retained("127.0.0.1", broker.port, f"{topics.root}/terminal/T-1/#",
                             username=t1[0], password=t1[1])  # fmt: skip
        assert own == {topics.context("T-1"): b"ctx-1"}

        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", broker.port, username="T-1", password="bad"):
                pass
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", broker.port):
                pass
    finally:
        await link.stop()
