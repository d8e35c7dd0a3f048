"""Store.import_stream and Store.iter_readings: a file or a log of any length, in batches.

Issue 20: an import held the whole file in memory; here a batch of 3 stands in for 5,000,
so that repeats across batches, the single transaction and the keyset paging are
exercised with a few readings.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from portwatch.log.store import Store
from portwatch.model import Reading, ReadingKind

from .conftest import T0, make_reading


def test_import_stream_skips_a_repeat_in_a_later_batch_and_one_already_logged(
    store: Store,
) -> None:
    """The same reading twice in one file, batches apart, is one reading (issue 17)."""
    store.add_readings([make_reading(0)])
    readings = [make_reading(s) for s in (0, 1, 2, 3, 4, 1, 5, 1)]
    result = store.import_stream(readings, batch=3)
    assert (result.added, result.already_present) == (5, 3)
    assert [s.reading.time for s in store.readings(T0, T0 + timedelta(1))] == [
        T0 + timedelta(seconds=s) for s in range(6)
    ]


def test_import_stream_stores_nothing_when_the_file_turns_out_bad_after_a_batch(
    store: Store,
) -> None:
    """All or nothing, though batches were already written inside the transaction."""

    def rows() -> Iterator[Reading]:
        yield from (make_reading(s) for s in range(7))
        raise ValueError("line 9: not a number")

    with pytest.raises(ValueError, match="line 9"):
        store.import_stream(rows(), batch=3)
    assert store.reading_count() == 0


def test_iter_readings_gives_every_reading_in_time_order_across_pages(store: Store) -> None:
    """Equal times across a page boundary are neither lost nor repeated (keyset on id)."""
    seconds = [5, 1, 1, 1, 1, 3, 2, 4, 1]
    store.add_readings([make_reading(s, kind=ReadingKind.SPOT) for s in seconds])
    got = [s.reading.time for s in store.iter_readings(None, T0 + timedelta(1), batch=2)]
    assert got == sorted(T0 + timedelta(seconds=s) for s in seconds)
    since = T0 + timedelta(seconds=2)
    later = list(store.iter_readings(since, T0 + timedelta(seconds=5), batch=2))
    assert [s.reading.time for s in later] == [T0 + timedelta(seconds=s) for s in (2, 3, 4)]


def test_import_stream_finds_repeats_in_a_batch_spanning_hours_one_by_one(store: Store) -> None:
    """A file out of time order (a batch wider than two hours) is checked per reading."""
    hours = 3 * 3600
    store.add_readings([make_reading(hours)])
    readings = [make_reading(s) for s in (0, hours, 1, 0, 2 * hours, 1)]
    result = store.import_stream(readings, batch=4)
    assert (result.added, result.already_present) == (3, 3)
    assert store.reading_count() == 4
