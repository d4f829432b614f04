"""Terminal presence: status messages (and the last will, an ``offline`` status) feed the
terminal registry in the ``terminals`` table; a terminal offline for longer than
``terminal_offline_alert_seconds`` raises an alert (a domain event and the admin page's list).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bedside.beds import SessionSource
from bedside.contract import TerminalStatus
from wardline.bus import EventBus
from wardline.db.models import Bed, Room, Terminal
from wardline.domain.terminal_events import TerminalBackOnline, TerminalOfflineAlert

log = structlog.get_logger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TerminalPresence:
    terminal_id: str
    bed_label: str | None
    ward_code: str | None
    online: bool
    last_seen: datetime | None
    firmware: str | None


class TerminalRegistry:
    def __init__(
        self,
        *,
        db: SessionSource,
        bus: EventBus,
        offline_alert_seconds: float,
        clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._db = db
        self._bus = bus
        self._threshold = offline_alert_seconds
        self._clock = clock
        self._sleep = sleep
        self._alerts: dict[str, TerminalOfflineAlert] = {}
        self._known: set[str] = set()
        self._unwritten: dict[str, datetime] = {}

    async def record_status(
        self, terminal_id: str, status: TerminalStatus, *, retained: bool = False
    ) -> bool:
        """Apply a status message; False (and nothing changed) for an unknown terminal.

        A retained ``offline`` (replayed by the broker when the service subscribes) is old
        news: it does not move ``last_seen``, so the offline time keeps counting across
        restarts of the service.
        """
        now = self._clock()
        async with self._db.session() as session:
            terminal = await session.get(Terminal, terminal_id)
            if terminal is None:
                log.warning("presence.unknown_terminal", terminal=terminal_id)
                return False
            terminal.online = status.state == "online"
            stale = retained and status.state == "offline" and terminal.last_seen is not None
            if not stale:
                terminal.last_seen = now
            if status.firmware is not None:
                terminal.firmware = status.firmware
            if status.model is not None:
                terminal.model = status.model
        self._known.add(terminal_id)
        self._unwritten.pop(terminal_id, None)
        log.info("presence.status", terminal=terminal_id, state=status.state)
        if status.state == "online":
            alert = self._alerts.pop(terminal_id, None)
            if alert is not None:
                self._bus.publish(
                    TerminalBackOnline(terminal_id=terminal_id, bed_label=alert.bed_label)
                )
        return True

    async def known(self, terminal_id: str) -> bool:
        """Is the terminal in the inventory? (Known ids are remembered; misses are re-read.)"""
        if terminal_id in self._known:
            return True
        async with self._db.session() as session:
            found = await session.get(Terminal, terminal_id) is not None
        if found:
            self._known.add(terminal_id)
        return found

    async def seen(self, terminal_id: str) -> bool:
        """Any message from a terminal proves it alive: ``last_seen`` is refreshed in memory
        and written in batches (:meth:`flush_seen`), never on the event's own path."""
        if not await self.known(terminal_id):
            return False
        self._unwritten[terminal_id] = self._clock()
        return True

    async def flush_seen(self) -> int:
        """Write the pending ``last_seen`` times in one transaction."""
        if not self._unwritten:
            return 0
        batch, self._unwritten = self._unwritten, {}
        async with self._db.session() as session:
            for terminal_id, at in batch.items():
                terminal = await session.get(Terminal, terminal_id)
                if terminal is not None and (terminal.last_seen is None or terminal.last_seen < at):
                    terminal.last_seen = at
        return len(batch)

    async def terminals(self) -> list[TerminalPresence]:
        """Every terminal with its presence, for the admin page."""
        await self.flush_seen()
        async with self._db.session() as session:
            rows = await session.scalars(
                select(Terminal)
                .options(selectinload(Terminal.bed).selectinload(Bed.room).selectinload(Room.ward))
                .order_by(Terminal.id)
            )
            return [
                TerminalPresence(
                    terminal_id=t.id,
                    bed_label=t.bed.label if t.bed else None,
                    ward_code=t.bed.room.ward.code if t.bed else None,
                    online=t.online,
                    last_seen=t.last_seen,
                    firmware=t.firmware,
                )
                for t in rows
            ]

    def alerts(self) -> list[TerminalOfflineAlert]:
        """Open offline alerts, oldest first (the admin page reads this)."""
        return sorted(self._alerts.values(), key=lambda a: a.last_seen)

    async def check_offline(self) -> list[TerminalOfflineAlert]:
        """Raise an alert for each terminal offline for longer than the threshold."""
        now = self._clock()
        raised = []
        for terminal in await self.terminals():
            if terminal.online or terminal.last_seen is None:
                continue
            if terminal.terminal_id in self._alerts:
                continue
            if (now - terminal.last_seen).total_seconds() < self._threshold:
                continue
            alert = TerminalOfflineAlert(
                terminal_id=terminal.terminal_id,
                bed_label=terminal.bed_label,
                ward_code=terminal.ward_code,
                last_seen=terminal.last_seen,
                at=now,
            )
            self._alerts[terminal.terminal_id] = alert
            self._bus.publish(alert)
            raised.append(alert)
            log.warning("presence.offline_alert", terminal=terminal.terminal_id)
        return raised

    async def run(self, interval: float) -> None:
        while True:
            try:
                await self.check_offline()
            except Exception:
                log.exception("presence.check_failed")
            await self._sleep(interval)
