"""The log's range queries are fast by design and answer as the plain computation does."""

from __future__ import annotations

import itertools
import tempfile
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portwatch.log.store import Store, StoreError
from portwatch.model import ReadingKind

from .conftest import T0, make_reading

_US = timedelta(microseconds=1)
_kinds = st.sampled_from([*ReadingKind, "invalid"])


def _brute_gaps(
    times_us: list[int], since_us: int, until_us: int, min_us: int
) -> list[tuple[int, int]]:
    """Gaps as their definition says: consecutive instants of since, the readings, until."""
    points = [since_us, *sorted(t for t in times_us if since_us <= t < until_us), until_us]
    return [(a, b) for a, b in itertools.pairwise(points) if b - a > min_us]


@settings(max_examples=60, deadline=None)
@given(
    readings=st.lists(st.tuples(st.integers(-600, 7_200), _kinds), max_size=40),
    since_s=st.integers(-900, 3_600),
    span_s=st.integers(0, 9_000),
    min_gap_us=st.one_of(
        st.integers(1, 1_000_000),  # short enough that the log scans instead of walking
        st.integers(1_000_000, 5_000_000_000),
    ),
)
def test_gaps_equal_brute_force_when_readings_are_any_kind_and_anywhere(
    readings: list[tuple[int, ReadingKind | str]], since_s: int, span_s: int, min_gap_us: int
) -> None:
    """The visit summary's gaps are what the clinic reads as "not monitored": exactly as defined."""
    stored = [
        make_reading(
            seconds,
            kind=ReadingKind.STREAM if kind == "invalid" else ReadingKind(kind),
            invalid_reason="test: invalid" if kind == "invalid" else None,
        )
        for seconds, kind in readings
    ]
    since, until = T0 + timedelta(seconds=since_s), T0 + timedelta(seconds=since_s + span_s)
    min_gap = timedelta(microseconds=min_gap_us)
    with tempfile.TemporaryDirectory() as directory, Store.open(Path(directory) / "l.db") as store:
        store.add_readings(stored)
        got = store.gaps(since, until, min_gap)
    expected = _brute_gaps(
        [(r.time - T0) // _US for r in stored], (since - T0) // _US, (until - T0) // _US, min_gap_us
    )
    assert [((a - T0) // _US, (b - T0) // _US) for a, b in got] == expected


def test_gaps_count_readings_the_chart_leaves_out_when_only_those_arrive(store: Store) -> None:
    """A thermometer sending only provisional or invalid readings was there: no silence."""
    store.add_readings(
        [make_reading(s, kind=ReadingKind.PROVISIONAL) for s in range(0, 3_600, 600)]
        + [make_reading(s, invalid_reason="test: invalid") for s in range(300, 3_600, 600)]
    )
    assert store.gaps(T0, T0 + timedelta(seconds=3_600), timedelta(minutes=6)) == []


def test_gaps_reads_few_index_entries_when_log_is_dense(store: Store) -> None:
    """The summary must not read a whole ten-day log to find its silences (issue 8)."""
    store.add_readings([make_reading(s) for s in range(6 * 3_600)])  # 21,600 readings
    steps = 0

    def count(_statement: str) -> None:
        nonlocal steps
        steps += 1

    store._db.set_trace_callback(count)
    try:
        gaps = store.gaps(T0, T0 + timedelta(hours=7), timedelta(minutes=30))
    finally:
        store._db.set_trace_callback(None)
    assert gaps == [(T0 + timedelta(seconds=6 * 3_600 - 1), T0 + timedelta(hours=7))]
    assert steps < 40  # about two lookups per half hour, not one per reading


def test_latest_reading_is_last_written_of_equals_when_times_tie(store: Store) -> None:
    """Two readings at one instant: the page shows the one written last, as before."""
    first, second = store.add_readings([make_reading(100, 37.0), make_reading(100, 38.0)])
    store.add_readings([make_reading(50, 39.0)])
    latest = store.latest_reading()
    assert latest is not None
    assert (latest.id, latest.reading.celsius) == (second, 38.0)
    assert first < second


def test_latest_reading_is_an_index_lookup_when_log_is_large(store: Store) -> None:
    """The status page asks for it every refresh: it must never sort the whole log."""
    store.add_readings([make_reading(s) for s in range(1_000)])
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    try:
        store.latest_reading()
    finally:
        store._db.set_trace_callback(None)
    (statement,) = statements
    plan = [str(row[3]) for row in store._db.execute(f"EXPLAIN QUERY PLAN {statement}")]
    assert not [step for step in plan if step.startswith("SCAN") or "TEMP B-TREE" in step], plan


def test_readings_keep_each_values_digits_when_equal_numbers_differ_in_text(store: Store) -> None:
    """The nurse reads the digits the thermometer sent: 37.2 and 37.20 stay apart."""
    texts = ["37.2", "37.20", "37.2", "37.200"]
    store.add_readings(
        [replace(make_reading(i), value=Decimal(text)) for i, text in enumerate(texts)]
    )
    got = [str(s.reading.value) for s in store.readings(T0, T0 + timedelta(minutes=1))]
    assert got == texts


def test_readings_raise_store_error_when_a_row_holds_an_unknown_kind(store: Store) -> None:
    """A log altered by hand or by a newer portwatch must say so, not fail with a KeyError."""
    (row_id,) = store.add_readings([make_reading(0)])
    store._db.execute("UPDATE readings SET kind = 'bogus' WHERE id = ?", (row_id,))
    with pytest.raises(StoreError, match=f"reading {row_id} holds 'bogus'"):
        store.readings(T0, T0 + timedelta(minutes=1))


def test_every_connection_to_the_log_keeps_a_small_page_cache(tmp_path: Path) -> None:
    """Issue 20: the daemon holds the writer and a reader for days; each one's page cache
    is CACHE_KIB, not SQLite's 2 MB default (a Pi Zero 2 W has 512 MB in all)."""
    from portwatch.log.database import CACHE_KIB

    path = tmp_path / "portwatch.db"
    with Store.open(path) as writer, Store.open_reader(path) as reader:
        for store in (writer, reader):
            assert store._db.execute("PRAGMA cache_size").fetchone()[0] == -CACHE_KIB
    assert 0 < CACHE_KIB < 2000
