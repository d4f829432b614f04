"""The service's MQTT connection, on aiomqtt (paho-mqtt driven by the asyncio loop).

Persistent session (``clean_session=False``, a stable client id), QoS 1 everywhere, reconnect
with exponential backoff and jitter; after every (re)connection the subscriptions are made
again and the retained state (config and context of every terminal) is republished, so a
broker that lost everything is whole again. Publishes are awaited until the broker's PUBACK,
through one bounded in-flight window shared by every caller (aiomqtt stalls when tens of
thousands of publishes are pending at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import ssl
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import structlog

from bedside.errors import BedsideError, BrokerUnavailable

log = structlog.get_logger(__name__)

MessageHandler = Callable[[str, bytes, bool], Awaitable[None]]
"""Called with (topic, payload, retained) for every message received, in order."""


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    def describe(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def parse_mqtt_url(url: str) -> BrokerAddress:
    """``mqtt://user:password@host:port`` (``mqtts://`` for TLS) → :class:`BrokerAddress`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BedsideError("mqtt.url_invalid", "MQTT URL is not valid") from exc
    if parts.scheme not in {"mqtt", "mqtts"} or not parts.hostname:
        raise BedsideError("mqtt.url_invalid", "MQTT URL must be mqtt://host:port or mqtts://")
    tls = parts.scheme == "mqtts"
    return BrokerAddress(
        host=parts.hostname,
        port=port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        tls=tls,
    )


@dataclass(frozen=True)
class LastWill:
    topic: str
    payload: bytes
    retain: bool = True


class MqttLink:
    """One persistent, self-healing connection to the broker."""

    def __init__(
        self,
        address: BrokerAddress,
        *,
        client_id: str,
        subscriptions: Sequence[str] = (),
        on_message: MessageHandler | None = None,
        will: LastWill | None = None,
        window: int = 256,
        backoff: tuple[float, float] = (0.2, 10.0),
        publish_timeout: float = 15.0,
        ca_file: str | None = None,
        keepalive: int = 30,
    ) -> None:
        self.address = address
        self.client_id = client_id
        self.subscriptions = tuple(subscriptions)
        self.window = window
        self._on_message = on_message
        self._will = will
        self._backoff = backoff
        self._publish_timeout = publish_timeout
        self._ca_file = ca_file
        self._keepalive = keepalive
        self._retained: dict[str, bytes] = {}
        self._slots = asyncio.Semaphore(window)
        self._up = asyncio.Event()
        self._lost = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.state = "down"
        self.connections = 0
        self.connected_since: datetime | None = None
        self.last_error: str | None = None
        self.received = 0
        self.handler_failures = 0

    def route(self, subscriptions: Sequence[str], on_message: MessageHandler) -> None:
        """Set what to subscribe to and who handles received messages (before ``start``)."""
        self.subscriptions = tuple(subscriptions)
        self._on_message = on_message

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=f"mqtt:{self.client_id}")

    async def stop(self) -> None:
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._up.clear()
        self.state = "down"

    async def wait_connected(self, within: float = 10.0) -> None:
        try:
            await asyncio.wait_for(self._up.wait(), within)
        except TimeoutError as exc:
            raise BrokerUnavailable(
                "mqtt.unavailable", "broker not reachable", broker=self.address.describe()
            ) from exc

    def health(self) -> dict[str, Any]:
        return {
            "state": "up" if self.state == "up" else "down",
            "broker": self.address.describe(),
            "connections": self.connections,
            "connected_since": self.connected_since.isoformat() if self.connected_since else None,
            "last_error": self.last_error,
            "retained_topics": len(self._retained),
            "in_flight": self.window - self._slots._value,
        }

    def _make_client(self) -> aiomqtt.Client:
        addr = self.address
        tls = ssl.create_default_context(cafile=self._ca_file) if addr.tls else None
        will = None
        if self._will is not None:
            will = aiomqtt.Will(self._will.topic, self._will.payload, 1, self._will.retain)
        client = aiomqtt.Client(
            addr.host,
            addr.port,
            username=addr.username,
            password=addr.password,
            identifier=self.client_id,
            clean_session=False,
            will=will,
            tls_context=tls,
            keepalive=self._keepalive,
            timeout=10.0,
            max_inflight_messages=self.window,
        )
        client.pending_calls_threshold = self.window * 2 + 16
        return client

    async def _run(self) -> None:
        delay = self._backoff[0]
        while not self._stopping:
            self._lost = asyncio.Event()
            try:
                client = self._make_client()
                async with client:
                    await self._on_connected(client)
                    delay = self._backoff[0]
                    async for message in client.messages:
                        await self._dispatch(message)
            except aiomqtt.MqttError as exc:
                self.last_error = str(exc)[:200]
                log.warning("mqtt.disconnected", broker=self.address.describe(), error=str(exc))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = type(exc).__name__
                log.exception("mqtt.link_failed", broker=self.address.describe())
            finally:
                self._up.clear()
                self._lost.set()
                self._client = None
                self.state = "down"
                self.connected_since = None
            if self._stopping:
                break
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, self._backoff[1])

    async def _on_connected(self, client: aiomqtt.Client) -> None:
        for topic in self.subscriptions:
            await client.subscribe(topic, qos=1)
        self._client = client
        self.connections += 1
        self.state = "up"
        self.connected_since = datetime.now(UTC)
        self.last_error = None
        log.info("mqtt.connected", broker=self.address.describe(), connections=self.connections)
        if self.connections > 1 and self._retained:
            snapshot = list(self._retained.items())
            await self._send_all(client, self._lost, [(t, p, True) for t, p in snapshot])
            log.info("mqtt.retained_restored", topics=len(snapshot))
        self._up.set()

    async def _dispatch(self, message: aiomqtt.Message) -> None:
        self.received += 1
        if self._on_message is None:
            return
        payload = message.payload if isinstance(message.payload, bytes) else b""
        try:
            await self._on_message(str(message.topic), payload, bool(message.retain))
        except Exception:
            self.handler_failures += 1
            log.exception("mqtt.handler_failed", topic=str(message.topic))

    # --- publishing ---------------------------------------------------------------------

    async def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish at QoS 1 and wait for the broker's acknowledgement (retried on reconnect).

        A retained publish also becomes the retained state restored after a reconnection; an
        empty retained publish erases the topic on the broker.
        """
        await self.publish_many([(topic, payload, retain)])

    async def publish_many(self, messages: Iterable[tuple[str, bytes, bool]]) -> None:
        """Publish many messages through the bounded window; return when all are acknowledged."""
        pending = list(messages)
        for topic, payload, retain in pending:
            if retain:
                self._retained[topic] = payload
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._publish_timeout
        while pending:
            remaining = deadline - loop.time()
            if remaining <= 0 or self._stopping:
                raise BrokerUnavailable(
                    "mqtt.publish_timeout",
                    "broker did not acknowledge in time",
                    broker=self.address.describe(),
                    pending=len(pending),
                )
            try:
                await asyncio.wait_for(self._up.wait(), remaining)
            except TimeoutError:
                continue
            client, lost = self._client, self._lost
            if client is None:
                continue
            pending = await self._send_all(client, lost, pending)

    async def _send_all(
        self,
        client: aiomqtt.Client,
        lost: asyncio.Event,
        messages: list[tuple[str, bytes, bool]],
    ) -> list[tuple[str, bytes, bool]]:
        """Send on one connection; return what was not acknowledged when it was lost."""
        acked = [False] * len(messages)
        items: Iterator[int] = iter(range(len(messages)))

        async def worker() -> None:
            for index in items:
                topic, payload, retain = messages[index]
                async with self._slots:
                    await client.publish(topic, payload, qos=1, retain=retain, timeout=math.inf)
                acked[index] = True

        async def crew() -> None:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(self.window, len(messages))):
                    group.create_task(worker())

        task = asyncio.create_task(crew())
        watcher = asyncio.create_task(lost.wait())
        try:
            await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watcher.cancel()
            task.cancel()
            await asyncio.gather(task, watcher, return_exceptions=True)
        failure = None if task.cancelled() else task.exception()
        if isinstance(failure, BaseExceptionGroup):
            broken, other = failure.split(aiomqtt.MqttError)
            if other is not None:
                raise other
            if broken is not None:
                # The connection broke under us: let the run loop notice before retrying.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), 1.0)
        return [m for m, ok in zip(messages, acked, strict=True) if not ok]

    def forget_retained(self, topic: str) -> None:
        """Stop restoring ``topic`` after reconnections (its erasure is acknowledged)."""
        self._retained.pop(topic, None)
