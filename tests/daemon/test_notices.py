"""Notification texts: complete, plain, and quiet hours hold back only non-urgent ones."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from portwatch.alerts.notices import (
    NOTICES,
    Audience,
    NoticeError,
    NoticeKind,
    QuietHours,
    daily_summary,
    format_temperature,
    held_until,
    render,
)
from portwatch.model import Reading, ReadingKind, Unit
from portwatch.service.care import CareReminder
from portwatch.service.watch import StaleSay

BERLIN = ZoneInfo("Europe/Berlin")
QUIET = QuietHours(time(22, 0), time(7, 0), BERLIN)
# Words a frightened patient or a tired caregiver should not have to decode.
JARGON = (
    "observation",
    "episode",
    "threshold",
    "bluetooth",
    "ble",
    "hts",
    "outbox",
    "webhook",
    "fhir",
    "http",
    "sqlite",
    "daemon",
    "decision",
    "pending",
    "stale",
)
FACTS = {
    "temperature": "101.4 °F",
    "time": "Tue 14:05",
    "recheck_at": "Tue 18:05",
    "first_time": "Tue 10:00",
    "since": "Tue 13:30",
    "silent": "35 min",
    "what": "the fever alert of Tue 14:05",
    "why": "wrong secret",
    "day": "4",
    "readings": "288",
    "status": "all normal",
    "what_to_do": "Please take a temperature now; if the thermometer does not send it, check "
    "its battery and add the reading by hand.",
}


def test_every_notice_kind_has_a_text_when_table_is_read() -> None:
    """The table's keys equal the enum: a new kind without a text fails here."""
    assert set(NOTICES) == set(NoticeKind)


def test_every_care_reminder_and_watch_verdict_has_a_notice() -> None:
    """What care.py and watch.py decide must be sayable."""
    kinds = {kind.value for kind in NoticeKind}
    assert {r.value for r in CareReminder} <= kinds
    assert {s.value for s in StaleSay} <= kinds


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_notice_is_short_plain_and_complete_when_rendered(kind: NoticeKind) -> None:
    """Each text fills every fact, fits a phone's lock screen and avoids jargon."""
    notice = render(kind, FACTS)
    assert "{" not in notice.title + notice.text
    assert len(notice.title) <= 60
    assert len(notice.text) <= 240
    words = {w.strip(".,:;()").lower() for w in (notice.title + " " + notice.text).split()}
    assert not words & set(JARGON), words & set(JARGON)


def test_fever_confirmed_reaches_patient_and_caregiver_as_urgent() -> None:
    """alerts.md: a confirmed fever is told to both, urgently."""
    for kind in (NoticeKind.FEVER_CONFIRMED_PATIENT, NoticeKind.FEVER_CONFIRMED_CAREGIVER):
        assert NOTICES[kind].urgent
    assert NOTICES[NoticeKind.FEVER_CONFIRMED_PATIENT].audiences == {Audience.PATIENT}
    assert NOTICES[NoticeKind.FEVER_CONFIRMED_CAREGIVER].audiences == {Audience.CAREGIVER}


def test_render_refuses_when_a_fact_is_missing() -> None:
    """A half-written notice ('recheck at {recheck_at}') is never sent."""
    with pytest.raises(NoticeError, match="recheck_at"):
        render(NoticeKind.ELEVATED_FIRST, {"temperature": "101 °F", "time": "14:05"})


def test_non_urgent_notice_waits_until_7_when_sent_at_23() -> None:
    """A care reminder at 23:00 in Berlin waits for the end of quiet hours."""
    notice = render(NoticeKind.CARE_FLUSH, {})
    now = datetime(2026, 11, 28, 22, 0, tzinfo=UTC)  # 23:00 in Berlin
    assert held_until(notice, QUIET, now) == datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


def test_non_urgent_notice_waits_until_7_when_sent_after_midnight() -> None:
    """Inside the window after midnight, the end is the same morning."""
    notice = render(NoticeKind.CARE_FLUSH, {})
    now = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)  # 03:00 in Berlin
    assert held_until(notice, QUIET, now) == datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


def test_non_urgent_notice_goes_now_when_outside_quiet_hours() -> None:
    """At 12:00 nothing waits."""
    notice = render(NoticeKind.CARE_FLUSH, {})
    assert held_until(notice, QUIET, datetime(2026, 11, 29, 11, 0, tzinfo=UTC)) is None


@pytest.mark.parametrize("kind", [k for k in NoticeKind if NOTICES[k].urgent])
def test_urgent_notice_is_never_held_when_inside_quiet_hours(kind: NoticeKind) -> None:
    """Quiet hours hold back only non-urgent notices; a fever wakes people up."""
    notice = render(kind, FACTS)
    assert held_until(notice, QUIET, datetime(2026, 11, 29, 2, 0, tzinfo=UTC)) is None


def reading(
    celsius: float | None, *, kind: ReadingKind = ReadingKind.SPOT, invalid: str | None = None
) -> Reading:
    when = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    return Reading(
        "AA:BB:CC:DD:EE:FF", kind, None, Unit.CELSIUS, celsius, when, when, invalid_reason=invalid
    )


def test_daily_summary_counts_only_valid_final_readings_when_some_are_not() -> None:
    """A provisional 41 °C or an invalid glitch must not be 'the highest today'."""
    day = [
        reading(37.0),
        reading(37.6),
        reading(41.0, kind=ReadingKind.PROVISIONAL),
        reading(44.0, invalid="out of range"),
        reading(None),
    ]
    notice = daily_summary(4, day, Unit.FAHRENHEIT, "all normal")
    assert notice.title == "Day 4: all normal"
    assert notice.text == "2 readings today, highest 99.7 °F. all normal."


def test_daily_summary_says_no_readings_when_the_day_had_none() -> None:
    """A silent day is said plainly, not as 'highest nothing'."""
    assert daily_summary(2, [], Unit.CELSIUS, "thermometer silent").text.startswith(
        "No readings today."
    )


@pytest.mark.parametrize(
    ("celsius", "unit", "text"),
    [
        (38.3333, Unit.FAHRENHEIT, "101.0 °F"),
        (38.25, Unit.CELSIUS, "38.2 °C"),
        (37.0, Unit.FAHRENHEIT, "98.6 °F"),
    ],
)
def test_temperature_reads_like_a_thermometer_when_formatted(
    celsius: float, unit: Unit, text: str
) -> None:
    """One decimal in the person's unit; 38.33 °C is the 101.0 °F threshold."""
    assert format_temperature(celsius, unit) == text
