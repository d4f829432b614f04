"""Real brokers for the bedside tests: the shared Mosquitto on 127.0.0.1:1883 (each test
under its own topic root) and a private Mosquitto started from the generated configuration."""

from __future__ import annotations

import asyncio
import getpass
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from bedside.broker_config import (
    Credentials,
    ListenerOptions,
    load_or_create_credentials,
    write_broker_config,
)
from bedside.topics import Topics
from tests.services import MQTT_HOST, MQTT_PORT, need_mosquitto, port_open, services_required

SERVICE_ACCOUNTS = ("wardline-service", "wardline-service-2")
"""Two service instances: the second also reads the broker's state in the tests (with client
ids bound to accounts, a reader on the first's account would kick the first off)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def topics() -> Topics:
    """A private topic root on the shared broker: no cross-talk between tests."""
    return Topics(root=f"wltest/{uuid.uuid4().hex[:10]}/v1")


@pytest.fixture
async def shared_broker(topics: Topics) -> AsyncIterator[tuple[str, int]]:
    need_mosquitto()
    yield MQTT_HOST, MQTT_PORT
    await erase_retained(MQTT_HOST, MQTT_PORT, f"{topics.root}/#")


async def retained(
    host: str,
    port: int,
    topic_filter: str,
    *,
    username: str | None = None,
    password: str | None = None,
    settle: float = 0.4,
) -> dict[str, bytes]:
    """What a brand-new subscriber receives on ``topic_filter`` (the retained messages)."""
    found: dict[str, bytes] = {}
    async with aiomqtt.Client(host, port, username=username, password=password) as client:
        await client.subscribe(topic_filter, qos=1)
        try:
            async with asyncio.timeout(settle):
                async for message in client.messages:
                    assert isinstance(message.payload, bytes)
                    found[str(message.topic)] = message.payload
        except TimeoutError:
            pass
    return found


async def erase_retained(
    host: str, port: int, topic_filter: str, username: str | None = None, pw: str | None = None
) -> None:
    left = await retained(host, port, topic_filter, username=username, password=pw, settle=0.2)
    if not left:
        return
    async with aiomqtt.Client(host, port, username=username, password=pw) as client:
        for topic in left:
            await client.publish(topic, b"", qos=1, retain=True)


@dataclass
class PrivateBroker:
    """A Mosquitto started from ``wardline mosquitto-config`` output, restartable."""

    directory: Path
    port: int
    credentials: Credentials
    process: subprocess.Popen[bytes] | None = None
    log: list[str] = field(default_factory=list)

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["mosquitto", "-c", str(self.directory / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=(self.directory / "mosquitto.log").open("ab"),
        )

    async def wait_ready(self) -> None:
        for _ in range(100):
            if port_open("127.0.0.1", self.port):
                return
            await asyncio.sleep(0.05)
        raise AssertionError((self.directory / "mosquitto.log").read_text())

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=5)
            self.process = None

    def kill(self) -> None:
        """SIGKILL: nothing saved since the last autosave."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=5)
            self.process = None


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[object]:
    if shutil.which("mosquitto") is None:
        if services_required():
            pytest.fail("mosquitto binary missing (WARDLINE_REQUIRE_SERVICES=1)")
        pytest.skip("mosquitto binary missing")
    started: list[PrivateBroker] = []

    def make(
        terminals: list[str], *, persistence: bool = False, extra: str = "", **tls: Any
    ) -> PrivateBroker:
        port = free_port()
        directory = tmp_path / f"broker-{port}"
        creds = load_or_create_credentials(
            tmp_path / "data", terminals, service_users=SERVICE_ACCOUNTS
        )
        # Started as root, mosquitto would drop to "mosquitto" and not read tmp_path.
        run_as = getpass.getuser()
        options = ListenerOptions(port=port, persistence=persistence, run_as=run_as, **tls)
        write_broker_config(directory, creds, options)
        if extra:
            with (directory / "mosquitto.conf").open("a", encoding="utf-8") as conf:
                conf.write(extra)
        broker = PrivateBroker(directory, port, creds)
        broker.start()
        started.append(broker)
        return broker

    yield make
    for broker in started:
        broker.stop()
