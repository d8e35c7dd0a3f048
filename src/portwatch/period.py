"""Day N of the monitored period: the one definition every view, notice and reminder uses.

fever-rule.md §7: monitoring runs from the placement time for ``healing_days``, both ends
inclusive. People count days on the calendar, so the placement's local date (in the
patient's time zone) is day 1, the next local date day 2, and so on: "today is day 3" in
a reminder, "day 3 of 10" on the status screen and "day 3" on the chart are the same
date. The period ends at placement + ``healing_days`` (that moment still counts); after
it, every view says the period has ended. Pure: no clock.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

__all__ = ["day_date", "day_number", "day_start", "period_end", "period_ended"]


def day_number(placement: datetime, when: datetime, zone: tzinfo) -> int:
    """The day of the period `when` falls on: 1 on the placement's local date (0 before)."""
    return (when.astimezone(zone).date() - placement.astimezone(zone).date()).days + 1


def day_date(placement: datetime, day: int, zone: tzinfo) -> date:
    """The local date of day `day` (day 1: the placement's local date)."""
    return placement.astimezone(zone).date() + timedelta(days=day - 1)


def day_start(placement: datetime, day: int, zone: tzinfo) -> datetime:
    """Local midnight starting day `day`, as an aware datetime in `zone`."""
    return datetime.combine(day_date(placement, day, zone), time(0), tzinfo=zone)


def period_end(placement: datetime, healing_days: int) -> datetime:
    """The last moment of the monitored period (inclusive, fever-rule.md §7)."""
    return placement + timedelta(days=healing_days)


def period_ended(placement: datetime, healing_days: int, now: datetime) -> bool:
    """Whether `now` is after the monitored period: readings no longer alert anyone."""
    return now > period_end(placement, healing_days)
