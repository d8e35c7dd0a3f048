"""The chart's per-minute rollup: which readings the chart shows, and keeping it current.

Every write of readings refreshes the rollup rows of the minutes it touched, in the same
transaction (:func:`refresh_minutes`), so the table always equals what
:data:`MINUTE_ROLLUP` computes from the readings of each minute.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Final

from portwatch.model import ReadingKind

__all__ = [
    "CHARTABLE",
    "CHART_MAX_CELSIUS",
    "CHART_MINUTE_US",
    "CHART_MIN_CELSIUS",
    "MINUTE_RANGE",
    "MINUTE_ROLLUP",
    "refresh_minutes",
]

# The chart (issue 8: ten days at 1/s drawn in under 200 ms, query included) reads one
# rollup row per minute instead of one row per reading: ten days is 14,400 rows, not 864,000.
CHART_MINUTE_US: Final = 60_000_000

# What the chart shows: the readings the rule could use (fever-rule.md §1). Left out: special
# values (no temperature), readings the link marked invalid, provisional readings (shown while
# a measurement settles, never used by the rule), and temperatures outside the rule's validity
# range, 30.0-45.0 °C (fever-rule.md §1, "outside 30.0-45.0 °C"), which an import may carry.
CHART_MIN_CELSIUS: Final = 30.0
CHART_MAX_CELSIUS: Final = 45.0
CHARTABLE: Final = (
    "celsius IS NOT NULL AND invalid_reason IS NULL "
    f"AND kind <> '{ReadingKind.PROVISIONAL.value}' "
    f"AND celsius >= {CHART_MIN_CELSIUS!r} AND celsius <= {CHART_MAX_CELSIUS!r}"
)
# floor(time_us / 1 min), also for times before 1970 (SQLite's / and % truncate toward zero).
_MINUTE_OF: Final = (
    f"((time_us - ((time_us % {CHART_MINUTE_US}) + {CHART_MINUTE_US}) % {CHART_MINUTE_US})"
    f" / {CHART_MINUTE_US})"
)
# One rollup row per minute holding chart readings: count, min, max, sum and the median
# (the middle value, or the mean of the two middle values for an even count, like
# statistics.median). `range` narrows it to some minutes (bound parameters :start, :end).
MINUTE_ROLLUP: Final = (
    "INSERT INTO chart_minutes (minute, count, min_c, max_c, sum_c, median_c) "
    "SELECT minute, COUNT(*), MIN(celsius), MAX(celsius), SUM(celsius), "
    "AVG(CASE WHEN place IN ((n + 1) / 2, (n + 2) / 2) THEN celsius END) "
    "FROM (SELECT " + _MINUTE_OF + " AS minute, celsius, "
    "ROW_NUMBER() OVER (PARTITION BY " + _MINUTE_OF + " ORDER BY celsius) AS place, "
    "COUNT(*) OVER (PARTITION BY " + _MINUTE_OF + ") AS n "
    "FROM readings WHERE " + CHARTABLE + "{range}) GROUP BY minute"
)
MINUTE_RANGE: Final = " AND time_us >= :start AND time_us < :end"


def refresh_minutes(db: sqlite3.Connection, minutes: Iterable[int]) -> None:
    """Summarise these minutes again from their readings (inside a write transaction).

    A live batch touches one or two minutes of at most a few hundred readings each, read
    through the time index; a minute with no chart reading left loses its row. Consecutive
    minutes (a burst, an import) are done as one range.
    """
    runs: list[list[int]] = []
    for minute in sorted(set(minutes)):
        if runs and runs[-1][1] == minute - 1:
            runs[-1][1] = minute
        else:
            runs.append([minute, minute])
    db.executemany("DELETE FROM chart_minutes WHERE minute >= ? AND minute <= ?", runs)
    db.executemany(
        MINUTE_ROLLUP.format(range=MINUTE_RANGE),
        [
            {"start": first * CHART_MINUTE_US, "end": (last + 1) * CHART_MINUTE_US}
            for first, last in runs
        ],
    )
