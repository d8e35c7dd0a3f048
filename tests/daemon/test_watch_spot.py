"""The silence watch over a spot thermometer's course (issue 19): a spot household is told
when no temperature has come for ``spot_stale_after`` (16 h) or a pending recheck is overdue,
not "silent" after every reading.

The course is driven as the daemon drives the pure watch (portwatch.service.timed): the
watch is asked at each reading and at each ``next_check`` it names, and a notice it says
is remembered as ``last_notice`` ("back" forgets it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from portwatch.model import ReadingKind
from portwatch.service.watch import (
    SPOT_STALE_AFTER,
    STALE_AFTER_PENDING,
    StaleSay,
    make_pause,
    stale_state,
)

T0 = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)  # midnight; readings from 08:00 on
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
FOUR_A_DAY = (8, 12, 16, 20)  # hours of a spot household's readings


def _routine(days: Sequence[int]) -> list[datetime]:
    return [T0 + d * DAY + h * HOUR for d in days for h in FOUR_A_DAY]


def _course(
    readings: Sequence[datetime],
    end: datetime,
    *,
    kind: ReadingKind = ReadingKind.SPOT,
    pending: Callable[[datetime], bool] = lambda _now: False,
    due: datetime | None = None,
) -> list[tuple[datetime, StaleSay]]:
    """What the watch says from the first reading to ``end``, as the daemon asks it."""
    said: list[tuple[datetime, StaleSay]] = []
    last_valid, last_notice = readings[0], None
    upcoming = list(readings[1:])
    next_check = last_valid
    while True:
        reading_next = upcoming[0] if upcoming else None
        if reading_next is not None and reading_next <= next_check:
            now = last_valid = upcoming.pop(0)
        else:
            now = next_check
        if now > end:
            return said
        verdict = stale_state(
            last_valid,
            [],
            pending(now),
            now,
            last_notice=last_notice,
            kind=kind,
            recheck_due=due if pending(now) else None,
        )
        if verdict.say is not None:
            said.append((now, verdict.say))
            last_notice = None if verdict.say is StaleSay.BACK else now
        assert verdict.next_check > now
        next_check = verdict.next_check


def test_spot_course_of_four_readings_a_day_says_nothing_when_nothing_is_missed() -> None:
    """Three days of 08/12/16/20 readings: no "silent", no "back" (the old 30 min limit
    said 2 notices a reading gap: 22 over these three days)."""
    readings = _routine(range(3))
    assert _course(readings, readings[-1] + 8 * HOUR) == []
    old = _course(readings, readings[-1] + 8 * HOUR, kind=ReadingKind.STREAM)
    assert len(old) == 2 * (len(readings) - 1) + 1  # what a wearable's limit made of it


def test_spot_silent_said_once_when_a_day_passes_without_a_reading() -> None:
    """Day 2 without any temperature: one "silent" 16 h after day 1's last reading, and
    "back" with day 3's first."""
    readings = _routine([0, 2])
    said = _course(readings, readings[-1] + HOUR)
    last_of_day_1 = T0 + 20 * HOUR
    assert said == [
        (last_of_day_1 + SPOT_STALE_AFTER, StaleSay.STALE),
        (T0 + 2 * DAY + 8 * HOUR, StaleSay.BACK),
    ]


def test_spot_recheck_not_taken_is_told_once_when_overdue() -> None:
    """A high 08:00 reading, recheck due 12:00, not taken: the rule's own reminder speaks at
    12:00; the watch speaks once at 12:10 (not every 10 min from 08:00, as it did)."""
    first = T0 + 8 * HOUR
    due = first + 4 * HOUR
    said = _course([first], first + DAY, pending=lambda now: now < first + DAY, due=due)
    assert said == [(due + STALE_AFTER_PENDING, StaleSay.STALE_PENDING)]


def test_spot_recheck_taken_on_time_says_nothing() -> None:
    """The recheck at 12:05 was taken: nothing to tell while the pair window runs on."""
    first = T0 + 8 * HOUR
    due = first + 4 * HOUR
    said = _course(
        [first, due + 5 * timedelta(minutes=1)],
        due + 12 * HOUR,  # before the spot limit after the recheck
        pending=lambda now: now < first + DAY,
        due=due,
    )
    assert said == []


def test_spot_recheck_overdue_is_told_when_a_pause_covers_the_due_time() -> None:
    """A pause never silences the fever path: a pause over the due time changes nothing."""
    first = T0 + 8 * HOUR
    due = first + 4 * HOUR
    pause = make_pause(due - HOUR, 2 * HOUR, "shower")
    check = stale_state(
        first, [pause], True, due + STALE_AFTER_PENDING, kind=ReadingKind.SPOT, recheck_due=due
    )
    assert check.say is StaleSay.STALE_PENDING


def test_hand_reading_after_a_wearable_takes_the_spot_limit() -> None:
    """The last valid reading's kind decides: a wearable's last sample is watched at 30 min,
    a hand reading typed in after it at the spot limit."""
    stream = stale_state(T0, [], False, T0 + HOUR, kind=ReadingKind.STREAM)
    assert stream.say is StaleSay.STALE
    spot = stale_state(T0, [], False, T0 + HOUR, kind=ReadingKind.SPOT)
    assert spot.say is None
    assert spot.next_check <= T0 + HOUR + timedelta(minutes=30)  # still looks every 30 min


def test_spot_pending_without_a_known_due_time_is_watched_at_the_stream_cadence() -> None:
    """Unknown due time: the loud side (every 10 min), never silence."""
    check = stale_state(T0, [], True, T0 + 10 * timedelta(minutes=1), kind=ReadingKind.SPOT)
    assert check.say is StaleSay.STALE_PENDING
