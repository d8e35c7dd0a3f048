"""The daemon's one-line state, for ``systemctl status`` (STATUS=) and the caregiver's page.

"monitoring day 4 of 10 · 37.1 °C 2 min ago · link up". Pure: the facts come in as
arguments. The line carries a temperature on purpose (the issue asks for it); it goes to
systemd's status field, never to the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from portwatch.model import Unit
from portwatch.period import day_number, period_ended

__all__ = ["StatusError", "StatusFacts", "age_text", "status_line"]


class StatusError(ValueError):
    """A status was asked for with a naive time."""


@dataclass(frozen=True, slots=True)
class StatusFacts:
    """What the status line says; times are aware UTC."""

    placement: datetime
    healing_days: int
    link_up: bool
    last_reading_time: datetime | None = None
    last_reading_celsius: float | None = None
    fever: str | None = None  # "fever confirmed", "recheck due 18:05", ...
    clock_trusted: bool = True
    zone: tzinfo = UTC  # the patient's zone: day N counts its calendar days (portwatch.period)
    unit: Unit = Unit.CELSIUS  # the display unit (settings [display] unit)


def age_text(age: timedelta) -> str:
    """'just now', '2 min ago', '3 h ago', '2 d ago': short and plain."""
    seconds = max(0, int(age.total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def status_line(facts: StatusFacts, now: datetime) -> str:
    """One line, parts joined by ' · ', most important first."""
    if now.tzinfo is None or facts.placement.tzinfo is None:
        raise StatusError("status_line needs aware datetimes")
    if now < facts.placement:
        period = "waiting for the placement time"
    elif period_ended(facts.placement, facts.healing_days, now):
        period = "healing period over"
    else:
        day = day_number(facts.placement, now, facts.zone)
        period = f"monitoring day {min(day, facts.healing_days)} of {facts.healing_days}"
        if day > facts.healing_days:
            period = f"monitoring, last hours (day {day})"
    parts = [period]
    if facts.fever:
        parts.append(facts.fever)
    if facts.last_reading_time is None or facts.last_reading_celsius is None:
        parts.append("no reading yet")
    else:
        age = age_text(now - facts.last_reading_time)
        celsius = facts.last_reading_celsius
        shown = celsius * 9.0 / 5.0 + 32.0 if facts.unit is Unit.FAHRENHEIT else celsius
        parts.append(f"{shown:.1f} °{facts.unit.value} {age}")
    parts.append("link up" if facts.link_up else "link down")
    if not facts.clock_trusted:
        parts.append("clock not synchronised")
    return " · ".join(parts)
