"""Care reminders: right days, deterministic keys, no loss or repeat across restarts."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portwatch.service.care import (
    CareError,
    CareReminder,
    due_reminders,
    next_reminder_time,
    reminder_plan,
)

BERLIN = ZoneInfo("Europe/Berlin")
NINE = time(9, 0)
# Placed 27 Nov 2026, 14:30 in Berlin (13:30 UTC): day 1 is 27 Nov (portwatch.period).
PLACEMENT = datetime(2026, 11, 27, 13, 30, tzinfo=UTC)


def at_berlin(day: int, hour: int = 9) -> datetime:
    """`hour` o'clock in Berlin on day `day` of the period (day 1: 27 Nov)."""
    return datetime(2026, 11, 27, hour, tzinfo=BERLIN).astimezone(UTC) + timedelta(days=day - 1)


def test_sheet_reminders_fall_on_their_days_when_placed_in_the_afternoon() -> None:
    """Day 2 keep dry, day 3 dressing, day 7 and day 10 check, monthly flush after."""
    plan = reminder_plan(PLACEMENT, PLACEMENT + timedelta(days=70), zone=BERLIN, at=NINE)
    assert [(item.reminder, item.due) for item in plan] == [
        (CareReminder.KEEP_DRY, at_berlin(2)),
        (CareReminder.DRESSING_OFF, at_berlin(3)),
        (CareReminder.CHECK_OPENS, at_berlin(7)),
        (CareReminder.CHECK_LAST_DAY, at_berlin(10)),
        (CareReminder.FLUSH, datetime(2026, 12, 27, 8, 0, tzinfo=UTC)),
        (CareReminder.FLUSH, datetime(2027, 1, 27, 8, 0, tzinfo=UTC)),
    ]
    assert plan[1].key == "care.dressing_off:2026-11-29"


def test_no_flush_reminder_when_port_is_in_regular_use() -> None:
    """A port used for treatment is flushed then; a monthly reminder would be noise."""
    plan = reminder_plan(
        PLACEMENT, PLACEMENT + timedelta(days=400), zone=BERLIN, at=NINE, port_in_regular_use=True
    )
    assert CareReminder.FLUSH not in {item.reminder for item in plan}
    assert len(plan) == 4


def test_reminder_is_due_once_when_its_key_is_recorded_as_sent() -> None:
    """A restart derives the same keys from the log: nothing is repeated."""
    now = at_berlin(3, hour=10)
    due = due_reminders(PLACEMENT, set(), now, zone=BERLIN, at=NINE)
    assert [item.reminder for item in due] == [CareReminder.KEEP_DRY, CareReminder.DRESSING_OFF]
    sent = {item.key for item in due}
    assert due_reminders(PLACEMENT, sent, now, zone=BERLIN, at=NINE) == []


def test_missed_reminder_is_sent_when_daemon_was_down_at_its_time() -> None:
    """Down over day 3's 09:00, up at 11:00: the dressing reminder is not lost."""
    sent = {"care.keep_dry:2026-11-28"}
    due = due_reminders(PLACEMENT, sent, at_berlin(3, hour=11), zone=BERLIN, at=NINE)
    assert [item.key for item in due] == ["care.dressing_off:2026-11-29"]


def test_expired_reminder_is_dropped_when_its_advice_no_longer_applies() -> None:
    """'Keep the site dry until the check' said on day 8 would be wrong advice."""
    due = due_reminders(PLACEMENT, set(), at_berlin(8), zone=BERLIN, at=NINE)
    assert [item.reminder for item in due] == [CareReminder.CHECK_OPENS]


def test_next_reminder_time_is_the_flush_when_sheet_days_are_past() -> None:
    """The scheduler's next wake-up after the healing period is the first flush."""
    assert next_reminder_time(PLACEMENT, at_berlin(12), zone=BERLIN, at=NINE) == datetime(
        2026, 12, 27, 8, 0, tzinfo=UTC
    )


def test_flush_falls_on_month_end_when_placed_on_the_31st() -> None:
    """Placed 31 Jan: the February flush is on the 28th, not skipped or in March."""
    placed = datetime(2027, 1, 31, 12, 0, tzinfo=UTC)
    plan = reminder_plan(placed, placed + timedelta(days=40), zone=BERLIN, at=NINE)
    assert plan[-1].key == "care.flush:2027-02-28"


def test_naive_now_is_refused() -> None:
    """Only aware datetimes exist inside portwatch."""
    with pytest.raises(CareError, match="aware"):
        due_reminders(PLACEMENT, set(), datetime(2026, 12, 1), zone=BERLIN, at=NINE)


@given(
    st.lists(st.integers(min_value=0, max_value=60 * 24 * 60), min_size=1, max_size=8),
)
def test_restarts_neither_lose_nor_repeat_when_checked_at_any_times(minutes: list[int]) -> None:
    """Checking at any set of instants, recording what was sent, sends each key at most once,
    and every reminder whose window contained a check is sent."""
    sent: list[str] = []
    checks = sorted(PLACEMENT + timedelta(minutes=m) for m in minutes)
    for now in checks:
        sent += [i.key for i in due_reminders(PLACEMENT, set(sent), now, zone=BERLIN, at=NINE)]
    assert len(sent) == len(set(sent))
    plan = reminder_plan(PLACEMENT, checks[-1] + timedelta(microseconds=1), zone=BERLIN, at=NINE)
    for item in plan:
        if any(item.due <= now < item.expires for now in checks):
            assert item.key in sent


@given(
    offset_min=st.integers(min_value=0, max_value=24 * 60 - 1),
    reminder_min=st.integers(min_value=0, max_value=24 * 60 - 1),
)
def test_sheet_days_are_the_status_days_and_the_last_falls_before_the_period_ends(
    offset_min: int, reminder_min: int
) -> None:
    """Issue 18: "today is day 3" on the day status calls day 3; day 10's reminder is sent
    before status says the period has ended, whatever the placement and reminder times."""
    from portwatch.period import day_number, period_ended

    placed = datetime(2026, 11, 27, tzinfo=BERLIN).astimezone(UTC) + timedelta(minutes=offset_min)
    at = time(reminder_min // 60, reminder_min % 60)
    plan = reminder_plan(placed, placed + timedelta(days=12), zone=BERLIN, at=at)
    days = {item.reminder: day_number(placed, item.due, BERLIN) for item in plan}
    assert days[CareReminder.DRESSING_OFF] == 3
    assert days[CareReminder.CHECK_OPENS] == 7
    assert days[CareReminder.CHECK_LAST_DAY] == 10
    last = next(i for i in plan if i.reminder is CareReminder.CHECK_LAST_DAY)
    assert not period_ended(placed, 10, last.due)
