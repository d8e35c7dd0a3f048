"""One source of time for the whole program.

Every stage takes a :class:`Clock` (or a plain ``now``) instead of reading the system
clock, so that the demo can play ten days in a minute and the tests can replay any
scenario exactly (design.md, "Time is data"). This is the only module allowed to read
the system clock; ruff's banned-API rule enforces that.
"""

from __future__ import annotations

import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    import asyncio

# asyncio is imported where a clock sleeps, not at import time: the commands a person types
# read the clock and never sleep (issue 20: `portwatch status` imports no asyncio).

__all__ = ["Clock", "ClockTrust", "SystemClock", "VirtualClock"]

# Loop iterations granted after each virtual wake-up so that callbacks chained with
# call_soon (Bumble's LocalLink, bleak's notification tasks) run before time moves on.
DEFAULT_SETTLE_ROUNDS: Final = 8


class ClockTrust(Enum):
    """How far a clock's ``now`` can be taken as true time (issue 7, issue 10).

    The daemon's clock on a Pi (:class:`~portwatch.service.timekeeping.TrustedClock`)
    passes through all three; the system clock on a synchronised machine and a virtual
    clock are ``SYNCHRONISED`` from the start. Callers ask the question they mean:

    - "is this anchored on true time?" (may a receive time teach a thermometer's clock
      offset): anything but ``ESTIMATED``;
    - "does it show the synchronised wall clock right now?" (the daemon's status line):
      ``SYNCHRONISED`` only.
    """

    # Never seen synchronised: counted on the monotonic clock from the log's last time,
    # which may be off by however long the gateway was down.
    ESTIMATED = "estimated"
    # Seen synchronised; the wall clock jumped and is not followed: counted on the
    # monotonic clock from the last trusted instant.
    HELD = "held"
    # Seen synchronised and following the wall clock.
    SYNCHRONISED = "synchronised"

    @property
    def anchored(self) -> bool:
        """True when ``now`` is counted from an instant known to be true time."""
        return self is not ClockTrust.ESTIMATED


class Clock(Protocol):
    """Wall time, monotonic time and sleeping, from one place."""

    @property
    def trust(self) -> ClockTrust:
        """How far :meth:`now` can be taken as true time (see :class:`ClockTrust`)."""
        ...

    def now(self) -> datetime:
        """The wall-clock time, aware and in UTC. May jump (NTP, a Pi booting in the past)."""
        ...

    def monotonic(self) -> float:
        """Seconds that only ever increase; use for durations and timeouts."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait for `seconds` of this clock's time."""
        ...


class SystemClock:
    """The real clocks of the machine (trusted as they are: the daemon watches them with
    :class:`~portwatch.service.timekeeping.TrustedClock`)."""

    @property
    def trust(self) -> ClockTrust:
        return ClockTrust.SYNCHRONISED

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        import asyncio

        await asyncio.sleep(max(0.0, seconds))


class VirtualClock:
    """A clock that moves only when told to, for the demo and the tests.

    Sleepers wake in deadline order as :meth:`advance` moves time forward; between
    wake-ups the event loop gets a few turns so that work triggered by a wake-up
    happens at that instant of virtual time. Wall time can be made to jump on its own
    (:meth:`jump_wall`) to simulate a system clock being set, while monotonic time
    keeps running smoothly, as on a real machine.

    .. warning:: Work that waits on a thread (sqlite in ``asyncio.to_thread``) or on real
       sockets is not awaited by :meth:`advance`; wait for its result explicitly.
    """

    def __init__(
        self,
        start: datetime,
        *,
        settle_rounds: int = DEFAULT_SETTLE_ROUNDS,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs an aware start time")
        self._start = start.astimezone(UTC)
        self._elapsed = 0.0
        self._wall_offset = timedelta(0)
        self._settle_rounds = settle_rounds
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    @property
    def trust(self) -> ClockTrust:
        """Simulated time is right time (the demo, the tests)."""
        return ClockTrust.SYNCHRONISED

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed) + self._wall_offset

    def monotonic(self) -> float:
        return self._elapsed

    async def sleep(self, seconds: float) -> None:
        import asyncio

        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._elapsed + seconds, next(self._seq), future))
        await future

    def next_deadline(self) -> float | None:
        """Monotonic time of the earliest pending sleeper, if any."""
        self._drop_cancelled()
        return self._sleepers[0][0] if self._sleepers else None

    async def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`, waking every sleeper due on the way, in order.

        Raises:
            ValueError: for a negative step; a monotonic clock never goes back.
        """
        if seconds < 0:
            raise ValueError("time cannot move backwards")
        target = self._elapsed + seconds
        # Let work scheduled just before this call register its sleepers first, so that a
        # job added "now" is not skipped past.
        await self.settle()
        while True:
            self._drop_cancelled()
            if not self._sleepers or self._sleepers[0][0] > target:
                break
            deadline, _, future = heapq.heappop(self._sleepers)
            self._elapsed = max(self._elapsed, deadline)
            future.set_result(None)
            await self.settle()
        self._elapsed = target
        await self.settle()

    async def advance_to(self, when: datetime) -> None:
        """Advance until the wall clock shows `when` (no-op if already past it)."""
        await self.advance(max(0.0, (when - self.now()).total_seconds()))

    def jump_wall(self, delta: timedelta) -> None:
        """Make the wall clock jump by `delta`; monotonic time is unaffected."""
        self._wall_offset += delta

    async def settle(self) -> None:
        """Give the event loop a few turns without moving time."""
        import asyncio

        for _ in range(self._settle_rounds):
            await asyncio.sleep(0)

    def _drop_cancelled(self) -> None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)
