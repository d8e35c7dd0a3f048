"""Times as the log stores them: integer microseconds since the Unix epoch, UTC.

Sortable, compact and exact; columns holding them end in ``_us``. They are always bound
parameters: SQL never reads the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from portwatch.log.errors import StoreInputError

__all__ = ["EPOCH", "from_us", "opt_dt", "opt_us", "to_us"]

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(when: datetime, what: str = "time") -> int:
    """Microseconds since the epoch for an aware datetime.

    Raises:
        StoreInputError: for a naive datetime (every time inside portwatch is aware UTC).
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise StoreInputError(f"{what} {when!r} has no time zone; portwatch stores aware UTC")
    delta = when - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def opt_us(when: datetime | None, what: str) -> int | None:
    return None if when is None else to_us(when, what)


def opt_dt(us: int | None) -> datetime | None:
    return None if us is None else from_us(us)
