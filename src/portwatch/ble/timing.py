"""The link's bookkeeping of time: reconnect backoff, adapter health, a device clock's offset.

Pure functions and small state on numbers the caller passes in (monotonic seconds, aware
times), so that each rule is tested on its own (tests/link/test_link_units.py), and one
wait that races a future against the injected Clock.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Final

from portwatch.clock import Clock

__all__ = [
    "ADAPTER_RESET_MIN_GAP_S",
    "ADAPTER_SILENCE_S",
    "BACKOFF_BASE_S",
    "AdapterWatch",
    "ClockOffset",
    "backoff_s",
    "wait_for",
]

# Reconnect backoff: exponential from 1 s, capped at 60 s, jittered (issue 3, "Reconnect
# forever ... with jittered exponential backoff capped at 60 s").
BACKOFF_BASE_S: Final = 1.0
BACKOFF_CAP_S: Final = 60.0
# Jitter keeps many gateways (or a retry and the thermometer's own timer) from lock-step.
BACKOFF_JITTER: Final = 0.5

# Offsets are learned from the last day of live measurements (a drifting clock moves).
OFFSET_MEMORY_S: Final = 86400.0

# Adapter health (issue 3): power-cycle after 5 minutes with no advertisement or
# connection, at most once per 15 minutes.
ADAPTER_SILENCE_S: Final = 300.0
ADAPTER_RESET_MIN_GAP_S: Final = 900.0


def backoff_s(failures: int, rng: random.Random) -> float:
    """Seconds to wait before the next connection attempt after ``failures`` in a row.

    0 after a clean loss (reconnect at once), then 1, 2, 4 ... s capped at 60 s, each
    scaled by a random factor in [0.5, 1.0].
    """
    if failures <= 0:
        return 0.0
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** min(failures - 1, 16))
    return ceiling * (1.0 - BACKOFF_JITTER * rng.random())


async def wait_for(
    clock: Clock, awaitable: asyncio.Future[Any] | asyncio.Event, seconds: float
) -> bool:
    """Wait for a future or event, at most ``seconds`` of Clock time; True if it came."""
    waiter: asyncio.Future[Any]
    if isinstance(awaitable, asyncio.Event):
        waiter = asyncio.ensure_future(awaitable.wait())
    else:
        waiter = awaitable
    timer = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait({waiter, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
        if isinstance(awaitable, asyncio.Event):
            waiter.cancel()
    return waiter.done() and not waiter.cancelled()


@dataclass(slots=True)
class AdapterWatch:
    """When to power-cycle the adapter: pure bookkeeping on monotonic seconds."""

    last_success: float
    last_reset: float | None = None

    def success(self, now_mono: float) -> None:
        self.last_success = now_mono

    def due(self, now_mono: float) -> bool:
        if now_mono - self.last_success < ADAPTER_SILENCE_S:
            return False
        return self.last_reset is None or now_mono - self.last_reset >= ADAPTER_RESET_MIN_GAP_S

    def reset(self, now_mono: float) -> None:
        self.last_reset = now_mono
        self.last_success = now_mono


class ClockOffset:
    """The device clock's offset from true time, learned from live measurements.

    A live measurement is sent as it is taken, so its device time read in the gateway's
    zone, less the time it was received, is the device clock's error plus a small delay.
    Stored measurements sent late would look like a large negative error, so the offset
    is the largest candidate of the last day (the least-delayed one), and measurements
    received just after subscribing (possibly stored ones) teach nothing.
    """

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self._candidates: deque[tuple[float, float]] = deque()
        self._fixed: float | None = None

    def set_exact(self, offset_s: float) -> None:
        """We wrote the device's clock: its offset is known."""
        self._fixed = offset_s
        self._candidates.clear()

    def observe(self, device_time: datetime, received_at: datetime, received_mono: float) -> None:
        candidate = (self.as_utc(device_time) - received_at).total_seconds()
        self._candidates.append((received_mono, candidate))
        while self._candidates and received_mono - self._candidates[0][0] > OFFSET_MEMORY_S:
            self._candidates.popleft()

    @property
    def offset_s(self) -> float | None:
        if self._candidates:
            return max(c for _, c in self._candidates)
        return self._fixed

    def as_utc(self, device_time: datetime) -> datetime:
        return device_time.replace(tzinfo=self.zone).astimezone(UTC)

    def correct(self, device_time: datetime) -> datetime:
        """Device time read in the gateway's zone, corrected by the learned offset."""
        return self.as_utc(device_time) - timedelta(seconds=self.offset_s or 0.0)

    def timed(
        self, device_time: datetime, received_at: datetime, *, clock_trusted: bool
    ) -> datetime:
        """A time-stamped reading's time: the corrected stamp, never after an estimated receipt.

        While the gateway's clock only estimates the time (a Pi rebooted with no clock), the
        receive time may lag true time; a stamp is not let run ahead of it, so it cannot
        look "in the future" (fever-rule.md §1, issue 7).
        """
        time = self.correct(device_time)
        return time if clock_trusted else min(time, received_at)
