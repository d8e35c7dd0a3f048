"""pacing.py: the one loop that moves a VirtualClock, and the thread pool it waits for."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from portwatch.clock import VirtualClock
from portwatch.sim.pacing import PacingError, TrackingExecutor, pace

START = datetime(2026, 3, 2, 8, tzinfo=UTC)


async def test_pace_reaches_the_target_time_when_run_flat_out() -> None:
    """A day played with no speed limit ends exactly at its end, however it was stepped."""
    clock = VirtualClock(START)
    await pace(clock, START + timedelta(days=1), speed=None, step_s=3600)
    assert clock.now() == START + timedelta(days=1)


async def test_pace_refuses_a_speed_that_is_not_positive() -> None:
    """A zero or negative speed would never get anywhere; say so instead of hanging."""
    with pytest.raises(PacingError):
        await pace(VirtualClock(START), START + timedelta(hours=1), speed=0)


def test_tracking_executor_is_busy_while_work_runs_in_its_thread() -> None:
    """Simulated time must wait for real work: the pool says when some is in flight."""
    gate = threading.Event()
    with TrackingExecutor(1) as pool:
        assert pool.idle
        future = pool.submit(gate.wait, 5)
        assert not pool.idle
        gate.set()
        future.result()
        pool.shutdown(wait=True)
        assert pool.idle
