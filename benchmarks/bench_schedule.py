"""Ten simulated days of the daemon's timed work on the VirtualClock, in wall seconds.

Figure: the whole ten-day course (15-min heartbeat, a daily summary at a local time, a
dated reminder) run by portwatch.service.schedule's runner on a VirtualClock.
Baseline, same run: APScheduler's triggers alone, asked for the same fire times in a
plain loop; the difference is the cost of the runner, the event loop and the clock.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from datetime import time as local_time
from zoneinfo import ZoneInfo

from portwatch.clock import VirtualClock
from portwatch.service.schedule import Scheduler, Trigger, daily_at, every, once_at

START = datetime(2026, 10, 28, 8, 0, tzinfo=UTC)
ZONE = ZoneInfo("America/New_York")


def _triggers() -> dict[str, Trigger]:
    return {
        "heartbeat": every(timedelta(minutes=15), start=START),
        "summary": daily_at(local_time(20, 0), ZONE),
        "dressing": once_at(START + timedelta(days=3)),
    }


async def _course(days: int) -> int:
    clock = VirtualClock(START)
    scheduler = Scheduler(clock)
    runs = 0

    async def job(due: datetime) -> None:
        nonlocal runs
        runs += 1

    for name, trigger in _triggers().items():
        scheduler.add(name, trigger, job)
    task = asyncio.create_task(scheduler.run())
    await clock.settle()
    await clock.advance(days * 86400)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return runs


def _triggers_alone(days: int) -> int:
    end = START + timedelta(days=days)
    runs = 0
    for trigger in _triggers().values():
        fire = trigger.first(START)
        while fire is not None and fire <= end:
            runs += 1
            fire = trigger.after(fire, fire)
    return runs


def measure(quick: bool) -> list[dict[str, object]]:
    days = 2 if quick else 10
    began = time.perf_counter()
    runs = asyncio.run(_course(days))
    course_s = time.perf_counter() - began
    began = time.perf_counter()
    expected = _triggers_alone(days)
    alone_s = time.perf_counter() - began
    if runs != expected:
        raise AssertionError(f"runner fired {runs} jobs, the triggers name {expected}")
    return [
        {
            "figure": f"{days} simulated days of timed work ({runs} runs)",
            "value": course_s,
            "unit": "s",
            "baseline": "the same fire times from the triggers alone",
            "baseline_value": alone_s,
        }
    ]


if __name__ == "__main__":
    for row in measure(quick=False):
        print(row)
