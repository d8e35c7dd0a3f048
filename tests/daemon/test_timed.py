"""Ten simulated days of the daemon's timed work over the real log.

Real parts: the SQLite log (portwatch.log.store), the scheduler on a VirtualClock, the pure
care/watch/notice functions. Stand-ins, because their stages are not on main yet: the
thermometer is a task writing readings straight into the log (the link's job), and the
notice sink records what would enter the outbox's notify channel (the delivery stage).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from portwatch.alerts.notices import Notice, NoticeKind, render
from portwatch.alerts.payloads import ClinicFormat, GatewayState
from portwatch.clock import VirtualClock
from portwatch.config import Settings, alert_context, load_settings
from portwatch.log.store import Store
from portwatch.model import Reading, ReadingKind, Unit
from portwatch.service.schedule import Scheduler
from portwatch.service.timed import TimedWork, heartbeat_job, outbox_sink

# Placed 27 Nov 2026 14:30 in Berlin (13:30 UTC); reminders at 09:00, summary at 20:00.
START = datetime(2026, 11, 27, 13, 30, tzinfo=UTC)
EVERY = timedelta(minutes=15)
OUTAGE = (START + timedelta(days=2), START + timedelta(days=2, minutes=90))  # 14:30-16:00
PAUSED = (START + timedelta(days=4), START + timedelta(days=4, minutes=45))  # readings skipped
NOTE = (START + timedelta(days=4, minutes=-10), START + timedelta(days=4, minutes=50))

SETTINGS = """
[patient]
reference = "Patient/1"
placement = 2026-11-27T13:30:00Z
timezone = "Europe/Berlin"
[clinic]
url = "http://127.0.0.1:8471/alerts"
recipient = "Organization/clinic-1"
secret_file = "{secret}"
[notify.quiet_hours]
start = "22:00"
end = "07:00"
"""


@dataclass
class Sink:
    """Records notices as the outbox's notify channel would receive them."""

    clock: VirtualClock
    sent: list[tuple[datetime, Notice, str]] = field(default_factory=list)

    async def __call__(self, notice: Notice, key: str, now: datetime) -> None:
        assert now == self.clock.now()
        self.sent.append((now, notice, key))

    def of(self, *kinds: NoticeKind) -> list[tuple[datetime, str]]:
        return [(when, n.kind.value) for when, n, _ in self.sent if n.kind in kinds]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "secret").write_text("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    path = tmp_path / "portwatch.toml"
    path.write_text(SETTINGS.format(secret=tmp_path / "secret"))
    return load_settings(path, now=START, environ={})


@pytest.fixture
def store(tmp_path: Path) -> Store:
    # Inline: the virtual clock must not move on while a log call is in another thread.
    return Store.open(tmp_path / "portwatch.db", threaded=False)


def normal(at: datetime) -> Reading:
    """A sample of a thermometer that measures on its own every 15 min: a stream, watched
    at stale_after (issue 19: a spot reading is watched at spot_stale_after)."""
    return Reading(
        "AA:BB:CC:DD:EE:FF", ReadingKind.STREAM, Decimal("36.8"), Unit.CELSIUS, 36.8, at, at,
        interval_s=EVERY.total_seconds(),
    )  # fmt: skip


async def thermometer(clock: VirtualClock, store: Store, timed: TimedWork) -> None:
    """A reading every 15 min, except during the outage and the pause (the link's role)."""
    while True:
        now = clock.now()
        off = OUTAGE[0] <= now < OUTAGE[1] or PAUSED[0] <= now < PAUSED[1]
        if not off:
            reading = normal(now)
            store.add_readings([reading])
            await timed.reading_arrived(reading)
        await clock.sleep(EVERY.total_seconds())


@dataclass
class Daemon:
    clock: VirtualClock
    sink: Sink
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self, settings: Settings, store: Store) -> None:
        scheduler = Scheduler(self.clock)
        timed = TimedWork(
            settings, store, self.sink, scheduler, self.clock, fever_pending=lambda: False
        )
        self.tasks = [asyncio.create_task(scheduler.run())]
        await timed.start()
        self.tasks.append(asyncio.create_task(thermometer(self.clock, store, timed)))
        await self.clock.settle()

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@pytest.fixture
async def daemon() -> AsyncIterator[Daemon]:
    clock = VirtualClock(START)
    running = Daemon(clock, Sink(clock))
    yield running
    await running.stop()


def berlin_nine(day: int) -> datetime:
    """09:00 in Berlin on day `day` of the period, day 1 the placement's date (08:00 UTC)."""
    return datetime(2026, 11, 27, 8, 0, tzinfo=UTC) + timedelta(days=day - 1)


EXPECTED_REMINDERS = [
    (berlin_nine(2), "care.keep_dry"),
    (berlin_nine(3), "care.dressing_off"),
    (berlin_nine(7), "care.check_opens"),
    (berlin_nine(10), "care.check_last_day"),
]
CARE = (
    NoticeKind.CARE_KEEP_DRY,
    NoticeKind.CARE_DRESSING_OFF,
    NoticeKind.CARE_CHECK_OPENS,
    NoticeKind.CARE_CHECK_LAST_DAY,
    NoticeKind.CARE_FLUSH,
)


async def test_ten_day_course_gives_reminders_summaries_and_one_outage_notice(
    daemon: Daemon, settings: Settings, store: Store
) -> None:
    """Reminders on their days, a summary each evening, 'silent' and 'back' for the outage,
    and nothing for the pause (issue 7's timed work, end to end over the log)."""
    store.add_note(*NOTE, "shower")  # as `portwatch pause 1h --reason shower` writes it
    await daemon.start(settings, store)
    await daemon.clock.advance(10 * 86400)

    assert daemon.sink.of(*CARE) == EXPECTED_REMINDERS
    summaries = daemon.sink.of(NoticeKind.DAILY_SUMMARY)
    assert [when for when, _ in summaries] == [
        datetime(2026, 11, 27, 19, 0, tzinfo=UTC) + timedelta(days=d) for d in range(10)
    ]
    assert daemon.sink.of(NoticeKind.STALE, NoticeKind.BACK) == [
        (OUTAGE[0] - EVERY + timedelta(minutes=30), "watch.stale"),
        (OUTAGE[1], "watch.back"),
    ]
    first_summary = next(n for _, n, _ in daemon.sink.sent if n.kind is NoticeKind.DAILY_SUMMARY)
    assert first_summary.text.startswith("22 readings today, highest 98.2 °F")


async def test_restart_mid_course_neither_loses_nor_repeats_a_reminder(
    daemon: Daemon, settings: Settings, store: Store
) -> None:
    """Stopped on day 2 and started again from the same log: each reminder exactly once."""
    await daemon.start(settings, store)
    await daemon.clock.advance(1 * 86400)
    await daemon.stop()
    await daemon.clock.advance(3 * 86400)  # down over day 3's 09:00 and day 4
    await daemon.start(settings, store)
    await daemon.clock.advance(6 * 86400)

    late_dressing = START + timedelta(days=4)  # sent at once on restart: it has not expired
    assert daemon.sink.of(*CARE) == [
        EXPECTED_REMINDERS[0],
        (late_dressing, "care.dressing_off"),
        *EXPECTED_REMINDERS[2:],
    ]
    assert len(store.reminders_sent()) == 4


async def test_watch_notice_waits_for_morning_when_silence_starts_at_night(
    settings: Settings, store: Store
) -> None:
    """A non-urgent 'silent' at 23:30 is held until 07:00; the caregiver sleeps."""
    clock = VirtualClock(datetime(2026, 11, 28, 22, 0, tzinfo=UTC))  # 23:00 in Berlin
    sink = Sink(clock)
    scheduler = Scheduler(clock)
    timed = TimedWork(settings, store, sink, scheduler, clock, fever_pending=lambda: False)
    runner = asyncio.create_task(scheduler.run())
    try:
        await timed.start()
        await clock.settle()  # let the runner see its jobs before time moves
        await clock.advance(10 * 3600)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    assert sink.of(NoticeKind.STALE) == [(datetime(2026, 11, 29, 6, 0, tzinfo=UTC), "watch.stale")]


async def test_outbox_sink_keeps_one_row_when_a_notice_is_put_twice(store: Store) -> None:
    """A crash between 'put in the outbox' and 'recorded as sent' must not notify twice."""
    now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    sink = outbox_sink(store)
    notice = render(NoticeKind.CARE_DRESSING_OFF, {})
    await sink(notice, "care.dressing_off:2026-11-30", now)
    await sink(notice, "care.dressing_off:2026-11-30", now)
    (row,) = store.outbox_all()
    assert (row.channel, row.kind, row.priority) == ("notify", "care.dressing_off", "routine")
    assert json.loads(row.body) == {"title": notice.title, "message": notice.text}


async def test_urgent_notice_enters_outbox_as_urgent_when_put(store: Store) -> None:
    """Urgency survives into the push's priority (ntfy 'urgent')."""
    notice = render(NoticeKind.STALE_PENDING, {"since": "Tue 14:05"})
    await outbox_sink(store)(notice, "k", datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    assert [row.priority for row in store.outbox_all()] == ["urgent"]


async def test_heartbeat_enters_outbox_every_15_minutes_once_per_slot_when_clinic_is_json(
    settings: Settings, store: Store
) -> None:
    """alerts.md: a heartbeat every 15 min; a restart inside a slot adds no second one."""
    clock = VirtualClock(START + timedelta(minutes=7))
    context = alert_context(settings, "gateway-1")

    def state() -> GatewayState:
        return GatewayState(started_at=START, thermometer_connected=True)

    beat = heartbeat_job(store, context, state, ClinicFormat.JSON)
    for _ in range(2):  # a restart after 20 minutes, inside the 13:45 slot
        scheduler = Scheduler(clock)
        timed = TimedWork(
            settings,
            store,
            Sink(clock),
            scheduler,
            clock,
            fever_pending=lambda: False,
            heartbeat=beat,
        )
        runner = asyncio.create_task(scheduler.run())
        await timed.start()
        await clock.settle()
        await clock.advance(20 * 60)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    rows = [row for row in store.outbox_all() if row.channel == "clinic"]
    assert [(row.kind, row.created_at) for row in rows] == [
        ("gateway.heartbeat", START + timedelta(minutes=15)),
        ("gateway.heartbeat", START + timedelta(minutes=30)),
        ("gateway.heartbeat", START + timedelta(minutes=45)),
    ]


async def test_no_heartbeat_when_clinic_speaks_fhir(settings: Settings, store: Store) -> None:
    """Heartbeats travel only on the JSON channel."""
    context = alert_context(settings, "gateway-1")
    beat = heartbeat_job(store, context, lambda: GatewayState(START, True), ClinicFormat.FHIR)
    await beat(START)
    assert store.outbox_all() == []


@pytest.mark.parametrize(
    ("fever_open", "pending", "status"),
    [
        (True, False, "fever confirmed, not yet resolved"),
        (True, True, "fever confirmed, not yet resolved"),
        (False, True, "a recheck is due"),
        (False, False, "no fever"),
    ],
)
async def test_summary_tells_open_episode_from_none_when_fever_was_confirmed(
    settings: Settings, store: Store, fever_open: bool, pending: bool, status: str
) -> None:
    """A confirmed, unresolved fever is not "no fever": the caregiver reads this at night."""
    clock = VirtualClock(datetime(2026, 11, 30, 19, 0, tzinfo=UTC))  # 20:00 in Berlin
    sink = Sink(clock)
    timed = TimedWork(
        settings,
        store,
        sink,
        Scheduler(clock),
        clock,
        fever_pending=lambda: pending,
        fever_open=lambda: fever_open,
    )
    await timed.summary(clock.now())
    ((_, notice, _),) = sink.sent
    assert notice.title == f"Day 4: {status}"


def spot(at: datetime) -> Reading:
    """A temperature taken with a spot thermometer (or typed in by hand)."""
    celsius = Decimal("36.8")
    return Reading("AA:BB:CC:DD:EE:FF", ReadingKind.SPOT, celsius, Unit.CELSIUS, 36.8, at, at)


async def _timed_over(
    settings: Settings,
    store: Store,
    clock: VirtualClock,
    readings: list[datetime],
    fever_pending: Callable[[], bool],
    recheck_due: Callable[[], datetime | None] | None = None,
) -> Sink:
    """TimedWork over the log from ``clock.now()`` to the day after the last reading, the
    spot readings arriving as the link would deliver them."""
    sink = Sink(clock)
    scheduler = Scheduler(clock)
    timed = TimedWork(
        settings,
        store,
        sink,
        scheduler,
        clock,
        fever_pending=fever_pending,
        recheck_due=recheck_due,
    )
    runner = asyncio.create_task(scheduler.run())
    try:
        await timed.start()
        await clock.settle()
        for at in readings:
            await clock.advance((at - clock.now()).total_seconds())
            store.add_readings([spot(at)])
            await timed.reading_arrived(spot(at))
        await clock.advance(86400)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    return sink


async def test_spot_thermometer_read_four_times_a_day_gets_no_silence_notice(
    settings: Settings, store: Store
) -> None:
    """Issue 19: three days of 08/13/18/22 spot readings, then a day without any: no noise
    between readings, one 'silent' 16 h after the last (the night's quiet hours permitting)."""
    day = datetime(2026, 11, 28, tzinfo=UTC)
    times = [day + timedelta(days=d, hours=h) for d in range(3) for h in (8, 13, 18, 22)]
    store.add_readings([spot(times[0])])
    clock = VirtualClock(times[0] + timedelta(minutes=1))
    sink = await _timed_over(settings, store, clock, times[1:], fever_pending=lambda: False)
    silent_at = times[-1] + timedelta(hours=16)  # 14:00 UTC, 15:00 in Berlin
    assert sink.of(NoticeKind.STALE, NoticeKind.BACK, NoticeKind.STALE_PENDING) == [
        (silent_at, "watch.stale")
    ]


async def test_spot_recheck_not_taken_is_told_once_at_due_plus_ten_minutes(
    settings: Settings, store: Store
) -> None:
    """A high spot reading at 08:00 waits for its 12:00 recheck, which never comes: one
    urgent notice at 12:10 (the old watch: one every 10 min from 08:10)."""
    first = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    store.add_readings([spot(first)])
    clock = VirtualClock(first + timedelta(minutes=1))
    sink = await _timed_over(
        settings,
        store,
        clock,
        [],
        fever_pending=lambda: clock.now() < first + timedelta(hours=24),
        recheck_due=lambda: first + timedelta(hours=4),
    )
    assert sink.of(NoticeKind.STALE, NoticeKind.BACK, NoticeKind.STALE_PENDING) == [
        (first + timedelta(hours=4, minutes=10), "watch.stale_pending")
    ]


async def test_summary_read_a_slice_at_a_time_counts_each_reading_once(
    settings: Settings, store: Store
) -> None:
    """The day is read SUMMARY_SLICE at a time (issue 20: bounded memory); readings on a
    slice's edge are counted once, and one at the summary's own time is tomorrow's."""
    from portwatch.service.timed import SUMMARY_SLICE

    due = datetime(2026, 11, 30, 19, 0, tzinfo=UTC)  # 20:00 in Berlin
    midnight = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)  # its local midnight
    edges = [midnight + SUMMARY_SLICE * n for n in range(int((due - midnight) / SUMMARY_SLICE))]
    within = [edge + timedelta(seconds=90) for edge in edges]
    store.add_readings([normal(at) for at in [*edges, *within, due]])
    clock = VirtualClock(due)
    sink = Sink(clock)
    timed = TimedWork(settings, store, sink, Scheduler(clock), clock, fever_pending=lambda: False)
    await timed.summary(due)
    ((_, notice, _),) = sink.sent
    assert f"{len(edges) + len(within)} readings today" in notice.text


async def test_silent_notice_says_what_to_do_for_the_kind_of_thermometer_with_its_zone(
    settings: Settings, store: Store
) -> None:
    """A spot thermometer is silent because nobody took a temperature: "check that it is
    charged and near the base station" was the wearable's advice. The time carries its zone."""
    day = datetime(2026, 11, 28, tzinfo=UTC)
    store.add_readings([spot(day + timedelta(hours=8))])
    clock = VirtualClock(day + timedelta(hours=8, minutes=1))
    sink = await _timed_over(settings, store, clock, [], fever_pending=lambda: False)
    ((_, notice, _),) = [sent for sent in sink.sent if sent[1].kind is NoticeKind.STALE]
    assert "Please take a temperature now" in notice.text
    assert "charged and near" not in notice.text
    assert "since Sat 09:00 CET." in notice.text  # 08:00 UTC in Berlin
