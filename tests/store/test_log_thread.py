"""The log's one entrance for async code: Store.run, on the log's own writer thread."""

from __future__ import annotations

import asyncio
import threading
from functools import partial
from pathlib import Path

import pytest

from portwatch.log.store import WRITER_THREAD_NAME, Store, StoreError, writers_idle

from .conftest import make_reading

# How long a test waits for real threads at most (the commit itself takes milliseconds).
REAL_WAIT_S = 10.0


def _write_through_a_reader(path: Path) -> list[int]:
    """A write the log refuses (StoreError), as a full disk would."""
    with Store.open_reader(path) as reader:
        return reader.add_readings([make_reading(0)])


async def test_run_calls_every_function_on_one_writer_thread_when_awaited(
    store: Store,
) -> None:
    """The store is not thread-safe: every call from async code must land on one thread."""
    names = [await store.run(lambda: threading.current_thread().name) for _ in range(3)]
    assert len(set(names)) == 1
    assert names[0].startswith(WRITER_THREAD_NAME)
    assert names[0] != threading.current_thread().name
    ids = await store.run(partial(store.add_readings, [make_reading(0)]))
    assert ids == [1]


async def test_run_hands_the_functions_error_to_the_awaiter_when_it_raises(store: Store) -> None:
    """A refused write must reach the caller (the writer keeps readings, delivery retries)."""
    with pytest.raises(StoreError, match="read-only"):
        await store.run(partial(_write_through_a_reader, store.path))


async def test_close_waits_for_the_work_in_flight_and_run_refuses_after(db_path: Path) -> None:
    """Closing must not pull the connection from under a commit; a closed log says so."""
    store = Store.open(db_path)
    gate = threading.Event()
    held = store.run(partial(gate.wait, REAL_WAIT_S))
    write = store.run(partial(store.add_readings, [make_reading(0)]))
    assert not writers_idle()
    gate.set()
    await asyncio.to_thread(store.close)
    assert (await held, await write) == (True, [1])
    assert writers_idle()
    with pytest.raises(StoreError, match="closed"):
        store.run(store.reading_count)
    with Store.open(db_path) as again:
        assert again.reading_count() == 1


async def test_run_calls_at_once_on_the_callers_thread_when_not_threaded(db_path: Path) -> None:
    """For a virtual clock: the call is finished before the caller's next step."""
    with Store.open(db_path, threaded=False) as store:
        future = store.run(lambda: threading.current_thread().name)
        assert future.done()
        assert await future == threading.current_thread().name
        with pytest.raises(StoreError, match="read-only"):
            await store.run(partial(_write_through_a_reader, db_path))
