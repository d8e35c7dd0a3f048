"""Care reminders from the clinic's sheet, as a pure function of (placement, sent, now).

The sheet (issue 7, alerts.md "care reminders"): day 3, the dressing can come off; until
the check, keep the site dry; day 7 and day 10, the post-procedure check; after the
monitored period, a monthly flush reminder while the port is not in regular use.

Every reminder has a deterministic key (its kind and its local date), so the daemon can
derive what is due from the keys already in the log at start: a restart neither loses
nor repeats one. A reminder past its use (keep the site dry, after the check) expires
instead of arriving late. Pure: no clock, no I/O.
"""

from __future__ import annotations

import calendar
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from portwatch.period import day_date

__all__ = [
    "CARE_SHEET",
    "CareError",
    "CareReminder",
    "DueReminder",
    "due_reminders",
    "next_reminder_time",
    "reminder_plan",
]


class CareError(ValueError):
    """A care-reminder question was asked with bad input (a naive datetime)."""


class CareReminder(StrEnum):
    """One line of the clinic's care sheet; the value is also its notice kind."""

    KEEP_DRY = "care.keep_dry"
    DRESSING_OFF = "care.dressing_off"
    CHECK_OPENS = "care.check_opens"
    CHECK_LAST_DAY = "care.check_last_day"
    FLUSH = "care.flush"


@dataclass(frozen=True, slots=True)
class SheetLine:
    """When a reminder is due (days after placement, local date) and until when it helps."""

    day: int
    expires_day: int


# The clinic's sheet (issue 7, "care reminders from the clinic's sheet"). Days are the
# period's days (portwatch.period): the placement's local date is day 1, as on the status
# screen, so "today is day 3" is sent on the date status calls day 3 and the day-10 reminder
# before the period ends. FLUSH is monthly and not in this table.
CARE_SHEET: Final[Mapping[CareReminder, SheetLine]] = {
    # Keep the site dry until the check: said on the first morning (day 2), useless from day 7.
    CareReminder.KEEP_DRY: SheetLine(day=2, expires_day=7),
    # Day 3: the dressing can come off (still worth saying until the check).
    CareReminder.DRESSING_OFF: SheetLine(day=3, expires_day=7),
    # Day 7: the post-procedure check is due (days 7-10, fever-rule.md §7).
    CareReminder.CHECK_OPENS: SheetLine(day=7, expires_day=11),
    # Day 10: the last day for the check, the period's last whole day.
    CareReminder.CHECK_LAST_DAY: SheetLine(day=10, expires_day=11),
}
# A port not in regular use is flushed about monthly (issue 7); we remind on the placement's
# day of the month, from the first month after placement.
FLUSH_EVERY_MONTHS: Final = 1


@dataclass(frozen=True, slots=True)
class DueReminder:
    """One reminder occurrence: ``key`` is stable across restarts (kind and local date)."""

    key: str
    reminder: CareReminder
    due: datetime
    expires: datetime


def _at(day: date, local: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, local, tzinfo=zone).astimezone(UTC)


def _add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or that month's last day (31 Jan + 1 month: 28 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _occurrences(
    placement: datetime, zone: ZoneInfo, local: time, port_in_regular_use: bool
) -> Iterator[DueReminder]:
    """Every reminder in due order, without end (the flush repeats monthly)."""
    start = placement.astimezone(zone).date()
    for reminder, line in CARE_SHEET.items():
        day = day_date(placement, line.day, zone)
        yield DueReminder(
            key=f"{reminder.value}:{day.isoformat()}",
            reminder=reminder,
            due=_at(day, local, zone),
            expires=_at(day_date(placement, line.expires_day, zone), local, zone),
        )
    if port_in_regular_use:
        return
    month = FLUSH_EVERY_MONTHS
    while True:
        day = _add_months(start, month)
        yield DueReminder(
            key=f"{CareReminder.FLUSH.value}:{day.isoformat()}",
            reminder=CareReminder.FLUSH,
            due=_at(day, local, zone),
            # A missed flush reminder is still worth sending until the next one is due.
            expires=_at(_add_months(start, month + FLUSH_EVERY_MONTHS), local, zone),
        )
        month += FLUSH_EVERY_MONTHS


def _check_aware(**values: datetime) -> None:
    for name, value in values.items():
        if value.tzinfo is None:
            raise CareError(f"{name} = {value.isoformat()}: must be an aware datetime")


def reminder_plan(
    placement: datetime,
    until: datetime,
    *,
    zone: ZoneInfo,
    at: time,
    port_in_regular_use: bool = False,
) -> list[DueReminder]:
    """Every reminder due before ``until``, in due order (for the page and the tests)."""
    _check_aware(placement=placement, until=until)
    plan = [
        item
        for item in _through(placement, until, zone, at, port_in_regular_use)
        if item.due < until
    ]
    return sorted(plan, key=lambda item: (item.due, item.key))


def due_reminders(
    placement: datetime,
    sent_keys: Collection[str],
    now: datetime,
    *,
    zone: ZoneInfo,
    at: time,
    port_in_regular_use: bool = False,
) -> list[DueReminder]:
    """The reminders to send now: due, not yet expired, and not among ``sent_keys``."""
    _check_aware(now=now)
    return [
        item
        for item in reminder_plan(
            placement,
            now + timedelta(microseconds=1),
            zone=zone,
            at=at,
            port_in_regular_use=port_in_regular_use,
        )
        if item.key not in sent_keys and now < item.expires
    ]


def next_reminder_time(
    placement: datetime,
    now: datetime,
    *,
    zone: ZoneInfo,
    at: time,
    port_in_regular_use: bool = False,
) -> datetime | None:
    """When the next reminder after ``now`` falls due (None: the sheet has no more)."""
    _check_aware(placement=placement, now=now)
    upcoming = _through(placement, now, zone, at, port_in_regular_use)
    return min((item.due for item in upcoming if item.due > now), default=None)


def _through(
    placement: datetime, bound: datetime, zone: ZoneInfo, at: time, port_in_regular_use: bool
) -> Iterator[DueReminder]:
    """The sheet's reminders, then flushes up to and including the first one after ``bound``."""
    for item in _occurrences(placement, zone, at, port_in_regular_use):
        yield item
        if item.reminder is CareReminder.FLUSH and item.due > bound:
            return
