"""The batching front of the log: durable within a second, buffered when the disk refuses."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import timedelta
from functools import partial

import pytest

from portwatch.clock import VirtualClock
from portwatch.log.store import Store, StoredReading, StoreInputError
from portwatch.log.writer import ReadingWriter, StoreTrouble

from .conftest import T0, make_reading

# A real commit runs on a thread the virtual clock cannot see; wait for it this long at most.
REAL_WAIT_S = 10.0


class Recorder:
    """Collects what the writer reports, with the virtual time it was reported at."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.durable: list[tuple[float, StoredReading]] = []
        self.batch_sizes: list[int] = []
        self.troubles: list[StoreTrouble | None] = []
        self.changed = asyncio.Event()

    def on_durable(self, batch: Sequence[StoredReading]) -> None:
        self.durable.extend((self.clock.monotonic(), stored) for stored in batch)
        self.batch_sizes.append(len(batch))
        self.changed.set()

    def on_trouble(self, trouble: StoreTrouble | None) -> None:
        self.troubles.append(trouble)
        self.changed.set()

    async def until(self, predicate: object) -> None:
        async with asyncio.timeout(REAL_WAIT_S):
            while not predicate():  # type: ignore[operator]
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


async def _started(
    store: Store, clock: VirtualClock, **kwargs: int
) -> tuple[ReadingWriter, Recorder, asyncio.Task[None]]:
    recorder = Recorder(clock)
    writer = ReadingWriter(
        store, clock, on_durable=recorder.on_durable, on_trouble=recorder.on_trouble, **kwargs
    )
    return writer, recorder, asyncio.create_task(writer.run())


async def _stop(writer: ReadingWriter, task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await writer.close()


async def test_writer_makes_reading_durable_within_one_second_when_received(
    store: Store, clock: VirtualClock
) -> None:
    """Issue 4: every reading durable within 1 s; the rule only sees durable ones."""
    writer, recorder, task = await _started(store, clock)
    try:
        writer.submit(make_reading(0))
        await clock.advance(0.5)
        await recorder.until(lambda: recorder.durable)
        ((at, stored),) = recorder.durable
        assert at <= 1.0
        assert store.readings(T0, T0 + timedelta(days=1)) == [stored]
    finally:
        await _stop(writer, task)


async def test_writer_makes_lone_reading_durable_without_batching_window_when_idle(
    store: Store, clock: VirtualClock
) -> None:
    """Issue 9: a lone reading (a fever's first) waits one fsync, not a batching window."""
    writer, recorder, task = await _started(store, clock)
    try:
        writer.submit(make_reading(0))
        await recorder.until(lambda: recorder.durable)  # no virtual time is let pass
        ((at, stored),) = recorder.durable
        assert at == 0.0
        assert clock.monotonic() == 0.0
        assert store.readings(T0, T0 + timedelta(days=1)) == [stored]
    finally:
        await _stop(writer, task)


async def test_writer_gathers_arrivals_into_next_commit_when_one_is_in_flight(
    store: Store, clock: VirtualClock
) -> None:
    """Group commit: under load readings share transactions, so throughput holds."""
    gate = threading.Event()
    recorder = Recorder(clock)
    writer = ReadingWriter(store, clock, on_durable=recorder.on_durable)
    held = store.run(partial(gate.wait, REAL_WAIT_S))  # holds the first commit in flight
    task = asyncio.create_task(writer.run())
    try:
        writer.submit(make_reading(0))
        for _ in range(5):  # the run task hands the lone reading to the store's thread
            await asyncio.sleep(0)
        for second in range(1, 6):
            writer.submit(make_reading(second))
        gate.set()
        await recorder.until(lambda: len(recorder.durable) == 6)
        assert recorder.batch_sizes == [1, 5]
        assert store.reading_count() == 6
    finally:
        gate.set()
        await held
        await _stop(writer, task)


async def test_writer_hands_row_ids_in_order_when_batching(
    store: Store, clock: VirtualClock
) -> None:
    """The rule cites readings by row id; ids must belong to the reading they come with."""
    writer, recorder, task = await _started(store, clock)
    try:
        for second in range(5):
            writer.submit(make_reading(second, 37 + second / 10))
        await clock.advance(0.5)
        await recorder.until(lambda: len(recorder.durable) == 5)
        for _, stored in recorder.durable:
            (fetched,) = [s for s in store.readings(T0, T0 + timedelta(1)) if s.id == stored.id]
            assert fetched.reading == stored.reading
    finally:
        await _stop(writer, task)


async def test_writer_buffers_and_reports_then_writes_all_when_disk_fills_and_frees(
    store: Store, clock: VirtualClock
) -> None:
    """Disk full: nothing crashes, nothing is dropped, the caregiver is told, then untold.

    SQLite's own page limit (max_page_count) stands in for a full disk here; the real
    full tmpfs is in test_disk.py.
    """
    store.add_readings([make_reading(-s) for s in range(1, 50)])
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")
    writer, recorder, task = await _started(store, clock)
    try:
        for second in range(3000):
            writer.submit(make_reading(second))
        await clock.advance(0.5)
        await recorder.until(lambda: recorder.troubles)
        trouble = recorder.troubles[0]
        assert trouble is not None
        assert "full" in trouble.error
        assert writer.buffered == 3000
        assert recorder.durable == []
        store._db.execute("PRAGMA max_page_count = 1073741823")
        await clock.advance(60)
        await recorder.until(lambda: len(recorder.durable) == 3000)
        assert recorder.troubles[-1] is None
        assert store.reading_count() == 3049
    finally:
        await _stop(writer, task)


async def test_writer_buffers_when_log_turns_read_only(store: Store, clock: VirtualClock) -> None:
    """A card remounted read-only: readings wait in memory and are written once it is back.

    SQLite's query_only switch stands in for the read-only mount (a system edge).
    """
    writer, recorder, task = await _started(store, clock)
    try:
        store._db.execute("PRAGMA query_only = ON")
        writer.submit(make_reading(0))
        await clock.advance(0.5)
        await recorder.until(lambda: recorder.troubles)
        assert writer.buffered == 1
        store._db.execute("PRAGMA query_only = OFF")
        await clock.advance(60)
        await recorder.until(lambda: recorder.durable)
        assert store.reading_count() == 1
    finally:
        await _stop(writer, task)


async def test_writer_drops_oldest_and_says_so_when_buffer_overflows(
    store: Store, clock: VirtualClock
) -> None:
    """A bounded buffer must not exhaust memory, and a loss must never be silent."""
    store._db.execute("PRAGMA query_only = ON")
    writer, recorder, task = await _started(store, clock, buffer_limit=5)
    try:
        for second in range(8):
            writer.submit(make_reading(second))
        await clock.advance(0.5)
        await recorder.until(lambda: recorder.troubles)
        trouble = recorder.troubles[-1]
        assert trouble is not None
        assert (trouble.buffered, trouble.dropped) == (5, 3)
        store._db.execute("PRAGMA query_only = OFF")
        await clock.advance(60)
        await recorder.until(lambda: len(recorder.durable) == 5)
        kept = [int((s.reading.time - T0).total_seconds()) for _, s in recorder.durable]
        assert kept == [3, 4, 5, 6, 7]
    finally:
        await _stop(writer, task)


async def test_writer_close_writes_waiting_readings_once_when_cancelled_mid_batch(
    store: Store, clock: VirtualClock
) -> None:
    """Shutdown between gathering and committing must neither lose nor double a batch."""
    writer, recorder, task = await _started(store, clock)
    for second in range(10):
        writer.submit(make_reading(second))
    await clock.advance(0.5)  # the commit is now on its thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await writer.close()
    assert store.reading_count() == 10
    assert len(recorder.durable) == 10


async def test_writer_refuses_naive_reading_when_submitted(
    store: Store, clock: VirtualClock
) -> None:
    """A reading that could never be written must fail at the caller, not block the batch."""
    writer = ReadingWriter(store, clock, on_durable=lambda batch: None)
    naive = make_reading(0)
    object.__setattr__(naive, "time", naive.time.replace(tzinfo=None))
    with pytest.raises(StoreInputError, match="naive"):
        writer.submit(naive)
    await writer.close()


async def test_writer_writes_each_reading_once_when_flush_races_the_run_task(
    store: Store, clock: VirtualClock
) -> None:
    """The daemon may flush while the batching task is mid-commit: no batch twice."""
    writer, recorder, task = await _started(store, clock)
    try:
        for second in range(50):
            writer.submit(make_reading(second))
        await clock.advance(0.5)  # the run task's commit is now in flight
        assert await writer.flush()
        assert store.reading_count() == 50
        assert len(recorder.durable) == 50
        assert writer.buffered == 0
    finally:
        await _stop(writer, task)
