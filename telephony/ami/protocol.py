"""panoramisk, narrowed to what a hospital PBX link needs.

panoramisk 1.4 is used for what it does well (action ids, the table of pending actions,
list completion, the wire format of actions); four of its habits are replaced here:

- it decodes each TCP read on its own: :class:`WholeMessageProtocol` (given to the Manager
  through its ``protocol_factory`` extension point) feeds bytes to the pure
  :class:`~telephony.ami.frames.FrameDecoder` and handles whole messages only;
- it runs handlers inline, so an exception can close the transport: every message is handled
  inside a guard, and :class:`PbxManager.dispatch` isolates each handler;
- it re-sends pending actions after a reconnect: pending actions fail at once with
  :class:`~telephony.errors.PbxUnreachable` when the connection goes, and nothing is queued;
- it raises ``KeyError('async')`` on "successfully queued" answers without an ``Async``
  header (sync Originate, Atxfer): :class:`PbxAction` decides list/async answers from the
  ``EventList`` and ``Async`` headers only.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import structlog
from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.manager import Manager

from telephony.ami.frames import AmiMessage, FrameDecoder
from telephony.errors import PbxUnreachable

log = structlog.get_logger(__name__)

FrameHandler = Callable[[AmiMessage], None]


class PbxAction(Action):  # type: ignore[misc]
    """An AMI action whose answers are :class:`AmiMessage` frames."""

    def __init__(self, fields: dict[str, Any], *, as_list: bool | None = None) -> None:
        for key, value in fields.items():
            values = value if isinstance(value, list | tuple) else [value]
            for item in values:
                if "\r" in str(item) or "\n" in str(item) or "\r" in key or "\n" in key:
                    raise ValueError(f"line break in AMI header {key}")
        super().__init__(fields, as_list=as_list)

    @property
    def name(self) -> str:
        return str(self["action"])

    @property
    def multi(self) -> bool:
        if self.as_list is not None:
            return bool(self.as_list)
        first: AmiMessage = self.responses[0]
        if first.get("EventList").lower() == "start":
            return True
        is_async = str(self.get("async", "false")).lower() == "true"
        return is_async and first.kind == "response" and first.get("Response") == "Success"

    @property
    def completed(self) -> bool:
        last: AmiMessage = self.responses[-1]
        if not self.multi:
            return True
        if len(self.responses) == 1:
            return False
        if last.kind == "event" and last.name.endswith("Complete"):
            return True
        return last.name == "OriginateResponse"


class WholeMessageProtocol(AMIProtocol):  # type: ignore[misc]
    """The AMI protocol of one connection: whole messages, guarded handling, no re-sending."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.decoder = FrameDecoder()
        self.encoding = "utf-8"
        self.closed_future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.expired: deque[str] = deque(maxlen=256)
        self.stats: Counter[str] = Counter()

    def data_received(self, data: bytes) -> None:
        before = sum(self.decoder.errors.values())
        frames = self.decoder.feed(data)
        if sum(self.decoder.errors.values()) != before:
            log.warning("ami.bad_input", errors=dict(self.decoder.errors))
        for frame in frames:
            try:
                self.handle_frame(frame)
            except Exception:
                self.stats["frame_failures"] += 1
                log.exception("ami.frame_failed", kind=frame.kind, message=frame.name)

    def handle_frame(self, frame: AmiMessage) -> None:
        if frame.kind == "banner":
            self.version = frame.name.partition("/")[2]
            return
        # Events carry an ActionID only as list items or async answers: look only when an
        # action waits (building the header view of every event costs a third of the time).
        waiting = self.responses
        action_id = frame.action_id if waiting or frame.kind != "event" else ""
        pending = waiting.get(action_id) if action_id else None
        if pending is not None:
            if pending.add_message(frame):
                self.responses.pop(action_id, None)
            return
        if frame.kind == "event":
            self.stats["events"] += 1
            if self.factory is not None:
                self.factory.dispatch(frame)
            if frame.name == "Shutdown":
                self.close()
            return
        if action_id in self.expired:
            self.stats["late_responses"] += 1
            log.info("ami.late_response", action_id=action_id)
        else:
            self.stats["unmatched_responses"] += 1
            log.warning("ami.unmatched_response", action_id=action_id, response=frame.name)

    def expire(self, action: PbxAction) -> None:
        """Forget an action that timed out; a late answer is then counted and dropped."""
        self.responses.pop(action.id, None)
        self.expired.append(action.id)

    def fail_pending(self, reason: str) -> None:
        for action_id in list(self.responses):
            action = self.responses.pop(action_id)
            if not action.future.done():
                action.future.set_exception(PbxUnreachable(reason, action=action.name))

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail_pending("the PBX connection was lost before it answered")
        self.closed = True
        if not self.closed_future.done():
            self.closed_future.set_result(None)

    def close(self) -> None:
        self.fail_pending("the PBX connection was closed before it answered")
        if not self.closed:
            self.closed = True
            self.transport.close()


class PbxManager(Manager):  # type: ignore[misc]
    """panoramisk's Manager without its own connect/reconnect loop and without re-sending.

    :class:`telephony.ami.link.AmiLink` drives the connection; this class keeps the
    registration of event handlers (fnmatch patterns, as in panoramisk) and isolates them.
    """

    def __init__(self, **config: Any) -> None:
        self._routes: dict[str, list[Callable[..., Any]]] = {}
        super().__init__(protocol_factory=WholeMessageProtocol, **config)
        self.callbacks.clear()
        self.patterns.clear()
        self.handler_failures = 0
        self.ready = False

    def register_event(self, pattern: str, callback: Any = None) -> Any:
        self._routes.clear()
        return super().register_event(pattern, callback)

    async def send_awaiting_actions(self, *_: Any) -> None:
        """Never re-send anything: an action is sent once or fails."""
        self.awaiting_actions.clear()

    def connection_lost(self, exc: Exception | None) -> None:
        """The link's supervisor reconnects; panoramisk's fixed-delay reconnect is not used."""

    def send_action(self, action: Any, as_list: bool | None = None, **kwargs: Any) -> Any:
        protocol = self.protocol
        if not self.ready or protocol is None or protocol.closed:
            raise PbxUnreachable(action=str(action.get("action", "")))
        action.update(kwargs)
        return protocol.send(action, as_list=action.as_list if as_list is None else as_list)

    def dispatch(self, event: AmiMessage) -> list[str]:
        callbacks = self._routes.get(event.name)
        if callbacks is None:
            if len(self._routes) > 512:  # bad input may invent names: keep the cache bounded
                self._routes.clear()
            callbacks = []
            for pattern, regexp in self.patterns:
                if regexp.match(event.name):
                    callbacks.extend(self.callbacks[pattern])
            self._routes[event.name] = callbacks
        for callback in callbacks:
            try:
                result = callback(self, event)
                if result is not None and asyncio.iscoroutine(result):
                    result.close()
                    raise TypeError("AMI event handlers must be plain functions")
            except Exception:
                self.handler_failures += 1
                log.exception("ami.handler_failed", event_name=event.name)
        return []
