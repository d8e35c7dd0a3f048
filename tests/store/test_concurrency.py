"""The caregiver page reads while the daemon writes: no lock errors, no half batches."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from portwatch.log.store import Store

from .conftest import T0, make_reading

BATCH = 200
BATCHES = 60


def test_reader_sees_only_whole_batches_and_no_lock_errors_when_writer_is_busy(
    store: Store, db_path: Path
) -> None:
    """Each batch is one transaction: a reader sees all of it or none of it, never locked."""
    errors: list[BaseException] = []
    seen: list[int] = []
    stop = threading.Event()

    def read() -> None:
        try:
            reader = Store.open_reader(db_path)
            try:
                while not stop.is_set():
                    rows = reader.readings(T0, T0 + timedelta(days=30))
                    seen.append(len(rows))
                    reader.downsample(T0, T0 + timedelta(days=30), 100)
            finally:
                reader.close()
        except BaseException as exc:  # report in the main thread  # noqa: BLE001
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        for batch in range(BATCHES):
            store.add_readings([make_reading(batch * BATCH + i) for i in range(BATCH)])
    finally:
        stop.set()
        for thread in readers:
            thread.join(timeout=60)
    assert errors == []
    assert seen, "the readers never ran"
    assert all(count % BATCH == 0 for count in seen), "a reader saw part of a batch"
    assert max(seen) > 0
