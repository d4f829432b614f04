"""Calls made while one runs are gathered into the next."""

from __future__ import annotations

import asyncio

import pytest

from ehr_bridge.coalescing import Coalescing


async def test_calls_waiting_go_together_each_gets_its_own_result() -> None:
    calls: list[list[int]] = []
    gate = asyncio.Event()

    async def double(items: list[int]) -> list[int]:
        calls.append(items)
        if len(calls) == 1:
            await gate.wait()
        return [2 * i for i in items]

    together = Coalescing(double, name="test")
    first = asyncio.ensure_future(together.submit(1))
    await asyncio.sleep(0.01)  # the first call is running
    rest = [asyncio.ensure_future(together.submit(i)) for i in (2, 3, 4)]
    await asyncio.sleep(0.01)
    gate.set()
    assert [await first, *[await r for r in rest]] == [2, 4, 6, 8]
    assert calls == [[1], [2, 3, 4]]
    await together.close()


async def test_a_failed_call_fails_its_callers_only() -> None:
    async def picky(items: list[int]) -> list[int]:
        if 13 in items:
            raise ValueError("unlucky")
        return items

    together = Coalescing(picky, name="test")
    with pytest.raises(ValueError, match="unlucky"):
        await together.submit(13)
    assert await together.submit(7) == 7  # the worker lives on
    await together.close()


async def test_close_cancels_the_callers_waiting() -> None:
    async def never(items: list[int]) -> list[int]:
        await asyncio.Event().wait()
        return items

    together = Coalescing(never, name="test")
    waiting = asyncio.ensure_future(together.submit(1))
    await asyncio.sleep(0.01)
    await together.close()
    with pytest.raises(asyncio.CancelledError):
        await waiting
