"""The STATUS= line: what `systemctl status portwatch` shows a person at a glance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portwatch.service.status import StatusFacts, age_text, status_line

PLACEMENT = datetime(2026, 11, 27, 13, 30, tzinfo=UTC)


def test_status_reads_like_the_issue_example_when_monitoring_day_4() -> None:
    """The issue's own example line, to the character."""
    now = PLACEMENT + timedelta(days=3, hours=2)
    facts = StatusFacts(PLACEMENT, 10, True, now - timedelta(minutes=2), 37.14)
    assert status_line(facts, now) == "monitoring day 4 of 10 · 37.1 °C 2 min ago · link up"


def test_status_names_fever_and_clock_when_both_need_attention() -> None:
    """A pending recheck and an unsynchronised clock both show, fever first."""
    now = PLACEMENT + timedelta(hours=5)
    facts = StatusFacts(PLACEMENT, 10, False, fever="recheck due 18:05", clock_trusted=False)
    assert status_line(facts, now) == (
        "monitoring day 1 of 10 · recheck due 18:05 · no reading yet · link down"
        " · clock not synchronised"
    )


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(hours=-1), "waiting for the placement time"),
        (timedelta(days=10, minutes=1), "healing period over"),
        (timedelta(days=10), "monitoring, last hours (day 11)"),
    ],
)
def test_status_names_the_period_when_outside_it(offset: timedelta, expected: str) -> None:
    """Before placement and after the healing days, no 'day N of 10'; the period's end
    itself still counts (fever-rule.md §7), on the calendar's day 11."""
    facts = StatusFacts(PLACEMENT, 10, True)
    assert status_line(facts, PLACEMENT + offset).startswith(expected + " · ")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "just now"),
        (61, "1 min ago"),
        (7200, "2 h ago"),
        (3 * 86400, "3 d ago"),
        (-5, "just now"),
    ],
)
def test_age_is_short_and_plain_when_formatted(seconds: int, text: str) -> None:
    """Ages read at a glance; a reading from a moment 'ahead' is just now, not negative."""
    assert age_text(timedelta(seconds=seconds)) == text


def test_status_counts_calendar_days_in_the_patient_zone_and_shows_the_display_unit() -> None:
    """Issue 18: day 1 is the placement's local date, as everywhere; °F for a °F patient."""
    from zoneinfo import ZoneInfo

    from portwatch.model import Unit

    tokyo = ZoneInfo("Asia/Tokyo")  # 13:30 UTC placement is 22:30 in Tokyo
    now = PLACEMENT + timedelta(hours=2)  # 00:30 the next day in Tokyo: day 2
    facts = StatusFacts(PLACEMENT, 10, True, now, 38.5, zone=tokyo, unit=Unit.FAHRENHEIT)
    assert status_line(facts, now) == "monitoring day 2 of 10 · 101.3 °F just now · link up"
