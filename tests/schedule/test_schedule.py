"""The scheduler on the VirtualClock: ten simulated days in seconds, exact counts and times."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from portwatch.clock import VirtualClock
from portwatch.service.schedule import JobFunc, ScheduleError, Scheduler, daily_at, every, once_at

# 2026-10-28 08:00 UTC: the ten days cross the end of US daylight-saving time (Nov 1).
START = datetime(2026, 10, 28, 8, 0, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")


class Recorder:
    """Collects (job, due time, wall time at run) so tests can assert exact schedules."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.runs: dict[str, list[datetime]] = {}
        self.ran_at: dict[str, list[datetime]] = {}

    def job(self, name: str) -> JobFunc:
        async def record(due: datetime) -> None:
            self.runs.setdefault(name, []).append(due)
            self.ran_at.setdefault(name, []).append(self.clock.now())

        return record


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
async def scheduler(clock: VirtualClock) -> AsyncIterator[Scheduler]:
    scheduler = Scheduler(clock)
    task = asyncio.create_task(scheduler.run())
    await clock.settle()
    yield scheduler
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_ten_days_fire_exact_counts_and_times_when_run_on_virtual_clock(
    clock: VirtualClock, scheduler: Scheduler
) -> None:
    """design.md: one test of ten simulated days, in seconds, proves the scheduling choice."""
    rec = Recorder(clock)
    scheduler.add("heartbeat", every(timedelta(minutes=15), start=START), rec.job("heartbeat"))
    scheduler.add("summary", daily_at(time(20, 0), NEW_YORK), rec.job("summary"))
    scheduler.add("dressing", once_at(START + timedelta(days=3, hours=1)), rec.job("dressing"))
    await clock.settle()
    await clock.advance(10 * 86400)

    beats = rec.runs["heartbeat"]
    assert len(beats) == 10 * 96 + 1  # 08:00 on day 0 up to and including 08:00 on day 10
    assert beats[0] == START
    assert beats[-1] == START + timedelta(days=10)
    assert all(b - a == timedelta(minutes=15) for a, b in itertools.pairwise(beats))
    assert rec.ran_at["heartbeat"] == beats  # each ran at the virtual instant it was due

    # 20:00 in New York is 00:00 UTC under EDT and 01:00 UTC under EST (from Nov 1).
    summaries = rec.runs["summary"]
    assert len(summaries) == 10
    assert summaries[0] == datetime(2026, 10, 29, 0, 0, tzinfo=UTC)
    assert summaries[4] == datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    assert {s.astimezone(NEW_YORK).time() for s in summaries} == {time(20, 0)}

    assert rec.runs["dressing"] == [START + timedelta(days=3, hours=1)]
    assert scheduler.job_names == ("heartbeat", "summary")  # the one-off is gone


async def test_job_added_later_wakes_runner_when_due_sooner_than_its_sleep(
    clock: VirtualClock, scheduler: Scheduler
) -> None:
    """A recheck reminder added mid-sleep must run at its time, not at the next heartbeat."""
    rec = Recorder(clock)
    scheduler.add("heartbeat", every(timedelta(hours=1), start=START), rec.job("heartbeat"))
    await clock.settle()
    await clock.advance(60)
    due = START + timedelta(minutes=5)
    scheduler.add("recheck:x", once_at(due), rec.job("recheck"))
    await clock.settle()
    await clock.advance(3600)
    assert rec.ran_at["recheck"] == [due]


async def test_one_off_in_the_past_runs_at_once_when_added(
    clock: VirtualClock, scheduler: Scheduler
) -> None:
    """A reminder derived at start-up whose time has passed is sent, not lost."""
    rec = Recorder(clock)
    scheduler.add("late", once_at(START - timedelta(hours=2)), rec.job("late"))
    await clock.settle()
    assert rec.runs["late"] == [START - timedelta(hours=2)]
    assert rec.ran_at["late"] == [START]


async def test_failing_job_keeps_schedule_and_others_run_when_it_raises(
    clock: VirtualClock, scheduler: Scheduler, caplog: pytest.LogCaptureFixture
) -> None:
    """One stage's failure never takes the daemon's timed work down (issue 7)."""
    rec = Recorder(clock)
    failures = 0

    async def broken(due: datetime) -> None:
        nonlocal failures
        failures += 1
        raise RuntimeError("outbox unavailable")

    scheduler.add("broken", every(timedelta(minutes=10), start=START), broken)
    scheduler.add("heartbeat", every(timedelta(minutes=15), start=START), rec.job("heartbeat"))
    await clock.settle()
    with caplog.at_level(logging.ERROR, logger="portwatch.service.schedule"):
        await clock.advance(3600)
    assert failures == 7
    assert len(rec.runs["heartbeat"]) == 5
    assert "job broken" in caplog.text


async def test_forward_clock_jump_coalesces_missed_runs_into_none_when_system_clock_is_set(
    clock: VirtualClock, scheduler: Scheduler, caplog: pytest.LogCaptureFixture
) -> None:
    """A Pi that booted in the past and then synchronised must not fire 96 heartbeats at once."""
    rec = Recorder(clock)
    scheduler.add("heartbeat", every(timedelta(minutes=15), start=START), rec.job("heartbeat"))
    await clock.settle()
    await clock.advance(60)
    clock.jump_wall(timedelta(days=1))
    with caplog.at_level(logging.INFO, logger="portwatch.service.schedule"):
        await clock.advance(15 * 60)
    assert "system clock jumped by +86400 s" in caplog.text
    assert rec.runs["heartbeat"] == [START, START + timedelta(days=1, minutes=15)]


async def test_backward_clock_jump_reschedules_from_new_time_when_system_clock_is_set_back(
    clock: VirtualClock, scheduler: Scheduler
) -> None:
    """Jobs must not wait a whole day because the wall clock was set back a day."""
    rec = Recorder(clock)
    scheduler.add("heartbeat", every(timedelta(minutes=15), start=START), rec.job("heartbeat"))
    await clock.settle()
    await clock.advance(60)
    clock.jump_wall(timedelta(days=-1))
    await clock.advance(20 * 60)
    assert len(rec.runs["heartbeat"]) == 2
    assert rec.runs["heartbeat"][1] - clock.now() <= timedelta(minutes=15)


async def test_slow_job_is_not_started_twice_when_still_running(
    clock: VirtualClock, scheduler: Scheduler
) -> None:
    """A delivery stuck for an hour must not pile up four copies of itself."""
    started: list[datetime] = []

    async def slow(due: datetime) -> None:
        started.append(due)
        await clock.sleep(50 * 60)

    scheduler.add("slow", every(timedelta(minutes=15), start=START), slow)
    await clock.settle()
    await clock.advance(3600 - 1)
    assert started == [START]  # 08:15, 08:30 and 08:45 skipped while it ran
    await clock.advance(1)
    assert started == [START, START + timedelta(hours=1)]


async def test_remove_stops_future_runs_when_job_is_cancelled(
    clock: VirtualClock, scheduler: Scheduler
) -> None:
    """A recheck reminder is withdrawn when the fever is confirmed before it is due."""
    rec = Recorder(clock)
    scheduler.add("recheck:x", once_at(START + timedelta(hours=4)), rec.job("recheck"))
    await clock.settle()
    assert scheduler.remove("recheck:x")
    await clock.advance(5 * 3600)
    assert "recheck" not in rec.runs
    assert not scheduler.remove("recheck:x")


def test_naive_datetime_is_refused_when_building_a_trigger() -> None:
    """Only aware datetimes exist inside portwatch."""
    with pytest.raises(ScheduleError, match="aware"):
        once_at(datetime(2026, 11, 1, 8, 0))
    with pytest.raises(ScheduleError, match="longer than zero"):
        every(timedelta(0), start=START)
