"""Timed work on the program's one Clock: heartbeats, rechecks, reminders, the daily summary.

The choice (design.md, "Choose once"): APScheduler 3's *triggers* decide when a job is
next due — they compute the next fire time from a ``now`` we pass, with its tested
handling of intervals, cron expressions, time zones and daylight-saving changes — and
this module's small runner waits on the :class:`~portwatch.clock.Clock`. APScheduler's
own ``AsyncIOScheduler`` reads ``datetime.now`` and waits on the event loop's timer, so a
virtual clock could not move it; here the VirtualClock moves every job together, with
no second code path and nothing monkeypatched. Only this module imports apscheduler.

Guarantees:
- a job runs at most once at a time (a run still going when the next is due is skipped);
- a job that raises is logged and keeps its schedule; it never stops the runner;
- missed runs are coalesced into one (the Pi was busy or its clock jumped forward);
- a jump of the wall clock is detected against monotonic time, logged, and every
  job's next run is recomputed from the new time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Final, Protocol
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from portwatch.clock import Clock
from portwatch.service.timekeeping import JUMP_TOLERANCE_S

__all__ = ["JobFunc", "ScheduleError", "Scheduler", "Trigger", "daily_at", "every", "once_at"]

_LOGGER = logging.getLogger(__name__)

# Longest single wait: the runner looks at the wall clock at least this often, so a jump
# of the system clock (a Pi that booted in the past, then synchronised) is noticed within
# five minutes (issue 7, "The clock").
MAX_SLEEP_S: Final = 300.0

JobFunc = Callable[[datetime], Awaitable[None]]
"""A job: called with the time it was due (not the time it ran)."""


class ScheduleError(ValueError):
    """A job or trigger was described wrongly (naive datetime, non-positive interval)."""


class _ApsTrigger(Protocol):
    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Trigger:
    """When a job runs; build one with :func:`every`, :func:`daily_at` or :func:`once_at`."""

    description: str
    _aps: _ApsTrigger
    # True for times named on the wall clock (a daily summary at 20:00, a reminder's date);
    # False for intervals, which keep their spacing in elapsed time when the clock jumps.
    follows_wall: bool

    def first(self, now: datetime) -> datetime | None:
        """The first fire time seen from ``now``; a one-off already past is due at once."""
        fire = self._aps.get_next_fire_time(None, now)
        return None if fire is None else fire.astimezone(UTC)

    def after(self, previous: datetime, now: datetime) -> datetime | None:
        """The first fire time after ``previous`` that is later than ``now`` (None: done).

        Fire times between the two are skipped: missed runs are coalesced into the one
        that is running now.
        """
        fire = self._aps.get_next_fire_time(previous, now)
        while fire is not None and fire <= now:
            fire = self._aps.get_next_fire_time(fire, now)
        return None if fire is None else fire.astimezone(UTC)


def _aware(when: datetime, what: str) -> datetime:
    if when.tzinfo is None:
        raise ScheduleError(f"{what} = {when.isoformat()}: must be an aware datetime")
    return when


def every(interval: timedelta, *, start: datetime) -> Trigger:
    """Every ``interval``, the first time at ``start`` (runs stay aligned to ``start``)."""
    if interval <= timedelta(0):
        raise ScheduleError(f"interval = {interval}: must be longer than zero")
    aps = IntervalTrigger(
        seconds=interval.total_seconds(), start_date=_aware(start, "start"), timezone=UTC
    )
    return Trigger(f"every {interval}", aps, follows_wall=False)


def daily_at(local: time, zone: ZoneInfo) -> Trigger:
    """Every day at the local time ``local`` in ``zone``, through daylight-saving changes."""
    aps = CronTrigger(hour=local.hour, minute=local.minute, second=0, timezone=zone)
    return Trigger(f"daily at {local:%H:%M} {zone.key}", aps, follows_wall=True)


def once_at(when: datetime) -> Trigger:
    """Once, at ``when`` (at once if that is already past when the job is added)."""
    aps = DateTrigger(run_date=_aware(when, "when"), timezone=UTC)
    return Trigger(f"once at {when.isoformat()}", aps, follows_wall=True)


@dataclass(slots=True)
class _Job:
    name: str
    trigger: Trigger
    func: JobFunc
    next_fire: datetime | None
    running: asyncio.Task[None] | None = None


class Scheduler:
    """Runs jobs on a :class:`Clock`; start it with ``await scheduler.run()`` in an owned task.

    Jobs are keyed by name: adding a name again replaces the job, which makes the
    deterministic names of reminders (``recheck:<id>``) safe to add after a restart.

    .. tip:: With a :class:`~portwatch.clock.VirtualClock`, let the loop settle
       (``await clock.settle()``) after :meth:`add` and before advancing time, so that the
       runner sees the new job before the clock moves past it.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._jobs: dict[str, _Job] = {}
        self._changed = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()

    def add(self, name: str, trigger: Trigger, func: JobFunc) -> datetime | None:
        """Schedule (or reschedule) ``name``; returns its first fire time (None: never)."""
        first = trigger.first(self._clock.now())
        old = self._jobs.get(name)
        job = _Job(name, trigger, func, first, old.running if old else None)
        if first is None:
            self._jobs.pop(name, None)
        else:
            self._jobs[name] = job
        _LOGGER.debug("job %s scheduled %s, first at %s", name, trigger.description, first)
        self._changed.set()
        return first

    def remove(self, name: str) -> bool:
        """Unschedule ``name`` (a run in progress finishes); False when there was none."""
        found = self._jobs.pop(name, None) is not None
        self._changed.set()
        return found

    def next_fire_time(self, name: str) -> datetime | None:
        """When ``name`` runs next, or None when it is not scheduled."""
        job = self._jobs.get(name)
        return job.next_fire if job else None

    @property
    def job_names(self) -> tuple[str, ...]:
        """The scheduled jobs, in name order."""
        return tuple(sorted(self._jobs))

    async def run(self) -> None:
        """Run due jobs until cancelled; on cancellation, cancel and await runs in progress."""
        wall = self._clock.now()
        mono = self._clock.monotonic()
        try:
            while True:
                now = self._clock.now()
                drift = (now - wall).total_seconds() - (self._clock.monotonic() - mono)
                if abs(drift) > JUMP_TOLERANCE_S:
                    self._rebase(now, drift)
                wall, mono = now, self._clock.monotonic()
                self._fire_due(now)
                await self._wait(self._delay(now))
        finally:
            for task in self._running:
                task.cancel()
            if self._running:
                await asyncio.gather(*self._running, return_exceptions=True)

    def _rebase(self, now: datetime, drift_s: float) -> None:
        _LOGGER.info("system clock jumped by %+.0f s; rescheduling every job", drift_s)
        for job in self._jobs.values():
            if job.next_fire is None:
                continue
            if not job.trigger.follows_wall:
                # An interval keeps its spacing in elapsed time: due in 14 min stays so.
                job.next_fire += timedelta(seconds=drift_s)
                continue
            # A wall-clock time missed by a forward jump runs once, at once; after a jump
            # back, the trigger's next time from the new now comes sooner and wins.
            first = job.trigger.first(now)
            if first is not None and first < job.next_fire:
                job.next_fire = first

    def _fire_due(self, now: datetime) -> None:
        due = sorted(
            (job.next_fire, job.name, job)
            for job in self._jobs.values()
            if job.next_fire is not None and job.next_fire <= now
        )
        for fire_time, _, job in due:
            job.next_fire = job.trigger.after(fire_time, now)
            if job.next_fire is None:
                del self._jobs[job.name]
            if job.running is not None and not job.running.done():
                _LOGGER.debug("job %s still running; skipping the run due %s", job.name, fire_time)
                continue
            job.running = asyncio.create_task(
                self._run_job(job.name, job.func, fire_time), name=f"job:{job.name}"
            )
            self._running.add(job.running)
            job.running.add_done_callback(self._running.discard)

    async def _run_job(self, name: str, func: JobFunc, fire_time: datetime) -> None:
        try:
            await func(fire_time)
        except asyncio.CancelledError:
            raise
        except Exception:
            # One job's failure must never stop the others (issue 7): log, keep the schedule.
            _LOGGER.exception("job %s (due %s) failed; it keeps its schedule", name, fire_time)

    def _delay(self, now: datetime) -> float:
        fires = [job.next_fire for job in self._jobs.values() if job.next_fire is not None]
        if not fires:
            return MAX_SLEEP_S
        return min(MAX_SLEEP_S, max(0.0, (min(fires) - now).total_seconds()))

    async def _wait(self, seconds: float) -> None:
        """Sleep on the clock for ``seconds``, or less if a job is added or removed."""
        if self._changed.is_set():
            self._changed.clear()
            return
        sleeper = asyncio.create_task(self._clock.sleep(seconds))
        changed = asyncio.create_task(self._changed.wait())
        try:
            await asyncio.wait({sleeper, changed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            changed.cancel()
            await asyncio.gather(sleeper, changed, return_exceptions=True)
        self._changed.clear()
