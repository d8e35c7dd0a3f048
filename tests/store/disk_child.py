"""Runs inside a private mount namespace on a tiny tmpfs (see test_disk.py).

``python disk_child.py full DIR``: fills the disk, ingests, frees it, and prints one JSON
line of what it saw. ``python disk_child.py create DIR``: creates a log with readings.
``python disk_child.py open DIR``: tries to open the log and prints the error, if any.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from portwatch.clock import VirtualClock
from portwatch.log.store import Store, StoredReading, StoreError
from portwatch.log.writer import ReadingWriter, StoreTrouble
from portwatch.model import Reading, ReadingKind, Unit

T0 = datetime(2026, 11, 4, tzinfo=UTC)


def reading(seq: int) -> Reading:
    return Reading(
        device="disk-test",
        kind=ReadingKind.STREAM,
        value=Decimal(seq),
        unit=Unit.CELSIUS,
        celsius=37.0,
        time=T0 + timedelta(seconds=seq),
        received_at=T0 + timedelta(seconds=seq),
        interval_s=1.0,
        raw=b"x" * 64,
    )


def fill(ballast: Path) -> None:
    """Write until the file system says it is full."""
    with ballast.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 4096)
                out.flush()
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    # the last partial write may still sit in the buffer; closing tries again and fails
    return


async def full(directory: Path) -> dict[str, object]:
    clock = VirtualClock(T0)
    durable: list[int] = []
    troubles: list[StoreTrouble | None] = []

    def on_durable(batch: Sequence[StoredReading]) -> None:
        durable.extend(int(s.reading.value or 0) for s in batch)

    with Store.open(directory / "portwatch.db") as store:
        store.add_readings([reading(-i) for i in range(1, 11)])
        ballast = directory / "ballast"
        with contextlib.suppress(OSError):
            fill(ballast)
        writer = ReadingWriter(store, clock, on_durable=on_durable, on_trouble=troubles.append)
        task = asyncio.create_task(writer.run())
        for seq in range(5000):
            writer.submit(reading(seq))
        for _ in range(100):
            await clock.advance(0.5)
            await asyncio.sleep(0.01)  # real time for the store thread to answer
            if troubles:
                break
        buffered_while_full = writer.buffered
        first_trouble = troubles[0]
        ballast.unlink()
        for _ in range(200):
            await clock.advance(1.0)
            await asyncio.sleep(0.01)
            if len(durable) == 5000:
                break
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await writer.close()
        stored = [int(s.reading.value or 0) for s in store.readings(T0, T0 + timedelta(days=1))]
        integrity = store._db.execute("PRAGMA integrity_check").fetchone()[0]
    return {
        "trouble": None if first_trouble is None else first_trouble.error,
        "buffered_while_full": buffered_while_full,
        "cleared": troubles[-1] is None,
        "durable": len(durable),
        "stored": sorted(stored) == list(range(5000)),
        "integrity": integrity,
    }


def create(directory: Path) -> dict[str, object]:
    with Store.open(directory / "portwatch.db") as store:
        store.add_readings([reading(i) for i in range(100)])
    return {"created": 100}


def open_log(directory: Path) -> dict[str, object]:
    try:
        with Store.open(directory / "portwatch.db") as store:
            return {"error": None, "count": store.reading_count()}
    except StoreError as exc:
        return {"error": str(exc), "type": type(exc).__name__}


if __name__ == "__main__":
    mode, where = sys.argv[1], Path(sys.argv[2])
    if mode == "full":
        result = asyncio.run(full(where))
    elif mode == "create":
        result = create(where)
    else:
        result = open_log(where)
    print(json.dumps(result))
