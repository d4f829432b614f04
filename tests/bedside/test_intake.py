"""The intake's bookkeeping, pure: rate limit per terminal, fair bounded lanes, refusals said
once per interval."""

from __future__ import annotations

from bedside.intake import FairLane, RateLimiter, Refusals


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limit_is_per_terminal_and_refills() -> None:
    clock = Clock()
    limiter = RateLimiter(10.0, 5, tracked=100, clock=clock)
    assert [limiter.allow("A") for _ in range(7)] == [True] * 5 + [False] * 2
    assert limiter.allow("B")  # another terminal has its own bucket
    clock.now += 0.1  # one token back at 10/s
    assert limiter.allow("A") and not limiter.allow("A")
    clock.now += 60  # refilled, never above the burst
    assert sum(limiter.allow("A") for _ in range(10)) == 5


def test_rate_limiter_forgets_the_least_recent_beyond_its_size() -> None:
    limiter = RateLimiter(1.0, 1, tracked=2, clock=Clock())
    assert limiter.allow("A") and not limiter.allow("A")
    limiter.allow("B")
    limiter.allow("C")  # A forgotten: it starts full again
    assert limiter.allow("A")


async def test_fair_lane_serves_terminals_in_turn_and_bounds_each() -> None:
    lane: FairLane[int] = FairLane(per_terminal=3, total=100)
    assert [lane.put("A", n) for n in range(5)] == [True, True, True, False, False]
    assert lane.put("B", 100)
    assert lane.put("C", 200)
    served = [await lane.get() for _ in range(len(lane))]
    # B and C wait behind one message of A, not behind A's whole backlog; A's order kept.
    assert served == [("A", 0), ("B", 100), ("C", 200), ("A", 1), ("A", 2)]
    assert len(lane) == 0


async def test_fair_lane_total_bound() -> None:
    lane: FairLane[int] = FairLane(per_terminal=10, total=3)
    assert [lane.put(k, 1) for k in "ABCD"] == [True, True, True, False]
    await lane.get()
    assert lane.put("D", 1)


def test_refusals_counted_always_said_once_per_interval() -> None:
    clock = Clock()
    refusals = Refusals(interval=60, tracked=100, clock=clock)
    said = [refusals.record("A", "mqtt.payload_not_json") for _ in range(5)]
    assert said == [0, None, None, None, None]
    assert refusals.record("B", "mqtt.rate_limited") == 0  # each terminal its own interval
    clock.now += 61
    assert refusals.record("A", "mqtt.rate_limited") == 4  # the 4 unsaid since
    assert refusals.by_reason == {"mqtt.payload_not_json": 5, "mqtt.rate_limited": 2}
