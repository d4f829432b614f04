"""The bedside edge assembled on real parts (shared Mosquitto, SQLite, the real bus) with a
controllable clock, and a terminal speaking MQTT, for the integration tests."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiomqtt

from bedside.gateway import TerminalGateway
from bedside.mqtt_link import BrokerAddress, MqttLink
from bedside.nurse_call import NurseCalls
from bedside.presence import TerminalRegistry
from bedside.topics import Topics
from wardline.bus import EventBus
from wardline.db.engine import Database
from wardline.domain.events import DomainEvent


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Service:
    db: Database
    bus: EventBus
    link: MqttLink
    clock: FakeClock
    registry: TerminalRegistry
    calls: NurseCalls
    gateway: TerminalGateway
    topics: Topics
    events: list[DomainEvent] = field(default_factory=list)


@asynccontextmanager
async def running_service(
    db: Database,
    topics: Topics,
    host: str,
    port: int,
    login: tuple[str, str] | None = None,
) -> AsyncIterator[Service]:
    bus = EventBus()
    clock = FakeClock()
    user, password = login or (None, None)
    address = BrokerAddress(host, port, user, password)
    link = MqttLink(address, client_id=user or f"svc-{topics.root}")
    registry = TerminalRegistry(db=db, bus=bus, offline_alert_seconds=300, clock=clock)
    calls = NurseCalls(db=db, bus=bus, link=link, topics=topics, clock=clock)
    gateway = TerminalGateway(topics=topics, registry=registry, nurse_calls=calls, link=link)
    link.route(gateway.subscriptions(), gateway.on_message)
    service = Service(db, bus, link, clock, registry, calls, gateway, topics)

    async def record(event: DomainEvent) -> None:
        service.events.append(event)

    bus.subscribe(DomainEvent, record, name="test.recorder")
    await bus.start()
    await gateway.start()
    await link.start()
    await link.wait_connected()
    try:
        yield service
    finally:
        await gateway.close()
        await calls.close()
        await link.stop()
        await bus.stop()


class Terminal:
    """A terminal on the broker: publishes events, collects its notices."""

    def __init__(self, client: aiomqtt.Client, topics: Topics, tid: str) -> None:
        self.client = client
        self.topics = topics
        self.tid = tid
        self.notices: list[bytes] = []
        self._task: asyncio.Task[None] | None = None

    async def send(self, payload: bytes, channel: str = "event") -> None:
        topic = self.topics.event(self.tid) if channel == "event" else self.topics.status(self.tid)
        await self.client.publish(topic, payload, qos=1, retain=channel == "status")

    async def _collect(self) -> None:
        async for message in self.client.messages:
            assert isinstance(message.payload, bytes)
            self.notices.append(message.payload)


@asynccontextmanager
async def terminal(
    host: str, port: int, topics: Topics, tid: str, password: str | None = None
) -> AsyncIterator[Terminal]:
    login = {"username": tid, "password": password} if password else {}
    async with aiomqtt.Client(host, port, identifier=f"{topics.root}-{tid}", **login) as client:
        await client.subscribe(topics.notify(tid), qos=1)
        term = Terminal(client, topics, tid)
        term._task = asyncio.create_task(term._collect())
        try:
            yield term
        finally:
            term._task.cancel()
            await asyncio.gather(term._task, return_exceptions=True)


def _utf8(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("!H", len(raw)) + raw


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_with_will_then_vanish(
    host: str, port: int, client_id: str, topic: str, will: bytes
) -> None:
    """An MQTT 3.1.1 client that registers a retained QoS 1 last will, then drops its TCP
    connection without DISCONNECT (a terminal losing power)."""
    flags = 0x02 | 0x04 | 0x08 | 0x20  # clean session, will, will QoS 1, will retain
    variable = _utf8("MQTT") + bytes([4, flags]) + struct.pack("!H", 60)
    body = variable + _utf8(client_id) + _utf8(topic) + _utf8(will)
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"\x10" + _remaining_length(len(body)) + body)
        connack = sock.recv(4)
        assert connack[:2] == b"\x20\x02" and connack[3] == 0, connack
        sock.shutdown(socket.SHUT_RDWR)
