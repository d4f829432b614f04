"""The live feed: one WebSocket per page at ``/ws``, authenticated by the session.

Domain events from the bus are grouped in topics; each topic names the roles that may see it,
how an event is encoded (ids, beds, extensions: never clinical data) and how its current state
is read for the snapshot sent on connect (and so after every reconnect). An event is encoded
once and queued to every client allowed to see it; a client too slow to keep up is closed and
reconnects to a fresh snapshot rather than lag behind.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from aiohttp import WSMsgType, web
from aiohttp_session import get_session

from kiosk_ui.auth import SignedIn, require
from kiosk_ui.errors import WebError
from kiosk_ui.security import same_origin
from kiosk_ui.session_store import token_id
from wardline.bus import EventBus
from wardline.domain.events import DomainEvent
from wardline.domain.fanout_events import ClusterResync
from wardline.domain.session_events import SessionsEnded

log = structlog.get_logger(__name__)

Encoder = Callable[[DomainEvent], dict[str, Any] | None]
Snapshot = Callable[[web.Application, SignedIn], Awaitable[Any]]
Visible = Callable[[SignedIn, DomainEvent], bool]


def plain(event: DomainEvent) -> dict[str, Any]:
    """Every field of an event (for events that carry ids and extensions only), but which
    instance produced it."""
    return {f.name: getattr(event, f.name) for f in dataclasses.fields(event) if f.name != "origin"}


def _always(user: SignedIn, event: DomainEvent) -> bool:
    return True


@dataclass
class Topic:
    name: str
    roles: frozenset[str]
    events: tuple[type[DomainEvent], ...]
    encode: Encoder = plain
    snapshot: Snapshot | None = None
    visible: Visible = _always
    """Finer filter than roles (e.g. a nurse sees her ward only)."""


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, frozenset | set | tuple):
        return sorted(value) if isinstance(value, frozenset | set) else list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def dumps(value: object) -> str:
    return json.dumps(value, default=_default, separators=(",", ":"))


@dataclass(eq=False)
class Client:
    user: SignedIn
    topics: tuple[Topic, ...]
    ws: web.WebSocketResponse
    queue: asyncio.Queue[str]
    dropped: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the snapshot is sent: events queued meanwhile follow it, never precede it."""
    session: str | None = None
    """The session's token: when the session ends, the socket is closed."""
    ended: bool = False


class LiveFeed:
    def __init__(self, queue_size: int = 2000) -> None:
        self.queue_size = queue_size
        """Messages a console may lag behind before it is closed (it reconnects afresh)."""
        self.topics: dict[str, Topic] = {}
        self.clients: set[Client] = set()
        self.sent = 0
        self.slow_closed = 0
        self.resynced = 0

    def add_topic(self, topic: Topic) -> None:
        if topic.name in self.topics:
            raise ValueError(f"topic {topic.name} exists")
        self.topics[topic.name] = topic

    def subscribe(self, bus: EventBus) -> None:
        kinds = tuple({k for t in self.topics.values() for k in t.events})
        if kinds:
            bus.subscribe(kinds, self.deliver, name="kiosk_ui.live")
        bus.subscribe(ClusterResync, self.resync, name="kiosk_ui.live.resync")
        bus.subscribe(SessionsEnded, self.sessions_ended, name="kiosk_ui.live.sessions")

    async def sessions_ended(self, event: SessionsEnded) -> None:
        """Sessions ended here or on another instance: their sockets are closed now."""
        ended = set(event.session_ids)
        for client in list(self.clients):
            if client.session is not None and token_id(client.session) in ended:
                self._end(client)

    async def resync(self, event: ClusterResync) -> None:
        """Events of other instances may have been missed: every socket is closed as a slow
        one is, and each page reconnects to a fresh snapshot from the database."""
        for client in list(self.clients):
            if not client.dropped:
                client.dropped = True
                self.resynced += 1
                if not client.queue.full():
                    client.queue.put_nowait("")  # wakes the sender up
        log.info("live.resync", reason=event.reason, clients=len(self.clients))

    async def deliver(self, event: DomainEvent) -> None:
        for topic in self.topics.values():
            if not isinstance(event, topic.events):
                continue
            payload = topic.encode(event)
            if payload is None:
                continue
            text = dumps({"topic": topic.name, "type": event.name, "data": payload})
            for client in list(self.clients):
                if topic in client.topics and topic.visible(client.user, event):
                    self._push(client, text)

    def _push(self, client: Client, text: str) -> None:
        try:
            client.queue.put_nowait(text)
        except asyncio.QueueFull:
            if not client.dropped:
                client.dropped = True
                self.slow_closed += 1
                log.warning("live.client_slow", user=client.user.username)

    def allowed(self, user: SignedIn, wanted: list[str]) -> tuple[Topic, ...]:
        names = wanted or list(self.topics)
        return tuple(
            t for n in names if (t := self.topics.get(n)) is not None and user.roles & t.roles
        )

    async def snapshot(self, app: web.Application, client: Client) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for topic in client.topics:
            if topic.snapshot is not None:
                out[topic.name] = await topic.snapshot(app, client.user)
        return out

    async def handle(self, request: web.Request) -> web.StreamResponse:
        user = await require(request, ())
        if not same_origin(request):
            raise WebError("auth.origin", "the request comes from another site")
        wanted = [t for t in request.query.get("topics", "").split(",") if t]
        topics = self.allowed(user, wanted)
        ws = web.WebSocketResponse(heartbeat=20, max_msg_size=4096)
        await ws.prepare(request)
        client = Client(user, topics, ws, asyncio.Queue(maxsize=self.queue_size))
        identity = (await get_session(request)).identity
        client.session = str(identity) if identity else None
        self.clients.add(client)  # before the snapshot: no event falls between the two
        sender = asyncio.create_task(self._send(client), name="live.send")
        try:
            snap = await self.snapshot(request.app, client)
            await ws.send_str(
                dumps({"topic": "snapshot", "topics": [t.name for t in topics], "data": snap})
            )
            client.ready.set()
            async for msg in ws:
                if msg.type == WSMsgType.TEXT and msg.data == "ping":
                    await ws.send_str('{"topic":"pong"}')
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.clients.discard(client)
            if not client.ended:  # an ended session's sender is closing the socket: let it
                sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            await ws.close()
        return ws

    async def _send(self, client: Client) -> None:
        await client.ready.wait()
        queue = client.queue
        while not client.dropped and not client.ended:
            batch = [await queue.get()]
            if client.ended or client.dropped:
                break
            while not queue.empty() and len(batch) < 256:  # one wake-up per burst
                batch.append(queue.get_nowait())
            if client.ws.closed:
                return
            for text in batch:
                await client.ws.send_str(text)
            self.sent += len(batch)
        if client.ended:
            await client.ws.close(code=4401, message=b"signed out")
        else:
            await client.ws.close(code=4000, message=b"too slow: reconnect")

    async def close_ended(self, alive: Callable[[str], Awaitable[bool]]) -> int:
        """Close the sockets whose session has ended (signed out, expired, account changed):
        nothing more reaches a browser that is no longer signed in. Returns how many."""
        closed = 0
        for client in list(self.clients):
            if client.session is None or not await alive(client.session):
                closed += 1
                self._end(client)
        return closed

    async def close_all(self) -> None:
        for client in list(self.clients):
            await client.ws.close(code=1001, message=b"server stopping")

    def _end(self, client: Client) -> None:
        self.clients.discard(client)
        client.ended = True  # its sender closes the socket (as for a slow client)
        client.ready.set()
        if not client.queue.full():
            client.queue.put_nowait("")  # wakes the sender up
