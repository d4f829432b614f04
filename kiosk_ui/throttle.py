"""Sign-in throttling: growing delays after repeated failures, never a lock.

Failures are counted per account and address together, per address, and per account over
every address. After a few free failures, each key must wait before its next attempt, the
wait doubling with every further failure up to a cap; an attempt during the wait is answered
429 ``auth.throttled`` with the seconds left, before any password is checked. The answer
depends only on the name typed and the address, never on whether the account exists, so it
tells nothing about which accounts exist. The account-wide wait is capped low (a minute), so
nobody can keep a colleague out for long, while guessing from one address slows down to one
try per quarter hour. A success clears the account's counters; the address's decay with time.
The counters live in the process (several instances each count their own: the delays still
grow, by the number of instances at most slower).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk_ui.errors import WebError


@dataclass(frozen=True)
class Rule:
    free: int
    """Failures allowed before the first wait."""
    cap: float
    """The longest wait, in seconds."""


PAIR = Rule(free=3, cap=900.0)
ADDRESS = Rule(free=20, cap=900.0)
ACCOUNT = Rule(free=20, cap=60.0)
FORGET_AFTER = 3600.0


@dataclass
class _Count:
    failures: int = 0
    last: float = 0.0
    until: float = 0.0


class SignInThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic, base: float = 1.0) -> None:
        self.clock, self.base = clock, base
        self._counts: dict[str, _Count] = {}

    @staticmethod
    def _keys(account: str, address: str) -> list[tuple[str, Rule]]:
        name = account.strip().lower()
        return [
            (f"pair:{name}\x00{address}", PAIR),
            (f"address:{address}", ADDRESS),
            (f"account:{name}", ACCOUNT),
        ]

    def check(self, account: str, address: str) -> None:
        """Raise ``auth.throttled`` while one of the keys must still wait."""
        now = self.clock()
        counts = [self._get(key, now) for key, _ in self._keys(account, address)]
        wait = max((c.until - now for c in counts if c is not None), default=0.0)
        if wait > 0:
            seconds = math.ceil(wait)
            raise WebError(
                "auth.throttled",
                f"too many failed sign-ins: try again in {seconds} seconds",
                retry_after=seconds,
            )

    def failed(self, account: str, address: str) -> None:
        now = self.clock()
        for key, rule in self._keys(account, address):
            count = self._get(key, now) or self._counts.setdefault(key, _Count())
            count.failures += 1
            count.last = now
            over = count.failures - rule.free
            if over >= 0:
                count.until = now + min(rule.cap, self.base * 2**over)
        if len(self._counts) > 50_000:  # bounded memory: forget the quiet keys
            for key in [k for k, c in self._counts.items() if now - c.last > FORGET_AFTER]:
                del self._counts[key]

    def succeeded(self, account: str, address: str) -> None:
        for key, rule in self._keys(account, address):
            if rule is not ADDRESS:
                self._counts.pop(key, None)

    def _get(self, key: str, now: float) -> _Count | None:
        count = self._counts.get(key)
        if count is not None and now - count.last > FORGET_AFTER and now >= count.until:
            del self._counts[key]
            return None
        return count
