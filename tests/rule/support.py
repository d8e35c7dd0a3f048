"""Helpers for the fever rule's tests: readings as a thermometer would report them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from portwatch.fever.rule import FeverRule, RuleSettings
from portwatch.model import Decision, DecisionType, Reading, ReadingKind, Unit

PLACEMENT = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
PATIENT = "Patient/example"
DEVICE = "AA:BB:CC:DD:EE:FF"


def at(hours: float = 0.0, *, minutes: float = 0.0, seconds: float = 0.0) -> datetime:
    """A time so many hours after the placement."""
    return PLACEMENT + timedelta(hours=hours, minutes=minutes, seconds=seconds)


def spot(
    time: datetime,
    value: str,
    unit: Unit = Unit.CELSIUS,
    *,
    device: str = DEVICE,
    kind: ReadingKind = ReadingKind.SPOT,
    interval_s: float | None = None,
) -> Reading:
    """A final reading as the codec would make it: °C derived from the device's value."""
    number = Decimal(value)
    celsius = float(number) if unit is Unit.CELSIUS else (float(number) - 32.0) * 5.0 / 9.0
    return Reading(
        device=device,
        kind=kind,
        value=number,
        unit=unit,
        celsius=celsius,
        time=time,
        received_at=time,
        interval_s=interval_s,
    )


def stream(time: datetime, value: str, *, interval_s: float = 10.0) -> Reading:
    """One sample of a wearable that measures every ``interval_s`` seconds."""
    return spot(time, value, kind=ReadingKind.STREAM, interval_s=interval_s)


def new_rule(settings: RuleSettings | None = None, *, pinned: str | None = None) -> FeverRule:
    return FeverRule(
        settings or RuleSettings(), patient=PATIENT, placement=PLACEMENT, pinned_device=pinned
    )


def run(
    readings: Iterable[Reading],
    *,
    settings: RuleSettings | None = None,
    until: datetime | None = None,
    pinned: str | None = None,
) -> list[Decision]:
    """Feed readings on time (each arrives at its own time), then advance to ``until``."""
    rule = new_rule(settings, pinned=pinned)
    out: list[Decision] = []
    last = PLACEMENT
    for reading in readings:
        last = max(last, reading.time)
        out.extend(rule.feed(reading, now=last))
    out.extend(rule.advance(until or last))
    return out


def of_type(decisions: Iterable[Decision], kind: DecisionType) -> list[Decision]:
    return [d for d in decisions if d.type is kind]
