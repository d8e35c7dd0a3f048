"""The chart's query: the per-minute rollup agrees with the raw readings it summarises."""

from __future__ import annotations

import math
import sqlite3
import statistics
import tempfile
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portwatch.log.store import (
    CHART_MAX_CELSIUS,
    CHART_MIN_CELSIUS,
    CHART_MINUTE_US,
    MIGRATIONS,
    Bucket,
    Store,
    to_us,
)
from portwatch.model import Reading, ReadingKind

from .conftest import T0, make_reading

MINUTE = timedelta(minutes=1)
EPOCH_ISH = T0 - timedelta(days=3650)
FAR = T0 + timedelta(days=3650)


def _chartable(reading: Reading) -> bool:
    """The chart's choice, written out again: what the rule could use (fever-rule.md §1)."""
    return (
        reading.celsius is not None
        and reading.invalid_reason is None
        and reading.kind is not ReadingKind.PROVISIONAL
        and CHART_MIN_CELSIUS <= reading.celsius <= CHART_MAX_CELSIUS
    )


def _chart_temps(store: Store, start: datetime, end: datetime) -> list[float]:
    return [
        s.reading.celsius
        for s in store.readings(start, end)
        if _chartable(s.reading) and s.reading.celsius is not None
    ]


def _expected_rollup(store: Store) -> dict[int, tuple[int, float, float, float]]:
    """minute -> (count, min, max, median), computed here from the raw readings."""
    by_minute: dict[int, list[float]] = {}
    for stored in store.readings(EPOCH_ISH, FAR):
        reading = stored.reading
        if _chartable(reading) and reading.celsius is not None:
            minute = to_us(reading.time) // CHART_MINUTE_US
            by_minute.setdefault(minute, []).append(reading.celsius)
    return {
        minute: (len(t), min(t), max(t), statistics.median(t)) for minute, t in by_minute.items()
    }


def _stored_rollup(db: Path) -> dict[int, tuple[int, float, float, float]]:
    raw = sqlite3.connect(db)
    try:
        rows = raw.execute("SELECT minute, count, min_c, max_c, median_c FROM chart_minutes")
        return {minute: (count, low, high, median) for minute, count, low, high, median in rows}
    finally:
        raw.close()


def _assert_rollup_matches(store: Store) -> None:
    expected = _expected_rollup(store)
    stored = _stored_rollup(store.path)
    assert stored.keys() == expected.keys()
    for minute, (count, low, high, median) in expected.items():
        assert stored[minute][:3] == (count, low, high), f"minute {minute}"
        assert stored[minute][3] == pytest.approx(median), f"minute {minute}"


def _assert_buckets_agree_with_raw(
    store: Store, buckets: Sequence[Bucket], since: datetime, until: datetime
) -> None:
    """Each bucket's min/max/count exact for its [start, end); its median between quartiles."""
    previous_end = since
    for bucket in buckets:
        assert previous_end <= bucket.start < bucket.end <= until
        previous_end = bucket.end
        temps = sorted(_chart_temps(store, bucket.start, bucket.end))
        assert (bucket.min_c, bucket.max_c, bucket.count) == (temps[0], temps[-1], len(temps))
        quarter = math.ceil(len(temps) / 4)
        assert temps[quarter - 1] <= bucket.median_c <= temps[len(temps) - quarter]
    assert sum(b.count for b in buckets) == len(_chart_temps(store, since, until))


_temps = st.one_of(
    st.sampled_from([36.5, 37.0, 38.3, 38.4, 39.9]),
    st.floats(min_value=29.0, max_value=46.0, allow_nan=False).map(lambda c: round(c, 2)),
)
_reading_args = st.tuples(
    st.integers(min_value=0, max_value=6 * 3600),  # seconds after T0
    _temps,
    st.sampled_from(ReadingKind),
    st.sampled_from([None, None, None, "link said so"]),
)


@settings(max_examples=40, deadline=None)
@given(
    batches=st.lists(st.lists(_reading_args, min_size=1, max_size=40), min_size=1, max_size=4),
    buckets=st.integers(min_value=1, max_value=60),
    since_s=st.integers(min_value=-100, max_value=3 * 3600),
    length_s=st.integers(min_value=1, max_value=7 * 3600),
)
def test_downsample_matches_raw_readings_when_readings_and_buckets_are_random(
    batches: list[list[tuple[int, float, ReadingKind, str | None]]],
    buckets: int,
    since_s: int,
    length_s: int,
) -> None:
    """The chart must show every usable reading once: min, max and count exact, median sound."""
    since = T0 + timedelta(seconds=since_s, microseconds=since_s * 7919 % 1_000_000)
    until = since + timedelta(seconds=length_s)
    with tempfile.TemporaryDirectory() as directory, Store.open(Path(directory) / "c.db") as store:
        for batch in batches:  # several batches: later ones land in minutes already summarised
            store.add_readings(
                [
                    make_reading(seconds, celsius, kind=kind, invalid_reason=reason)
                    for seconds, celsius, kind, reason in batch
                ]
            )
        _assert_rollup_matches(store)
        result = store.downsample(since, until, buckets)
        assert len(result) <= buckets
        _assert_buckets_agree_with_raw(store, result, since, until)


def test_downsample_moves_inner_edges_to_whole_minutes_when_buckets_are_a_minute_or_more(
    store: Store,
) -> None:
    """Each minute of the rollup must fall in one bucket, and the bucket must say where it is."""
    store.add_readings([make_reading(s, 37.0 + (s % 7) / 10) for s in range(0, 3600, 5)])
    since = T0 + timedelta(seconds=30)
    result = store.downsample(since, since + timedelta(minutes=50), 7)
    assert result[0].start == since
    assert result[-1].end == since + timedelta(minutes=50)
    for bucket in result[1:]:
        assert (bucket.start - T0) % MINUTE == timedelta(0)
    _assert_buckets_agree_with_raw(store, result, since, since + timedelta(minutes=50))


def test_downsample_median_is_exact_when_each_minute_holds_one_reading(store: Store) -> None:
    """Spot readings (one a minute or fewer) must chart their true median."""
    temps = [37.0, 39.5, 36.6, 38.1, 37.7, 38.8]
    store.add_readings([make_reading(90 * i, t) for i, t in enumerate(temps)])
    (bucket,) = store.downsample(T0, T0 + timedelta(hours=1), 1)
    assert bucket.median_c == statistics.median(temps)


def test_downsample_median_weighs_each_minute_by_its_count_when_minutes_are_uneven(
    store: Store,
) -> None:
    """A busy minute must outweigh a quiet one, as the docstring's definition says."""
    # Minute 0: 37.0 x 5 (median 37.0); minute 1: 39.0 x 1; minute 2: 38.0 x 1.
    store.add_readings([make_reading(s, 37.0) for s in range(5)])
    store.add_readings([make_reading(60, 39.0), make_reading(120, 38.0)])
    (bucket,) = store.downsample(T0, T0 + timedelta(minutes=3), 1)
    assert (bucket.median_c, bucket.count) == (37.0, 7)


def test_downsample_reads_raw_rows_with_equal_edges_when_buckets_are_under_a_minute(
    store: Store,
) -> None:
    """A zoomed-in hour keeps its exact, evenly spaced points."""
    store.add_readings([make_reading(s, 37.0 + (s % 3) / 10) for s in range(600)])
    result = store.downsample(T0, T0 + timedelta(minutes=10), 20)  # 30 s buckets
    assert len(result) == 20
    assert all(b.end - b.start == timedelta(seconds=30) for b in result)
    assert all(b.median_c == pytest.approx(37.1) and b.count == 30 for b in result)


def test_downsample_leaves_out_what_the_rule_cannot_use_when_charting(store: Store) -> None:
    """Provisional, invalid and impossible temperatures would draw a fever that is not there."""
    store.add_readings(
        [
            make_reading(0, 37.0),
            make_reading(1, 40.5, kind=ReadingKind.PROVISIONAL),
            make_reading(2, 39.0, invalid_reason="not the pinned thermometer"),
            make_reading(3, 46.0),  # outside fever-rule.md §1's 30.0-45.0 °C
            make_reading(4, 29.0),
        ]
    )
    for buckets in (1, 120):  # from the rollup, and from raw rows
        assert [(b.min_c, b.max_c, b.count) for b in store.downsample(T0, T0 + DAY, buckets)] == [
            (37.0, 37.0, 1)
        ]


def test_purge_removes_rollup_rows_when_their_readings_go(store: Store) -> None:
    """A purged reading must not linger in the chart."""
    store.add_readings([make_reading(s, 37.0 + s / 1000) for s in range(0, 7200, 10)])
    store.purge(T0 + timedelta(minutes=30, seconds=25))
    _assert_rollup_matches(store)
    assert min(_stored_rollup(store.path)) == to_us(T0 + timedelta(minutes=30)) // CHART_MINUTE_US
    (first, *_) = store.downsample(T0, T0 + timedelta(hours=2), 4)
    assert first.count == len(_chart_temps(store, T0, first.end))


def test_open_back_fills_rollup_when_log_predates_it(db_path: Path) -> None:
    """A log written before the rollup existed must chart all its readings after the upgrade."""
    db_path.parent.mkdir(parents=True)
    raw = sqlite3.connect(db_path)
    raw.executescript(f"{MIGRATIONS[0]}\nPRAGMA user_version = 1;")
    raw.close()
    with Store.open(db_path) as store:
        readings = [make_reading(s * 13, 36.0 + (s % 40) / 10) for s in range(500)]
        readings.append(make_reading(5, 38.0, kind=ReadingKind.PROVISIONAL))
        store.add_readings(readings)
    raw = sqlite3.connect(db_path)
    raw.executescript("DROP TABLE chart_minutes; PRAGMA user_version = 1;")
    raw.close()
    with Store.open(db_path) as store:
        _assert_rollup_matches(store)
        assert len(_stored_rollup(db_path)) > 50


DAY = timedelta(days=1)
