"""Durations in settings (``"4h"``, ``"90m"``, ``"1h30m"``): read one way, written back alike.

Its own module (moved out of :mod:`portwatch.config`, issue 19): one reading of a
duration for the settings file, the environment and the commands (pause, replay, web).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Final

from pydantic import AfterValidator, BeforeValidator, PlainSerializer

__all__ = ["DURATION_MAX", "Duration", "PositiveDuration", "format_duration", "parse_duration"]

# No setting is near this long; anything longer is a typo (and would overflow a timedelta).
DURATION_MAX: Final = timedelta(days=3650)

_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d+)?)(d|h|m|s)")
_DURATION_UNITS: Final = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: object) -> timedelta:
    """``"4h"``, ``"90m"``, ``"30s"``, ``"1d"`` or a sum such as ``"1h30m"``, as a timedelta.

    Raises:
        ValueError: for anything else, including bare numbers (their unit would be a guess).
    """
    if isinstance(text, timedelta):
        return text
    if not isinstance(text, str) or not text.strip():
        raise ValueError("expected a duration such as '4h', '90m' or '30s'")
    compact = text.strip().replace(" ", "")
    parts = list(_DURATION_PART.finditer(compact))
    if not parts or "".join(p.group(0) for p in parts) != compact:
        raise ValueError("expected a duration such as '4h', '90m' or '30s'")
    seconds = sum(float(p[1]) * _DURATION_UNITS[p[2]] for p in parts)
    if not seconds <= DURATION_MAX.total_seconds():
        # Issue 21: "1000000000d" or 400 nines overflowed timedelta (a traceback, exit 1).
        raise ValueError(f"too long; a duration is at most {DURATION_MAX.days} days")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """``value`` in the largest whole unit, as :func:`parse_duration` reads it back."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than zero")
    return value


PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
