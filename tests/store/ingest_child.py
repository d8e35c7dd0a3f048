"""A stand-in daemon for the crash and disk tests: ingests readings until killed.

Run as ``python ingest_child.py DB FIRST_SEQ [COUNT]``. It submits one reading every
``PERIOD_S`` through the real ReadingWriter and prints ``s N`` once reading N is submitted
(accepted) and ``d N`` once it is durable, flushing each line, so the parent knows what
the program had promised at the moment it kills it. With COUNT it stops after COUNT
readings and prints ``done``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from portwatch.clock import SystemClock
from portwatch.log.store import Store, StoredReading
from portwatch.log.writer import ReadingWriter, StoreTrouble
from portwatch.model import Reading, ReadingKind, Unit

PERIOD_S = 0.002


def reading(seq: int, clock: SystemClock) -> Reading:
    now = clock.now()
    return Reading(
        device="crash-test",
        kind=ReadingKind.STREAM,
        value=Decimal(seq),
        unit=Unit.CELSIUS,
        celsius=37.0,
        time=now - timedelta(microseconds=seq % 1000),
        received_at=now,
        interval_s=PERIOD_S,
        raw=seq.to_bytes(8, "little"),
    )


async def main(db: Path, first: int, count: int | None) -> None:
    clock = SystemClock()
    out = sys.stdout

    def on_durable(batch: Sequence[StoredReading]) -> None:
        out.write("".join(f"d {int(s.reading.value or 0)}\n" for s in batch))
        out.flush()

    def on_trouble(trouble: StoreTrouble | None) -> None:
        out.write(f"t {trouble.buffered if trouble else 'clear'}\n")
        out.flush()

    with Store.open(db) as store:
        writer = ReadingWriter(store, clock, on_durable=on_durable, on_trouble=on_trouble)
        task = asyncio.create_task(writer.run())
        seq = first
        try:
            while count is None or seq < first + count:
                writer.submit(reading(seq, clock))
                out.write(f"s {seq}\n")
                out.flush()
                seq += 1
                await clock.sleep(PERIOD_S)
            await writer.flush()
            out.write("done\n")
            out.flush()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await writer.close()


if __name__ == "__main__":
    asyncio.run(
        main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None)
    )
