"""The AMI link: one supervised connection to Asterisk, on panoramisk.

A supervisor task connects, logs in, pings, and reconnects with exponential backoff and
jitter. After every login the ``resync`` hook runs while live events are held back; they are
replayed in order once the hook has rebuilt the state, so nothing seen during the gap is
trusted and nothing received during the resync is lost. Actions are sent only while the
session is up; otherwise they fail at once with :class:`PbxUnreachable` and are never sent
later.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import structlog

from telephony.ami.frames import AmiMessage
from telephony.ami.protocol import PbxAction, PbxManager, WholeMessageProtocol
from telephony.errors import (
    PbxActionFailed,
    PbxError,
    PbxLoginRefused,
    PbxTimeout,
    PbxUnreachable,
)

log = structlog.get_logger(__name__)

LinkState = Literal["down", "connecting", "up"]
ActionFields = dict[str, str | list[str]]


@dataclass(frozen=True)
class Backoff:
    """Delay before reconnect attempt ``n``: exponential, capped, with +/- ``jitter``."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2

    def delay(self, attempt: int, rng: random.Random) -> float:
        base = min(self.maximum, self.initial * self.factor ** min(attempt, 32))
        return max(0.0, base * rng.uniform(1 - self.jitter, 1 + self.jitter))


class AmiLink:
    """A logged-in AMI session that keeps itself up. Start it with :meth:`start`."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        secret: str,
        action_timeout: float = 5.0,
        ping_interval: float = 20.0,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.host, self.port = host, port
        self._username, self._secret = username, secret
        self.action_timeout = action_timeout
        self.ping_interval = ping_interval
        self.backoff = backoff or Backoff()
        self._rng = rng or random.Random()
        self.manager = PbxManager(host=host, port=port, username=username, secret=secret)
        self.manager.register_event("*", self._on_event)
        self.state: LinkState = "down"
        self.last_resync_at: datetime | None = None
        self.last_error: PbxError | None = None
        self.connections = 0
        self.stats: Counter[str] = Counter()
        self.resync: Callable[[], Awaitable[None]] | None = None
        self.on_state: Callable[[LinkState], None] | None = None
        self._handlers: list[Callable[[AmiMessage], None]] = []
        self._held: list[AmiMessage] | None = None
        self._task: asyncio.Task[None] | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._protocol: WholeMessageProtocol | None = None
        self._synced = False

    # --- events -----------------------------------------------------------------------------
    def subscribe(self, handler: Callable[[AmiMessage], None]) -> None:
        """Call ``handler`` for every event, in order; its failures are counted and logged."""
        self._handlers.append(handler)

    def _on_event(self, _manager: Any, frame: AmiMessage) -> None:
        if self._held is not None:
            self._held.append(frame)
            return
        self._deliver(frame)

    def _deliver(self, frame: AmiMessage) -> None:
        for handler in self._handlers:
            try:
                handler(frame)
            except Exception:
                self.stats["handler_failures"] += 1
                log.exception("ami.handler_failed", event_name=frame.name)

    # --- actions ----------------------------------------------------------------------------
    async def send(
        self, fields: ActionFields, *, within: float | None = None, as_list: bool | None = None
    ) -> list[AmiMessage]:
        """Send one action; return its answers (the response, then any list or async events).

        Raises :class:`PbxUnreachable` at once when no session is up, :class:`PbxTimeout`,
        or :class:`PbxActionFailed` when Asterisk answers with an error.
        """
        name = str(fields.get("Action", "?"))
        try:
            action = PbxAction(dict(fields), as_list=as_list)
        except ValueError as exc:
            raise PbxActionFailed(name, "invalid header value") from exc
        future = self.manager.send_action(action)
        seconds = self.action_timeout if within is None else within
        try:
            async with asyncio.timeout(seconds):
                result = await asyncio.shield(future)
        except TimeoutError as exc:
            if self._protocol is not None:
                self._protocol.expire(action)
            raise PbxTimeout(name, seconds) from exc
        answers: list[AmiMessage] = result if isinstance(result, list) else [result]
        first = answers[0]
        if first.kind == "response" and first.name not in {"Success", "Goodbye", "Follows"}:
            raise PbxActionFailed(name, first.get("Message") or first.name)
        return answers

    # --- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name="ami-link")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._close()
        self._set_state("down")

    @property
    def synced(self) -> bool:
        """Up, and the state rebuilt since this connection was made."""
        return self.state == "up" and self._synced

    async def wait_synced(self, within: float) -> None:
        """Return once :attr:`synced`; raise the connection error if one comes first."""
        if self.synced:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            async with asyncio.timeout(within):
                await future
        except TimeoutError as exc:
            raise self.last_error or PbxTimeout("connect", within) from exc
        finally:
            if future in self._waiters:
                self._waiters.remove(future)

    def drop(self) -> None:
        """Close the current connection (the supervisor reconnects)."""
        self._close()

    def _close(self) -> None:
        self.manager.ready = False
        if self._protocol is not None and not self._protocol.closed:
            self._protocol.close()

    def _set_state(self, state: LinkState) -> None:
        if state != "up":
            self._synced = False
        if state != self.state:
            self.state = state
            log.info("ami.link_state", state=state, host=self.host, port=self.port)
            if self.on_state is not None:
                try:
                    self.on_state(state)
                except Exception:
                    log.exception("ami.state_hook_failed")

    def _notify(self, error: PbxError | None) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if waiter.done():
                continue
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)

    async def _supervise(self) -> None:
        attempt = 0
        loop = asyncio.get_running_loop()
        while True:
            self._set_state("connecting")
            try:
                protocol = await self._connect(loop)
            except Exception as exc:
                if isinstance(exc, PbxError):
                    error: PbxError = exc
                else:
                    log.exception("ami.connect_crashed")
                    error = PbxUnreachable(f"cannot connect to the PBX: {type(exc).__name__}")
                self.last_error = error
                self._set_state("down")
                log.warning("ami.connect_failed", error=error.error_id, attempt=attempt)
                self._notify(error)
                await asyncio.sleep(self.backoff.delay(attempt, self._rng))
                attempt += 1
                continue
            # the backoff starts again only once a session is usable: a PBX that accepts the
            # login but fails the resync is retried ever more slowly, not twice a second
            self.last_error = None
            pinger = asyncio.create_task(self._keepalive(protocol), name="ami-ping")
            try:
                await self._resync_now()
                attempt = 0
                self._notify(None)
                await protocol.closed_future
            except PbxError as exc:
                self.last_error = exc
                log.warning("ami.resync_failed", error=exc.error_id)
                self._notify(exc)
            except Exception:  # a bug in the resync must not end the supervisor: reconnect
                self.stats["resync_crashes"] += 1
                log.exception("ami.resync_crashed")
            finally:
                pinger.cancel()
                await asyncio.gather(pinger, return_exceptions=True)
                self._close()
                self.stats.update(protocol.stats)
                self.stats.update({f"decode_{k}": v for k, v in protocol.decoder.errors.items()})
                self._set_state("down")
            await asyncio.sleep(self.backoff.delay(attempt, self._rng))
            attempt += 1

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> WholeMessageProtocol:
        try:
            async with asyncio.timeout(self.action_timeout):
                _, protocol = await loop.create_connection(
                    WholeMessageProtocol, self.host, self.port
                )
        except (OSError, TimeoutError) as exc:
            raise PbxUnreachable(
                f"the PBX at {self.host}:{self.port} is unreachable",
                host=self.host,
                port=self.port,
            ) from exc
        assert isinstance(protocol, WholeMessageProtocol)
        protocol.factory = self.manager
        self.manager.protocol = protocol
        self._protocol = protocol
        self.connections += 1
        login = PbxAction(
            {"Action": "Login", "Username": self._username, "Secret": self._secret, "Events": "on"}
        )
        future = protocol.send(login, as_list=None)
        try:
            async with asyncio.timeout(self.action_timeout):
                answer = await asyncio.shield(future)
        except TimeoutError as exc:
            protocol.close()
            raise PbxTimeout("Login", self.action_timeout) from exc
        except PbxUnreachable:
            protocol.close()
            raise
        if answer.name != "Success":
            protocol.close()
            raise PbxLoginRefused(
                f"the PBX at {self.host}:{self.port} refused the AMI login of {self._username!r}",
                username=self._username,
            )
        self.manager.ready = True
        self.manager.authenticated = True
        self._set_state("up")
        return protocol

    async def _resync_now(self) -> None:
        self._held = []
        try:
            if self.resync is not None:
                await self.resync()
            self.last_resync_at = datetime.now(UTC)
            self._synced = True
        finally:
            held, self._held = self._held, None
            for frame in held:
                self._deliver(frame)

    async def _keepalive(self, protocol: WholeMessageProtocol) -> None:
        while not protocol.closed:
            await asyncio.sleep(self.ping_interval)
            try:
                await self.send({"Action": "Ping"}, within=min(self.action_timeout, 10.0))
            except PbxTimeout:
                log.warning("ami.ping_timeout")
                protocol.close()
            except PbxError:
                return

    def counters(self) -> dict[str, int]:
        """Failures and bad input seen so far (all connections), for metrics and readiness."""
        total = Counter(self.stats)
        total["handler_failures"] += self.manager.handler_failures
        protocol = self._protocol
        if protocol is not None and not protocol.closed:
            total.update(protocol.stats)
            total.update({f"decode_{k}": v for k, v in protocol.decoder.errors.items()})
        total.pop("events", None)
        return dict(total)

    def readiness(self) -> dict[str, Any]:
        """For ``/readyz``: a PBX that is down degrades the service (phones go on working)."""
        return {
            "state": "up" if self.state == "up" else "degraded",
            "connection": self.state,
            "last_resync_at": self.last_resync_at.isoformat() if self.last_resync_at else None,
            "last_error": self.last_error.error_id if self.last_error else None,
            "connections": self.connections,
            "counters": self.counters(),
        }
