"""The chart's questions: temperatures cut into slices, and the silences between readings.

Slices of a minute or longer come from the per-minute rollup (:mod:`portwatch.log.rollup`);
shorter ones, and the gaps, from the readings' time index.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from portwatch.log.database import Database
from portwatch.log.errors import StoreInputError, classify
from portwatch.log.rollup import CHART_MINUTE_US, CHARTABLE
from portwatch.log.times import EPOCH, from_us, to_us
from portwatch.model import Bucket

__all__ = ["GAP_WALK_MAX_STEPS", "Bucket", "Chart"]

# Store.gaps walks the time index (index-only: readings_by_time starts with time_us).
_LAST_READING_IN: Final = (
    "SELECT time_us FROM readings WHERE time_us > ? AND time_us <= ? ORDER BY time_us DESC LIMIT 1"
)
_FIRST_READING_IN: Final = (
    "SELECT time_us FROM readings WHERE time_us > ? AND time_us < ? ORDER BY time_us LIMIT 1"
)
# Beyond this many index lookups, Store.gaps scans instead: one lookup costs about as much
# as reading some tens of rows, and a ten-day scan at 1/s is 864,000 rows.
GAP_WALK_MAX_STEPS: Final = 20_000


class Chart(Database):
    """The chart's queries over the log (one part of :class:`~portwatch.log.store.Store`)."""

    def downsample(self, since: datetime, until: datetime, buckets: int) -> list[Bucket]:
        """The chart's temperatures in [since, until) cut into `buckets` slices.

        The chart's temperatures are the readings the rule could use: special values,
        readings marked invalid, provisional readings and temperatures outside 30.0-45.0 °C
        are left out (:meth:`readings` has them all). Only slices holding at least one
        reading are returned.

        Slices of a minute or longer are built from the per-minute rollup (ten days are
        14,400 rows, whatever the reading rate), so each minute must fall in one slice:
        the inner edges are moved back to the start of their minute (by less than one
        minute), and each :class:`Bucket` says where it truly starts and ends. Its
        ``min_c``, ``max_c`` and ``count`` are exact for [start, end). Its ``median_c`` is
        the count-weighted median of the per-minute medians: order the slice's minutes by
        their median, and take the median of the minute where the running count first
        reaches half the slice's count (the mean of that one and the next when it reaches
        exactly half). It equals the true median when each minute holds at most one
        reading, and always lies between the slice's lower and upper quartiles (at least
        a quarter of its readings are at or below it, and a quarter at or above).
        A partial minute at either end of the range is read from the raw readings.

        Slices shorter than a minute (a zoomed-in hour) are built from the raw readings,
        with equal edges and the exact median.

        Raises:
            StoreInputError: for fewer than one bucket or an empty or reversed range.
        """
        start_us, end_us = to_us(since, "since"), to_us(until, "until")
        if buckets < 1 or end_us <= start_us:
            raise StoreInputError(
                f"downsample needs buckets >= 1 and since < until (got {buckets}, "
                f"{since.isoformat()} .. {until.isoformat()})"
            )
        slicing = _Slicing(start_us, end_us, buckets)
        first_minute = -(-start_us // CHART_MINUTE_US)  # the first whole minute in range
        end_minute = end_us // CHART_MINUTE_US  # the minute after the last whole one
        if slicing.span < buckets * CHART_MINUTE_US or first_minute >= end_minute:
            return self._downsample_raw(start_us, end_us, buckets)
        return _fold_units(self._chart_units(slicing, first_minute, end_minute), slicing)

    def _chart_units(
        self, slicing: _Slicing, first_minute: int, end_minute: int
    ) -> Iterable[Sequence[Any]]:
        """The units :meth:`downsample` folds into slices, in time order.

        The raw readings of a partial first minute, the rollup's whole minutes, the raw
        readings of a partial last minute; each one as (last microsecond, count, min, max,
        median). A unit falls in the slice that holds its last microsecond, which is what
        moving the inner edges back to the minute means.
        """
        raw_units = (
            "SELECT time_us, 1, celsius, celsius, celsius FROM readings "  # noqa: S608
            f"WHERE time_us >= ? AND time_us < ? AND {CHARTABLE} ORDER BY time_us"
        )
        return itertools.chain(
            self._read(raw_units, (slicing.start_us, first_minute * CHART_MINUTE_US)),
            self._read(
                f"SELECT (minute + 1) * {CHART_MINUTE_US} - 1, count, min_c, max_c, median_c "  # noqa: S608
                "FROM chart_minutes WHERE minute >= ? AND minute < ? ORDER BY minute",
                (first_minute, end_minute),
            ),
            self._read(raw_units, (end_minute * CHART_MINUTE_US, slicing.end_us)),
        )

    def _downsample_raw(self, start_us: int, end_us: int, buckets: int) -> list[Bucket]:
        """:meth:`downsample` from the raw readings: equal edges, exact medians."""
        import statistics  # here, not at import time: it pulls in random and fractions

        span = end_us - start_us
        values: dict[int, list[float]] = {}
        cursor = self._db.execute(
            f"SELECT time_us, celsius FROM readings WHERE time_us >= ? AND time_us < ? "  # noqa: S608
            f"AND {CHARTABLE}",
            (start_us, end_us),
        )
        try:
            for time_us, celsius in cursor:
                index = (time_us - start_us) * buckets // span
                bucket = values.get(index)
                if bucket is None:
                    values[index] = [celsius]
                else:
                    bucket.append(celsius)
        except sqlite3.Error as exc:
            raise classify(exc, self.path, "reading") from exc
        result = []
        for index in sorted(values):
            temps = values[index]
            result.append(
                Bucket(
                    start=from_us(start_us + span * index // buckets),
                    end=from_us(start_us + span * (index + 1) // buckets),
                    min_c=min(temps),
                    median_c=statistics.median(temps),
                    max_c=max(temps),
                    count=len(temps),
                )
            )
        return result

    def gaps(
        self, since: datetime, until: datetime, min_gap: timedelta
    ) -> list[tuple[datetime, datetime]]:
        """Periods within [since, until) longer than `min_gap` with no reading of any kind.

        The edges count: a silence from `since` to the first reading, or from the last
        reading to `until`, is a gap too; an empty range is one gap. Every reading counts,
        chartable or not (a special value, an invalid or provisional reading shows the
        thermometer was there), so the chart's rollup cannot answer this.

        Fast by design (issue 8 follow-up): it walks the time index in strides of
        `min_gap` instead of reading every row. From a reading (or `since`) at time t it
        asks for the last reading in (t, t + min_gap]: if there is one, no gap starts at t
        and the walk moves there (two such steps always cover more than `min_gap`); if there
        is none, the next reading after t ends a gap. Each step is one index lookup, so the
        cost is about 2 x span / min_gap lookups plus two per gap, not one per reading.
        For a `min_gap` so short that this would take more than ``GAP_WALK_MAX_STEPS`` steps,
        one scan of the time index pairs each reading with the one before it.
        """
        start_us, end_us = to_us(since, "since"), to_us(until, "until")
        min_us = to_us(EPOCH + min_gap, "min_gap")
        if min_us <= 0 or (end_us - start_us) // min_us > GAP_WALK_MAX_STEPS // 2:
            return self._gaps_scan(start_us, end_us, min_us)
        found: list[tuple[datetime, datetime]] = []
        at = start_us  # a reading's time (or `since`): no gap before it is left unfound
        while at < end_us:
            reach = min(at + min_us, end_us - 1)
            within = self._read(_LAST_READING_IN, (at, reach))
            if within:
                at = within[0][0]
                continue
            following = self._read(_FIRST_READING_IN, (at, end_us))
            following_us = following[0][0] if following else end_us
            if following_us - at > min_us:
                found.append((from_us(at), from_us(following_us)))
            at = following_us
        return found

    def _gaps_scan(
        self, start_us: int, end_us: int, min_us: int
    ) -> list[tuple[datetime, datetime]]:
        """:meth:`gaps` by pairing every reading in range with the one before it."""
        # Each reading paired with the one before it (the first with `since`), plus one
        # last pair (the last reading or `since`, then `until`) for the trailing silence.
        rows = self._read(
            "SELECT previous, time_us FROM ("
            "  SELECT LAG(time_us, 1, :start) OVER (ORDER BY time_us) AS previous, time_us"
            "  FROM readings WHERE time_us >= :start AND time_us < :end"
            "  UNION ALL SELECT (SELECT COALESCE(MAX(time_us), :start) FROM readings"
            "    WHERE time_us >= :start AND time_us < :end), :end"
            ") WHERE time_us - previous > :min ORDER BY previous",
            {"start": start_us, "end": end_us, "min": min_us},
        )
        return [(from_us(previous), from_us(following)) for previous, following in rows]


@dataclass(frozen=True, slots=True)
class _Slicing:
    """[start_us, end_us) cut into `buckets` slices, edges moved back to their minute."""

    start_us: int
    end_us: int
    buckets: int

    @property
    def span(self) -> int:
        return self.end_us - self.start_us

    def index_of(self, last_us: int) -> int:
        return (last_us - self.start_us) * self.buckets // self.span

    def edge(self, index: int) -> datetime:
        if index == 0:
            return from_us(self.start_us)
        if index == self.buckets:
            return from_us(self.end_us)
        moved = self.start_us + self.span * index // self.buckets
        return from_us(moved // CHART_MINUTE_US * CHART_MINUTE_US)


def _fold_units(units: Iterable[Sequence[Any]], slicing: _Slicing) -> list[Bucket]:
    """Time-ordered units (last microsecond, count, min, max, median) as one Bucket per slice."""
    result: list[Bucket] = []
    medians: list[tuple[float, int]] = []  # (median, count) of the current slice's units
    current, low, high, total = -1, 0.0, 0.0, 0
    for last_us, count, unit_low, unit_high, median in units:
        index = slicing.index_of(last_us)
        if index != current:
            if medians:
                result.append(_bucket(slicing, current, low, high, total, medians))
            current, low, high, total, medians = index, unit_low, unit_high, 0, []
        low = min(low, unit_low)
        high = max(high, unit_high)
        total += count
        medians.append((median, count))
    if medians:
        result.append(_bucket(slicing, current, low, high, total, medians))
    return result


def _bucket(
    slicing: _Slicing,
    index: int,
    low: float,
    high: float,
    total: int,
    medians: list[tuple[float, int]],
) -> Bucket:
    return Bucket(
        slicing.edge(index),
        slicing.edge(index + 1),
        low,
        _weighted_median(medians, total),
        high,
        total,
    )


def _weighted_median(medians: list[tuple[float, int]], total: int) -> float:
    """The count-weighted median of (median, count) pairs, as :meth:`Store.downsample` says."""
    medians.sort()
    running = 0
    for place, (median, count) in enumerate(medians):
        running += count
        if running * 2 == total:
            return (median + medians[place + 1][0]) / 2
        if running * 2 > total:
            return median
    return medians[-1][0]  # pragma: no cover - not reached: the counts add up to total
