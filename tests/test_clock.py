"""VirtualClock: sleepers wake in order as virtual time is advanced, never in real time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from portwatch.clock import VirtualClock

START = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


async def test_sleepers_wake_in_deadline_order_when_time_advances() -> None:
    """Order of wake-ups follows deadlines, and each wakes at its own instant."""
    clock = VirtualClock(START)
    woke: list[tuple[str, datetime]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("b", 20), ("a", 10), ("c", 30))]
    await clock.settle()
    await clock.advance(25)
    assert woke == [("a", START + timedelta(seconds=10)), ("b", START + timedelta(seconds=20))]
    await clock.advance(10)
    assert [name for name, _ in woke] == ["a", "b", "c"]
    await asyncio.gather(*tasks)


async def test_ten_days_of_minute_ticks_run_without_real_waiting() -> None:
    """Ten simulated days of a once-a-minute loop complete with every tick counted."""
    clock = VirtualClock(START)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await clock.sleep(60)
            ticks += 1

    task = asyncio.create_task(ticker())
    await clock.settle()
    await clock.advance(10 * 24 * 3600)
    task.cancel()
    assert ticks == 10 * 24 * 60
    assert clock.now() == START + timedelta(days=10)


def test_jump_wall_moves_wall_time_but_not_monotonic() -> None:
    """A system clock being set must not disturb durations (the Pi boots in the past)."""
    clock = VirtualClock(START)
    clock.jump_wall(timedelta(hours=-1))
    assert clock.now() == START - timedelta(hours=1)
    assert clock.monotonic() == 0.0


async def test_advance_refuses_negative_steps() -> None:
    """Monotonic time never goes back."""
    clock = VirtualClock(START)
    with pytest.raises(ValueError, match="backwards"):
        await clock.advance(-1)


def test_naive_start_is_refused() -> None:
    """Only aware datetimes exist inside portwatch."""
    with pytest.raises(ValueError, match="aware"):
        VirtualClock(datetime(2026, 1, 1))


async def test_sleeper_started_just_before_advance_wakes_within_that_advance() -> None:
    """A job scheduled right before time moves must not be skipped past (daemon helper's trap)."""
    clock = VirtualClock(START)
    woke: list[datetime] = []

    async def sleeper() -> None:
        await clock.sleep(5)
        woke.append(clock.now())

    task = asyncio.create_task(sleeper())  # not yet started when advance() is called
    await clock.advance(10)
    assert woke == [START + timedelta(seconds=5)]
    await task
