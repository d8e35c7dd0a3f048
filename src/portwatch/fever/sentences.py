"""The sentences a nurse reads aloud from the rule's decisions (issue 5), and the texts that
identify readings and observations inside decision identifiers (§6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

from portwatch.model import Observation, Reading, Unit

__all__ = [
    "EXACT_DECIMALS",
    "day",
    "duration_text",
    "hhmm",
    "observation_ident",
    "pair_sentence",
    "reading_ident",
    "reading_text",
]

# Issue 5's sentence shows values as the device reported them; two decimals is a
# wearable's resolution (CORE: 0.01 °C), and a window's median may add more.
EXACT_DECIMALS: Final = 2


def reading_text(obs: Observation) -> str:
    """The value with the device's own digits (at most two decimals).

    Never rounded to one decimal: a wearable's 38.27 °C is normal while 38.3 °C is
    elevated, and a sentence saying "38.3 °C ... was normal" would mislead the nurse.
    """
    unit = "°F" if obs.unit is Unit.FAHRENHEIT else "°C"
    value = obs.value
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -EXACT_DECIMALS:
        value = value.quantize(Decimal(1).scaleb(-EXACT_DECIMALS), rounding=ROUND_HALF_EVEN)
    return f"{value} {unit}"


def hhmm(time: datetime) -> str:
    return time.astimezone(UTC).strftime("%H:%M")


def day(time: datetime) -> str:
    return time.astimezone(UTC).strftime("%d %b")


def pair_sentence(a: Observation, b: Observation) -> str:
    """ "101.3 °F at 08:15 and 101.8 °F at 12:40 UTC, 4 h 25 min apart" (issue 5)."""
    if day(a.time) == day(b.time):
        when_a, when_b = hhmm(a.time), hhmm(b.time)
    else:
        when_a = f"{hhmm(a.time)} on {day(a.time)}"
        when_b = f"{hhmm(b.time)} on {day(b.time)}"
    return (
        f"{reading_text(a)} at {when_a} and {reading_text(b)} at {when_b} UTC, "
        f"{duration_text(b.time - a.time)} apart"
    )


def duration_text(span: timedelta) -> str:
    """A span in a sentence, to the minute: "4 h 25 min"."""
    minutes = int(span.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    if hours:
        return f"{hours} h"
    return f"{minutes} min"


def reading_ident(reading: Reading) -> str:
    """A reading's identity inside decision ids: device, own time and value as sent."""
    value = reading.value if reading.value is not None else reading.special
    return f"{reading.device}|{reading.time.isoformat()}|{value}{reading.unit.value}"


def observation_ident(obs: Observation) -> str:
    """An observation's identity inside decision ids (a window's includes its sample count)."""
    return f"{obs.device}|{obs.time.isoformat()}|{obs.value}{obs.unit.value}|{obs.samples}"
