"""Drive a VirtualClock at a chosen multiple of real time (the demo; `python -m portwatch.sim.run`).

The program itself never knows: every stage sleeps on the Clock, and this is the one loop
that moves it. Real time is read only to pace (``perf_counter``), never as data. Work that
happens off the event loop (SQLite commits in their thread, HTTP round trips) takes real
time while simulated time goes on; at 14,400x a 5 ms commit is 72 simulated seconds,
which nothing in portwatch notices (readings carry the time they were received).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any, Final, ParamSpec, TypeVar

from portwatch.clock import VirtualClock

__all__ = ["PacingError", "TrackingExecutor", "pace"]

_P = ParamSpec("_P")
_T = TypeVar("_T")

# Simulated seconds moved per step: fine enough that a one-minute wearable and the
# one-minute rule tick interleave as they would in real time.
DEFAULT_STEP_S: Final = 60.0
# Longest real wait for thread work before simulated time moves on regardless (a stuck
# thread must not hang the demo; the work it does has its own timeouts).
SETTLE_TIMEOUT_S: Final = 30.0
# How often (real seconds) to look whether thread work has finished.
SETTLE_POLL_S: Final = 0.0005


class PacingError(ValueError):
    """A speed or step that is not positive."""


class TrackingExecutor(ThreadPoolExecutor):
    """A thread pool that knows whether work is in flight.

    Simulated time must not run ahead of real work that reads it: a delivery signed at
    simulated time T and checked by the inbox minutes of simulated time later would be
    refused as a replay, and readings not yet committed would look like silence. The
    pacer waits until every tracked pool is idle before moving time on.
    """

    def __init__(self, max_workers: int | None = None, thread_name_prefix: str = "") -> None:
        super().__init__(max_workers, thread_name_prefix=thread_name_prefix)
        self._lock = threading.Lock()
        self._in_flight = 0

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        with self._lock:
            self._in_flight += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[Any]) -> None:
        del future
        with self._lock:
            self._in_flight -= 1

    @property
    def idle(self) -> bool:
        return self._in_flight == 0


async def pace(
    clock: VirtualClock,
    until: datetime,
    *,
    speed: float | None,
    step_s: float = DEFAULT_STEP_S,
    on_step: Callable[[datetime], None] | None = None,
    settled: Callable[[], bool] | None = None,
) -> float:
    """Advance ``clock`` to ``until``, ``speed`` simulated seconds per real second.

    ``speed=None`` runs as fast as the machine allows. Before each step, waits (in real
    time, up to :data:`SETTLE_TIMEOUT_S`) until ``settled()`` says no real work is in
    flight. Returns the real seconds taken.

    Raises:
        PacingError: for a speed or step that is not positive.
    """
    if (speed is not None and speed <= 0) or step_s <= 0:
        raise PacingError(f"speed ({speed}) and step ({step_s} s) must be positive")
    began = time.perf_counter()
    simulated = 0.0
    while (left := (until - clock.now()).total_seconds()) > 0:
        step = min(step_s, left)
        if settled is not None:
            await _wait_quiet(clock, settled)
        await clock.advance(step)
        simulated += step
        ahead = 0.0 if speed is None else simulated / speed - (time.perf_counter() - began)
        # Give real I/O (threads, sockets) a turn even when running flat out.
        await asyncio.sleep(max(0.0, ahead))
        if on_step is not None:
            on_step(clock.now())
    return time.perf_counter() - began


async def _wait_quiet(clock: VirtualClock, settled: Callable[[], bool]) -> None:
    """Wait until no thread work is in flight and the loop has nothing left to resume.

    A thread's result resumes its coroutine only on a later loop turn, and that coroutine
    may start more thread work; so settle the loop and look again until both are quiet.
    """
    while True:
        await _wait_settled(settled)
        await clock.settle()
        if settled():
            return


async def _wait_settled(settled: Callable[[], bool]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_TIMEOUT_S
    # Polling on purpose: the work runs in foreign threads that signal no asyncio Event.
    while not settled() and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(SETTLE_POLL_S)
