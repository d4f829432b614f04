"""The service's MQTT connection, on aiomqtt (paho-mqtt driven by the asyncio loop).

Persistent session (``clean_session=False``, a stable client id; a clean one for an instance
in a shared subscription, see ``clean_session``), QoS 1 everywhere, reconnect
with exponential backoff and jitter; after every (re)connection the subscriptions are made
again and the ``when_connected`` callbacks are told, so that the owner of the retained state
rebuilds it from its source of truth (the link keeps no copy of its own: a copy goes stale).
Publishes are awaited until the broker's PUBACK, through one bounded in-flight window shared
by every caller (aiomqtt stalls when tens of thousands of publishes are pending at once).

Received messages go to one synchronous *intake* straight from the reader: it never waits,
so it can neither block the reconnection nor let one sender's backlog hold up another's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.reasoncodes import ReasonCode

from bedside.broker_url import BrokerAddress, LastWill, parse_mqtt_url
from bedside.errors import BrokerUnavailable

log = structlog.get_logger(__name__)
__all__ = ["NO_DELAY", "BrokerAddress", "LastWill", "MqttLink", "parse_mqtt_url"]

NO_DELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
MessageIntake = Callable[[str, bytes, bool], None]
"""Called with (topic, payload, retained) for every message received, in order; must not block
(queue the work, do not await it)."""


def _refused(code: int | ReasonCode) -> bool:
    return code.is_failure if isinstance(code, ReasonCode) else code >= 0x80


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    """Wait up to ``seconds`` for ``event``; False when the time ran out.

    Not ``asyncio.wait_for``: on Python 3.11 it returns normally when the task is cancelled
    just as the wait ends (a PUBACK in, the link up), and the cancel is lost, so a notice
    sender being stopped runs on and whoever awaits it waits forever. ``asyncio.timeout``
    lets the cancel through.
    """
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


READ_BURST = 512
"""Packets read per wake-up of the socket (aiomqtt reads one per event-loop turn)."""


def _drive_on_the_loop(client: aiomqtt.Client) -> None:
    """Drive paho's socket from the loop with fewer turns and syscalls than aiomqtt does.

    aiomqtt reads one packet per turn of the event loop and, for every packet queued to
    send (the PUBACK of each message received), registers the writer through
    ``call_soon_threadsafe`` (a write on the loop's self-pipe). Under a flood of messages
    that is three loop turns and two extra syscalls per message. Here the reader drains
    what is there (up to ``READ_BURST`` packets) and, on the loop's thread, the writer is
    registered directly (from the executor thread of ``connect``, aiomqtt's way).
    """
    paho_client = client._client
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    aio_open = paho_client.on_socket_open
    aio_register_write = paho_client.on_socket_register_write

    def failed(exc: Exception) -> None:
        disconnected = client._disconnected
        if not disconnected.done():
            disconnected.set_exception(exc)

    def read(paho: mqtt.Client) -> None:
        try:
            for _ in range(READ_BURST):
                if paho._sock is None:
                    return
                rc = paho._packet_read()
                if rc == mqtt.MQTT_ERR_AGAIN:
                    return
                if rc > 0:
                    paho._loop_rc_handle(rc)
                    return
        except Exception as exc:  # a broken connection: aiomqtt's own handling
            failed(exc)

    def write(paho: mqtt.Client) -> None:
        try:
            paho.loop_write()
        except Exception as exc:
            failed(exc)

    def install_reader(paho: mqtt.Client, sock: Any) -> None:
        # Only while paho still holds this socket: a closed one's number may be reused.
        current = paho._sock
        if current is not None and current is sock and current.fileno() >= 0:
            loop.add_reader(current.fileno(), read, paho)

    def on_socket_open(paho: mqtt.Client, userdata: Any, sock: Any) -> None:
        if aio_open is not None:
            aio_open(paho, userdata, sock)  # schedules aiomqtt's reader; ours replaces it
        loop.call_soon_threadsafe(install_reader, paho, sock)

    def on_socket_register_write(paho: mqtt.Client, userdata: Any, sock: Any) -> None:
        if threading.get_ident() == loop_thread:
            loop.add_writer(sock.fileno(), write, paho)
        elif aio_register_write is not None:
            aio_register_write(paho, userdata, sock)

    paho_client.on_socket_open = on_socket_open
    paho_client.on_socket_register_write = on_socket_register_write


class _Batch:
    """Acknowledgements of one ``publish_many`` call on one connection."""

    __slots__ = ("acked", "outstanding", "wake")

    def __init__(self, size: int) -> None:
        self.acked = [False] * size
        self.outstanding = size
        self.wake = asyncio.Event()


class MqttLink:
    """One persistent, self-healing connection to the broker."""

    def __init__(
        self,
        address: BrokerAddress,
        *,
        client_id: str,
        subscriptions: Sequence[str] = (),
        on_message: MessageIntake | None = None,
        will: LastWill | None = None,
        window: int = 256,
        backoff: tuple[float, float] = (0.2, 10.0),
        publish_timeout: float = 15.0,
        ca_file: str | None = None,
        keepalive: int = 30,
        clean_session: bool = False,
    ) -> None:
        self.address = address
        self.clean_session = clean_session
        """True for an instance in a shared subscription: Mosquitto keeps dealing a group's
        messages to a member's persistent session while it is offline, so a dead instance
        would hold its share of the presses until it comes back; with a clean session it
        leaves the group with its connection and the others take them."""
        self.client_id = client_id
        self.subscriptions = tuple(subscriptions)
        self.window = window
        self._on_message = on_message
        self._will = will
        self._backoff = backoff
        self._publish_timeout = publish_timeout
        self._ca_file = ca_file
        self._keepalive = keepalive
        self._acks: dict[int, tuple[_Batch, int]] = {}
        self._wakers: set[asyncio.Event] = set()
        self._up = asyncio.Event()
        self._lost = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected_callbacks: list[Callable[[int], None]] = []
        self._surveys: list[tuple[str, dict[str, bytes], asyncio.Event]] = []
        self._left_subscribed: set[str] = set()  # surveys cut short: kept by the session
        self.refused_subscriptions: set[str] = set()
        self._stopping = False
        self.state = "down"
        self.connections = 0
        self.connected_since: datetime | None = None
        self.last_error: str | None = None
        self.received = 0
        self.handler_failures = 0

    def route(self, subscriptions: Sequence[str], on_message: MessageIntake) -> None:
        """Set what to subscribe to and who takes received messages (before ``start``)."""
        self.subscriptions = tuple(subscriptions)
        self._on_message = on_message

    def when_connected(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(connection_number)`` after each (re)connection, once subscribed
        (it must not block: it typically wakes the task that republishes the retained state)."""
        self._connected_callbacks.append(callback)

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
        if not await _wait(self._up, within):
            raise BrokerUnavailable(
                "mqtt.unavailable", "broker not reachable", broker=self.address.describe()
            )

    def health(self) -> dict[str, Any]:
        return {
            "state": "up" if self.state == "up" else "down",
            "broker": self.address.describe(),
            "connections": self.connections,
            "connected_since": self.connected_since.isoformat() if self.connected_since else None,
            "last_error": self.last_error,
            "in_flight": len(self._acks),
            "received": self.received,
            "intake_failures": self.handler_failures,
            "refused_subscriptions": sorted(self.refused_subscriptions),
        }

    def _make_client(self) -> aiomqtt.Client:
        """A client for one connection (a new one after each loss)."""
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
            clean_session=self.clean_session,
            will=will,
            tls_context=tls,
            keepalive=self._keepalive,
            timeout=10.0,
            # paho's own limit is off (0): our semaphore is the window. With a limit, paho scans
            # every pending message on each PUBACK (O(window) per acknowledgement).
            max_inflight_messages=0,
            # Small QoS 1 packets (PUBACKs, notices) must not wait for Nagle's algorithm.
            socket_options=[NO_DELAY],
            logger=_client_logger(),
        )
        client.pending_calls_threshold = self.window * 2 + 16
        paho_client = client._client
        original = paho_client.on_publish

        def on_publish(*args: Any) -> None:
            if original is not None:
                original(*args)
            self._on_puback(args[2])

        paho_client.on_publish = on_publish

        def on_message(paho: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
            # Straight from paho to the intake: aiomqtt's queue costs a Message, a task and
            # an asyncio.wait per message (too dear under a flood of junk).
            payload = message.payload
            self._deliver(message.topic, payload if isinstance(payload, bytes) else bytes(payload),
                          message.retain)  # fmt: skip

        paho_client.on_message = on_message
        _drive_on_the_loop(client)
        return client

    async def _run(self) -> None:
        delay = self._backoff[0]
        while not self._stopping:
            self._lost = asyncio.Event()
            client: aiomqtt.Client | None = None
            try:
                client = self._make_client()
                async with client:
                    await self._on_connected(client)
                    delay = self._backoff[0]
                    async for _ in client.messages:  # ends when the connection does
                        pass
            except aiomqtt.MqttError as exc:
                self.last_error = str(exc)[:200]
                log.warning("mqtt.disconnected", broker=self.address.describe(), error=str(exc))
            except asyncio.CancelledError:
                if client is not None:
                    await _abandon(client)
                raise
            except Exception as exc:
                self.last_error = type(exc).__name__
                log.exception("mqtt.link_failed", broker=self.address.describe())
            finally:
                self._up.clear()
                self._lost.set()
                self._acks.clear()
                self._wake_all()
                self._client = None
                self.state = "down"
                self.connected_since = None
            if self._stopping:
                break
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, self._backoff[1])

    async def _on_connected(self, client: aiomqtt.Client) -> None:
        for topic in self.subscriptions:
            granted = await client.subscribe(topic, qos=1)
            if any(_refused(code) for code in granted):  # the broker refused (ACL)
                self.refused_subscriptions.add(topic)
                log.error("mqtt.subscription_refused", topic=topic)
        for topic in list(self._left_subscribed):  # the persistent session still has them
            await client.unsubscribe(topic)
            self._left_subscribed.discard(topic)
        self._client = client
        self.connections += 1
        self.state = "up"
        self.connected_since = datetime.now(UTC)
        self.last_error = None
        log.info("mqtt.connected", broker=self.address.describe(), connections=self.connections)
        self._up.set()
        for callback in self._connected_callbacks:
            callback(self.connections)

    def _deliver(self, topic: str, payload: bytes, retained: bool) -> None:
        """Hand a received message to the intake, which queues it and returns: the reader
        never waits for a handler (a handler publishing while the connection is down must not
        stop the reconnection)."""
        self.received += 1
        if retained and self._surveys:
            for topic_filter, found, arrived in self._surveys:
                if mqtt.topic_matches_sub(topic_filter, topic):
                    found[topic] = payload
                    arrived.set()
        if self._on_message is None:
            return
        try:
            self._on_message(topic, payload, retained)
        except Exception as exc:  # a bug in the intake: counted, one line, no payload
            self.handler_failures += 1
            log.error("mqtt.intake_failed", topic=topic[:200], error=repr(exc)[:200])

    async def retained_topics(
        self, topic_filter: str, *, quiet: float = 0.5, within: float = 10.0
    ) -> dict[str, bytes]:
        """What the broker keeps retained under ``topic_filter`` (non-empty messages): a
        subscription on this connection until no retained message came for ``quiet``
        seconds, then unsubscribed."""
        client = self._client
        if client is None:
            raise BrokerUnavailable(
                "mqtt.unavailable", "broker not connected", broker=self.address.describe()
            )
        found: dict[str, bytes] = {}
        arrived = asyncio.Event()
        survey = (topic_filter, found, arrived)
        self._surveys.append(survey)
        self._left_subscribed.add(topic_filter)
        try:
            try:
                async with asyncio.timeout(within):
                    await client.subscribe(topic_filter, qos=1)
                    while await _wait(arrived, quiet):
                        arrived.clear()
            except (TimeoutError, aiomqtt.MqttError) as exc:
                raise BrokerUnavailable(
                    "mqtt.survey_failed", "could not read the retained topics",
                    broker=self.address.describe(),
                ) from exc  # fmt: skip
            finally:
                if self._client is client:
                    with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                        async with asyncio.timeout(within):
                            await client.unsubscribe(topic_filter)
                            self._left_subscribed.discard(topic_filter)
        finally:
            self._surveys.remove(survey)
        return {topic: payload for topic, payload in found.items() if payload}

    # --- publishing ---------------------------------------------------------------------

    async def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish at QoS 1 and wait for the broker's acknowledgement (retried on reconnect);
        an empty retained publish erases the topic on the broker."""
        await self.publish_many([(topic, payload, retain)])

    async def publish_many(self, messages: Iterable[tuple[str, bytes, bool]]) -> None:
        """Publish many messages through the bounded window; return when all are acknowledged."""
        pending = list(messages)
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
            if not await _wait(self._up, remaining):
                continue
            client, lost = self._client, self._lost
            if client is None:
                continue
            pending = await self._send_all(client, lost, pending, deadline)

    async def _send_all(
        self,
        client: aiomqtt.Client,
        lost: asyncio.Event,
        messages: list[tuple[str, bytes, bool]],
        deadline: float,
    ) -> list[tuple[str, bytes, bool]]:
        """Send on one connection through the shared window; return what was not
        acknowledged when the connection was lost or the deadline passed.

        Publishes go straight to aiomqtt's paho client from the loop thread and PUBACKs come
        back through :meth:`_on_puback`: no task, event or pending-call bookkeeping per
        message (aiomqtt's per-call bookkeeping is O(pending) and stalls at ~20,000).
        """
        paho_client = client._client  # aiomqtt has no public handle; pinned by the tests
        loop = asyncio.get_running_loop()
        batch = _Batch(len(messages))
        self._wakers.add(batch.wake)
        mids: list[int] = []
        index = 0
        try:
            while not lost.is_set():
                while index < len(messages) and len(self._acks) < self.window:
                    topic, payload, retain = messages[index]
                    info = paho_client.publish(topic, payload, 1, retain)
                    if info.rc != mqtt.MQTT_ERR_SUCCESS:
                        raise aiomqtt.MqttCodeError(info.rc, "could not publish")
                    mids.append(info.mid)
                    self._acks[info.mid] = (batch, index)
                    index += 1
                if batch.outstanding == 0:
                    break
                batch.wake.clear()
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                await _wait(batch.wake, remaining)
        except aiomqtt.MqttError:
            # The connection broke under us: let the run loop notice before retrying.
            await _wait(lost, 1.0)
        finally:
            self._wakers.discard(batch.wake)
            if batch.outstanding:
                for mid in mids:
                    if self._acks.get(mid, (None, 0))[0] is batch:
                        del self._acks[mid]
        return [m for m, ok in zip(messages, batch.acked, strict=True) if not ok]

    def _on_puback(self, mid: int) -> None:
        waiting = self._acks.pop(mid, None)
        if waiting is not None:
            batch, index = waiting
            batch.acked[index] = True
            batch.outstanding -= 1
            self._wake_all()  # a freed slot may let any waiting sender go on

    def _wake_all(self) -> None:
        for wake in self._wakers:
            wake.set()


class _LateAcknowledgement(logging.Filter):
    """aiomqtt logs an error when a SUBACK or PUBACK arrives for a request that was already
    given up (a subscribe cancelled by a stop or a reconnection): nothing is lost then, so it
    is a debug line, not an error line an operator would chase."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Unexpected message ID"):
            log.debug("mqtt.late_acknowledgement")
            return False
        return True


def _client_logger() -> logging.Logger:
    logger = logging.getLogger("bedside.mqtt.client")
    if not any(isinstance(f, _LateAcknowledgement) for f in logger.filters):
        logger.addFilter(_LateAcknowledgement())
    return logger


async def _abandon(client: aiomqtt.Client) -> None:
    """Close a client whose connection was cancelled half-way (a stop while connecting):
    aiomqtt leaves its socket and its housekeeping task behind when its ``__aenter__`` is
    cancelled, and they fail noisily once the loop is closed. The connect may still be
    finishing in its executor thread, so look a few times."""
    paho = client._client
    for _ in range(5):
        with contextlib.suppress(Exception):
            paho.disconnect()
        with contextlib.suppress(Exception):
            paho._sock_close()
        task = client._misc_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0.05)
