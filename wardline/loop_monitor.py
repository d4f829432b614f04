"""Event-loop lag: measured all the time, exported, and every stall named in the log.

A heartbeat task sleeps ``interval`` and measures how late it wakes: that lateness is the lag
every other task suffered, observed into the ``wardline_event_loop_lag_seconds`` histogram.
A watchdog thread looks at the heartbeat: when the loop has not beaten for ``threshold``, it
samples the stack of the loop's thread, so the warning ``loop.stall`` logged when the loop
comes back names the asyncio task and the code that held it (or the garbage collector), and
how much CPU the loop's thread spent meanwhile (a stall with little CPU is the machine, not
our code). Asterisk drops an AMI reader that is 100 ms late: a stall is a bug to find.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Histogram

log = structlog.get_logger(__name__)

PROJECT = ("wardline", "telephony", "bedside", "ehr_bridge", "kiosk_ui")
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(frozen=True)
class Stall:
    seconds: float
    cpu: float
    """CPU time the loop's thread spent meanwhile: near ``seconds``, our code held the loop;
    far below, the process was waiting for a core (a machine too busy)."""
    task: str
    where: str


def describe(frame: FrameType | None) -> str:
    """The innermost frame of our own code, and the innermost frame overall."""
    innermost = ours = None
    while frame is not None:
        module = str(frame.f_globals.get("__name__", "?"))
        here = f"{module}:{frame.f_code.co_name}:{frame.f_lineno}"
        innermost = innermost or here
        if ours is None and module.split(".")[0] in PROJECT and module != __name__:
            ours = here
        frame = frame.f_back
    if ours is None or ours == innermost:
        return innermost or "unknown"
    return f"{ours} in {innermost}"


@dataclass
class LoopMonitor:
    histogram: Histogram | None = None
    threshold: float = 0.1
    interval: float = 0.025
    on_stall: Callable[[Stall], None] | None = None
    samples: list[float] | None = None
    """When a list: every lag is kept in it too (benchmarks)."""
    armed: bool = True
    """Stalls are logged once armed (the service arms it when it has started: imports, the
    first connections and the start-up collection are not stalls of the running service)."""
    worst: float = 0.0
    stalls: list[Stall] = field(default_factory=list)
    _beat: float = 0.0
    _seen: tuple[str, str] | None = None
    _gc_started: float = 0.0
    _gc_pause: tuple[int, float] | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    async def run(self) -> None:
        """The heartbeat (until cancelled), with its watchdog thread."""
        loop = asyncio.get_running_loop()
        thread_id = threading.get_ident()
        watchdog = threading.Thread(
            target=self._watch, args=(loop, thread_id), name="loop-watchdog", daemon=True
        )
        self._beat = time.monotonic()
        self._stop.clear()
        watchdog.start()
        gc.callbacks.append(self._gc)
        try:
            while True:
                before, cpu_before = time.monotonic(), time.thread_time()
                await asyncio.sleep(self.interval)
                now = time.monotonic()
                self._beat = now
                self.observe(
                    max(0.0, now - before - self.interval), time.thread_time() - cpu_before
                )
        finally:
            self._stop.set()
            gc.callbacks.remove(self._gc)

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        """The longest collection since the last beat (a full one can hold the loop)."""
        now = time.perf_counter()
        if phase == "start":
            self._gc_started = now
        elif self._gc_started:
            pause = now - self._gc_started
            if self._gc_pause is None or pause > self._gc_pause[1]:
                self._gc_pause = (info.get("generation", -1), pause)

    def observe(self, lag: float, cpu: float = 0.0) -> None:
        if self.histogram is not None:
            self.histogram.observe(lag)
        if self.samples is not None:
            self.samples.append(lag)
        self.worst = max(self.worst, lag)
        if lag >= self.threshold and self.armed:
            task, where = self._seen or ("unknown", "unknown")
            if self._gc_pause is not None and self._gc_pause[1] >= self.threshold / 2:
                generation, pause = self._gc_pause
                where = f"garbage collection of generation {generation} ({pause * 1000:.0f} ms)"
            stall = Stall(lag, cpu, task, where)
            self.stalls.append(stall)
            del self.stalls[:-100]
            log.warning(
                "loop.stall",
                lag_ms=round(lag * 1000),
                cpu_ms=round(cpu * 1000),
                task=task,
                where=where,
            )
            if self.on_stall is not None:
                self.on_stall(stall)
        self._seen = None
        self._gc_pause = None

    def _watch(self, loop: asyncio.AbstractEventLoop, thread_id: int) -> None:
        """Sample what the loop's thread runs once it is late (one sample per stall)."""
        while not self._stop.wait(self.threshold / 4):
            if self._seen is None and time.monotonic() - self._beat > self.threshold:
                self._seen = (_task_name(loop), describe(sys._current_frames().get(thread_id)))


def _task_name(loop: asyncio.AbstractEventLoop) -> str:
    try:  # read from another thread: a best-effort name, never an error
        task: Any = asyncio.tasks._current_tasks.get(loop)  # type: ignore[attr-defined]
        return str(task.get_name()) if task is not None else "a callback"
    except Exception:
        return "unknown"


def loop_lag_histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram(
        "wardline_event_loop_lag_seconds",
        "How late the event loop ran a task that was ready (heartbeat lateness)",
        buckets=BUCKETS,
        registry=registry,
    )


def monitor_context(
    monitor: LoopMonitor,
) -> Callable[[object], AsyncIterator[None]]:
    """A cleanup context running ``monitor`` for the application's life."""

    async def context(_app: object) -> AsyncIterator[None]:
        task = asyncio.create_task(monitor.run(), name="loop-monitor")
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    return context


def started(monitor: LoopMonitor) -> Callable[[object], Awaitable[None]]:
    """An ``on_startup`` handler, run once every cleanup context has started: collect, then
    move every object alive to the collector's permanent generation (a full collection
    otherwise walks the whole heap of the libraries and the start-up: measured at about
    110 ms on the loop under ADT and AMI load, the worst step by far; after this it walks only
    what the service made since); then arm the monitor."""

    async def freeze_startup_heap(_app: object) -> None:
        gc.collect()
        gc.freeze()
        monitor.armed = True

    return freeze_startup_heap


async def thaw_heap(_app: object) -> None:
    """At shutdown: the frozen objects back to the collector (a process that builds several
    applications, as the tests do, frees what each left)."""
    gc.unfreeze()
