"""Bounds on what terminals send, so that a noisy terminal only hurts itself: a rate limit per
terminal (token bucket, checked before any parsing), fair bounded queues (each terminal its
own bounded share, served in turn), and a tally of refusals that logs and answers a terminal
at most once per interval. Pure bookkeeping on the event loop: nothing here awaits a socket.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
Clock = Callable[[], float]


@dataclass(frozen=True)
class IntakeLimits:
    """How much one terminal may send and have waiting."""

    rate_per_second: float = 10.0
    burst: int = 40
    queue_per_terminal: int = 32
    clinical_per_terminal: int = 8
    queue_total: int = 20_000
    refusal_interval_seconds: float = 60.0
    tracked_terminals: int = 20_000


class RateLimiter:
    """A token bucket per terminal (``burst`` tokens, refilled at ``rate`` per second); the
    least recently seen terminals are forgotten beyond ``tracked`` (they start full again)."""

    def __init__(self, rate: float, burst: int, *, tracked: int, clock: Clock) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tracked = tracked
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, key: str) -> bool:
        now = self._clock()
        tokens, at = self._buckets.pop(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self._tracked:
            self._buckets.popitem(last=False)
        return allowed


class FairLane(Generic[T]):
    """Bounded queues per terminal, served in turn: a terminal with a backlog waits behind
    itself, never in front of another. ``put`` never blocks (False when full)."""

    def __init__(self, *, per_terminal: int, total: int) -> None:
        self._per_terminal = per_terminal
        self._total = total
        self._queues: dict[str, deque[T]] = {}
        self._turns: deque[str] = deque()
        self._size = 0
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return self._size

    def put(self, key: str, item: T) -> bool:
        queue = self._queues.get(key)
        if queue is None:
            if self._size >= self._total:
                return False
            queue = self._queues[key] = deque()
            self._turns.append(key)
        elif len(queue) >= self._per_terminal or self._size >= self._total:
            return False
        queue.append(item)
        self._size += 1
        self._ready.set()
        return True

    async def get(self) -> tuple[str, T]:
        while not self._turns:
            self._ready.clear()
            await self._ready.wait()
        key = self._turns.popleft()
        queue = self._queues[key]
        item = queue.popleft()
        self._size -= 1
        if queue:
            self._turns.append(key)
        else:
            del self._queues[key]
        return key, item


class Refusals:
    """Refused messages counted by reason; each terminal's refusals logged (and answered) at
    most once per interval, with the count of those left unsaid since."""

    def __init__(self, *, interval: float, tracked: int, clock: Clock = time.monotonic) -> None:
        self.by_reason: Counter[str] = Counter()
        self._interval = interval
        self._tracked = tracked
        self._clock = clock
        self._said: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def record(self, terminal: str, reason: str) -> int | None:
        """Count one refusal; the number of refusals of ``terminal`` left unsaid before it when
        this one is to be logged and answered now, else None."""
        self.by_reason[reason] += 1
        now = self._clock()
        last = self._said.pop(terminal, None)
        if last is not None and now - last[0] < self._interval:
            self._said[terminal] = (last[0], last[1] + 1)
            return None
        self._said[terminal] = (now, 0)
        if len(self._said) > self._tracked:
            self._said.popitem(last=False)
        return last[1] if last is not None else 0
