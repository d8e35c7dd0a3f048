"""The daemon's timed work over the log: care reminders, the stale-data watch, the summary.

This is the glue between the pure decisions (:mod:`portwatch.service.care`,
:mod:`portwatch.service.watch`, :mod:`portwatch.alerts.notices`), the log and the scheduler.
Everything it remembers lives in the log (reminder keys, notes, the watch's last notice), so a
restart neither loses nor repeats a notice. Notices leave through a :class:`NoticeSink`
(in the daemon: the outbox's notify channel, which logs, shows and pushes them); each
carries a deterministic key, so a sink that de-duplicates on it makes a crash between
"sent" and "recorded" harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Final, Protocol, TypeVar

from portwatch.alerts.notices import (
    Notice,
    NoticeKind,
    QuietHours,
    daily_summary,
    held_until,
    render,
    silent_advice,
)
from portwatch.alerts.outbound import notice_entries
from portwatch.alerts.outbox import clinic_entry
from portwatch.alerts.payloads import (
    AlertContext,
    ClinicFormat,
    GatewayState,
    heartbeat_alert,
    heartbeat_slot,
)
from portwatch.clock import Clock
from portwatch.config import Settings
from portwatch.log.store import OutboxEntry
from portwatch.model import Reading, ReadingKind, derived_id
from portwatch.period import day_number
from portwatch.service.care import due_reminders, next_reminder_time
from portwatch.service.schedule import JobFunc, Scheduler, daily_at, every, once_at
from portwatch.service.watch import MAX_PAUSE, Pause, StaleSay, stale_state

__all__ = ["NoticeSink", "TimedLog", "TimedWork", "heartbeat_job", "outbox_sink"]

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

# Where the watch keeps the time of its last stale notice (log meta table), so that a
# restart in the middle of a silence neither repeats "silent" nor forgets to say "back".
WATCH_LAST_NOTICE_KEY: Final = "watch.last_notice"
# How far back the watch looks for the last valid reading at start: beyond this the
# thermometer has long been reported silent, and the start time stands in for it.
LOOKBACK: Final = timedelta(days=1)

JOB_REMINDERS: Final = "care.reminders"
JOB_STALE: Final = "watch.stale"
JOB_SUMMARY: Final = "summary.daily"
JOB_HEARTBEAT: Final = "clinic.heartbeat"


class NoteLike(Protocol):
    """A note of the log (``portwatch.log.store.Note``)."""

    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def reason(self) -> str: ...


class StoredReadingLike(Protocol):
    """A reading of the log (``portwatch.log.store.StoredReading``)."""

    @property
    def reading(self) -> Reading: ...


class TimedLog(Protocol):
    """What timed work needs of the log; ``portwatch.log.store.Store`` provides it."""

    def run(self, fn: Callable[[], _T], /) -> Awaitable[_T]: ...
    def reminders_sent(self) -> set[str]: ...
    def reminder_sent(self, key: str, at: datetime) -> None: ...
    def notes(self, since: datetime, until: datetime) -> Iterable[NoteLike]: ...
    def readings(self, since: datetime, until: datetime) -> Iterable[StoredReadingLike]: ...
    def meta_get(self, key: str) -> str | None: ...
    def meta_set(self, key: str, value: str) -> None: ...


NoticeSink = Callable[[Notice, str, datetime], Awaitable[None]]
"""Sends ``notice`` under its deterministic ``key`` at ``now`` (the outbox's notify channel)."""


class OutboxLog(Protocol):
    """The log's outbox (``portwatch.log.store.Store.enqueue``), idempotent on the entry's id,
    called on the log's writer thread (``Store.run``)."""

    def run(self, fn: Callable[[], _T], /) -> Awaitable[_T]: ...
    def enqueue(self, entries: Sequence[OutboxEntry]) -> None: ...


def outbox_sink(log: OutboxLog, *, patient_channel: bool = False) -> NoticeSink:
    """A sink that puts each notice in the outbox on its readers' channels
    (``outbound.notice_channels``; ``patient_channel``: a patient URL is set), durable
    before it is sent, with an id derived from its key: a notice put twice (a restart
    between sending and recording) is one row per reader, delivered once. Quiet hours are
    applied by the caller (TimedWork holds the notice back itself)."""

    async def put(notice: Notice, key: str, now: datetime) -> None:
        entries = notice_entries(
            notice, str(derived_id("notice", key)), now=now, patient_channel=patient_channel
        )
        await log.run(partial(log.enqueue, entries))

    return put


def heartbeat_job(
    log: OutboxLog,
    context: AlertContext,
    state: Callable[[], GatewayState],
    clinic_format: ClinicFormat,
) -> JobFunc:
    """The gateway heartbeat (alerts.md: every 15 min, JSON channel) as a scheduler job.

    Each heartbeat's id is its 15-minute slot's, so a restart within a slot adds no second
    one. A FHIR clinic gets none: heartbeats travel only on the JSON channel.
    """

    async def beat(due: datetime) -> None:
        if clinic_format is not ClinicFormat.JSON:
            return
        entry = clinic_entry(heartbeat_alert(context, state(), due), context, clinic_format, due)
        await log.run(partial(log.enqueue, [entry]))

    return beat


@dataclass(slots=True)
class _Watch:
    last_valid: datetime
    last_notice: datetime | None
    kind: ReadingKind = ReadingKind.STREAM  # the last valid reading's (issue 19)


def _valid(reading: Reading) -> bool:
    return reading.invalid_reason is None and reading.celsius is not None


class TimedWork:
    """Schedules and performs the daemon's timed notices; start with :meth:`start`.

    Args:
        settings: validated settings (placement, zone, quiet hours, watch, display).
        log: the log, called only through its ``run`` (the log's writer thread).
        sink: where notices go.
        scheduler: the daemon's scheduler (on the same clock).
        clock: the daemon's clock.
        fever_pending: whether the rule waits for a recheck (the watch speaks sooner).
        recheck_due: when that recheck is due (a spot thermometer's watch waits for it);
            None when not known.
        fever_open: whether a fever episode is confirmed and not yet resolved; the daily
            summary must not say "no fever" then.
        heartbeat: the clinic heartbeat job (:func:`heartbeat_job`), if there is a clinic.
    """

    def __init__(
        self,
        settings: Settings,
        log: TimedLog,
        sink: NoticeSink,
        scheduler: Scheduler,
        clock: Clock,
        *,
        fever_pending: Callable[[], bool],
        fever_open: Callable[[], bool] | None = None,
        recheck_due: Callable[[], datetime | None] | None = None,
        heartbeat: JobFunc | None = None,
    ) -> None:
        self._settings = settings
        self._log = log
        self._sink = sink
        self._scheduler = scheduler
        self._clock = clock
        self._fever_pending = fever_pending
        self._fever_open = fever_open or (lambda: False)
        self._recheck_due = recheck_due or (lambda: None)
        self._heartbeat = heartbeat
        self._zone = settings.zone
        quiet = settings.notify.quiet_hours
        self._quiet = QuietHours(quiet.start, quiet.end, self._zone) if quiet else None
        self._watch: _Watch | None = None

    async def _call(self, work: Callable[[], _T]) -> _T:
        return await self._log.run(work)

    # -- start ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Derive the state from the log and schedule every job (safe to call on restart)."""
        now = self._clock.now()
        readings = await self._call(lambda: list(self._log.readings(now - LOOKBACK, now)))
        valid = [r.reading for r in readings if _valid(r.reading)]
        last = max(valid, key=lambda r: r.time, default=None)
        stored = await self._call(lambda: self._log.meta_get(WATCH_LAST_NOTICE_KEY))
        self._watch = _Watch(
            last_valid=now if last is None else last.time,
            last_notice=datetime.fromisoformat(stored) if stored else None,
            kind=ReadingKind.STREAM if last is None else last.kind,
        )
        self._scheduler.add(
            JOB_SUMMARY, daily_at(self._settings.notify.daily_summary_at, self._zone), self.summary
        )
        if self._heartbeat is not None:
            # Aligned to the heartbeat slots that give each heartbeat its identity.
            interval = self._settings.clinic.heartbeat_every
            self._scheduler.add(
                JOB_HEARTBEAT, every(interval, start=heartbeat_slot(now)), self._heartbeat
            )
        await self.reminders(now)
        await self.check_stale(now)

    # -- care reminders --------------------------------------------------------------------

    async def reminders(self, due: datetime) -> None:
        """Send the care reminders due now (quiet hours permitting); schedule the next."""
        del due
        now = self._clock.now()
        patient = self._settings.patient
        at = self._settings.notify.reminders_at
        sent = await self._call(self._log.reminders_sent)
        wake: list[datetime] = []
        for item in due_reminders(
            patient.placement,
            sent,
            now,
            zone=self._zone,
            at=at,
            port_in_regular_use=patient.port_in_regular_use,
        ):
            notice = render(NoticeKind(item.reminder.value), {})
            held = held_until(notice, self._quiet, now)
            if held is not None:
                _LOGGER.debug("reminder %s held by quiet hours until %s", item.key, held)
                wake.append(held)
                continue
            await self._sink(notice, item.key, now)
            await self._call(partial(self._log.reminder_sent, item.key, now))
        upcoming = next_reminder_time(
            patient.placement,
            now,
            zone=self._zone,
            at=at,
            port_in_regular_use=patient.port_in_regular_use,
        )
        if upcoming is not None:
            wake.append(upcoming)
        if wake:
            self._scheduler.add(JOB_REMINDERS, once_at(min(wake)), self.reminders)

    # -- stale-data watch ---------------------------------------------------------------

    async def reading_arrived(self, reading: Reading) -> None:
        """A reading is durable in the log: the watch hears of it (and may say "back")."""
        if self._watch is None or not _valid(reading):
            return
        if reading.time > self._watch.last_valid:
            self._watch.last_valid = reading.time
            self._watch.kind = reading.kind
            await self.check_stale(self._clock.now())

    async def check_stale(self, due: datetime) -> None:
        """Ask the watch what to say now, say it, and schedule the next look."""
        del due
        watch = self._watch
        if watch is None:
            return
        now = self._clock.now()
        notes = await self._call(
            lambda: list(self._log.notes(watch.last_valid - MAX_PAUSE, now + MAX_PAUSE))
        )
        pauses = [Pause(n.start, n.end, n.reason) for n in notes]
        verdict = stale_state(
            watch.last_valid,
            pauses,
            self._fever_pending(),
            now,
            last_notice=watch.last_notice,
            stale_after=self._settings.watch.stale_after,
            stale_after_pending=self._settings.watch.stale_after_pending,
            kind=watch.kind,
            spot_stale_after=self._settings.watch.spot_stale_after,
            recheck_due=self._recheck_due(),
        )
        next_check = verdict.next_check
        if verdict.say is not None:
            next_check = await self._say(verdict.say, watch, now) or next_check
        self._scheduler.add(JOB_STALE, once_at(next_check), self.check_stale)

    async def _say(self, say: StaleSay, watch: _Watch, now: datetime) -> datetime | None:
        """Say it now, or return when quiet hours let it be said."""
        facts = {
            "since": self._local(watch.last_valid),
            "silent": _duration_text(now - watch.last_valid),
            "time": self._local(watch.last_valid),
            "what_to_do": silent_advice(watch.kind),
        }
        notice = render(NoticeKind(say.value), facts)
        key = f"{say.value}:{watch.last_valid.isoformat()}:{now.isoformat()}"
        held = held_until(notice, self._quiet, now)
        if held is not None:
            # A non-urgent "silent" or "back" in the night waits; the watch looks again then.
            _LOGGER.debug("watch notice %s held by quiet hours until %s", say.value, held)
            return held
        await self._sink(notice, key, now)
        watch.last_notice = None if say is StaleSay.BACK else now
        value = "" if watch.last_notice is None else watch.last_notice.isoformat()
        await self._call(lambda: self._log.meta_set(WATCH_LAST_NOTICE_KEY, value))
        return None

    # -- daily summary ---------------------------------------------------------------------

    async def summary(self, due: datetime) -> None:
        """The caregiver's summary of the local day so far."""
        now = self._clock.now()
        local_midnight = datetime.combine(
            due.astimezone(self._zone).date(), datetime.min.time(), tzinfo=self._zone
        ).astimezone(UTC)
        day = day_number(self._settings.patient.placement, due, self._zone)
        status = summary_status(fever_open=self._fever_open(), pending=self._fever_pending())
        unit = self._settings.display.unit

        def summarise() -> Notice:
            # Up to the summary's own time: a reading landing then is tomorrow's news.
            # A slice of the log at a time (issue 20: a day at one reading a second held
            # at once was ~40 MB of the Pi's daemon).
            return daily_summary(day, _sliced(self._log, local_midnight, due), unit, status)

        notice = await self._call(summarise)
        await self._sink(notice, f"{NoticeKind.DAILY_SUMMARY.value}:{due.isoformat()}", now)

    def _local(self, when: datetime) -> str:
        """A time as the caregiver's clock shows it, with its zone (issue 18)."""
        return when.astimezone(self._zone).strftime("%a %H:%M %Z")


# The daily summary reads the log this much at a time: 600 readings at 1/s. An hour's 3,600
# at once was ~5 MiB of Python objects, and their arenas stayed with the daemon after the
# first evening (issue 20: RSS stepped up 5.3 MiB at the first 20:00 summary).
SUMMARY_SLICE: Final = timedelta(minutes=10)


def _sliced(log: TimedLog, since: datetime, until: datetime) -> Iterator[Reading]:
    """The readings timed in [since, until), read from the log a slice at a time."""
    start = since
    while start < until:
        end = min(start + SUMMARY_SLICE, until)
        for stored in log.readings(start, end):
            yield stored.reading
        start = end


def summary_status(*, fever_open: bool, pending: bool) -> str:
    """The daily summary's fever status: an open episode outranks a pending recheck."""
    if fever_open:
        return "fever confirmed, not yet resolved"
    if pending:
        return "a recheck is due"
    return "no fever"


def _duration_text(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
