"""The log's figures: ingest rate at its durability setting, bytes per reading, chart query.

- Ingest: readings pushed through :class:`ReadingWriter` (batches committed with WAL and
  ``synchronous=FULL``, ids assigned, handed to the rule) as fast as they can go, against
  one bare ``executemany`` of the same rows into a table with the same columns, committed
  once with SQLite's default settings: the least a program can do to put rows in a file.
- Size: bytes of the database file per reading after a checkpoint, against the same
  readings as CSV text (what a "just append to a file" log would take).
- Chart: ten days at one reading per second, downsampled to 1,000 points (min, median,
  max, count per point) from the per-minute rollup, against fetching the same rows bare
  (time and °C, no buckets: the least any query over the raw rows must do), and against
  the same 1,000 points computed from the raw rows (how the log did it before the rollup).
- Zoom: one hour of the same log to 1,000 points (buckets under a minute come from the raw
  rows), against fetching that hour's rows bare.
- Upgrade: opening a ten-day log written before the rollup existed (migration 2 back-fills
  it once), against opening the same log already migrated.
- Readings: one day of that log as :class:`StoredReading`s (the log page, the exports),
  against the bare ``SELECT`` of the same rows and columns in the same order.
- Gaps: the whole log's silences longer than 30 minutes by walking the time index, against
  pairing every reading with the one before it (``LAG`` over the time index, how the log
  did it before).
- Latest: the latest reading by index lookups, against the whole-log ``ORDER BY time_us
  DESC, id DESC LIMIT 1`` it replaced.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from portwatch.clock import SystemClock
from portwatch.log.readings import READING_COLUMNS
from portwatch.log.store import Store, StoredReading, to_us
from portwatch.log.writer import ReadingWriter
from portwatch.model import Reading, ReadingKind, Unit

T0 = datetime(2026, 11, 4, tzinfo=UTC)
HTS_PACKET = bytes.fromhex("06B00E00FEDC070C050B321B04")  # 13 bytes, shared/vectors/hts.json


def _readings(count: int) -> list[Reading]:
    out = []
    for i in range(count):
        value = Decimal(3650 + (i * 7) % 200) / 100
        when = T0 + timedelta(seconds=i)
        out.append(
            Reading(
                device="AA:BB:CC:DD:EE:FF",
                kind=ReadingKind.STREAM,
                value=value,
                unit=Unit.CELSIUS,
                celsius=float(value),
                time=when,
                received_at=when,
                interval_s=1.0,
                raw=HTS_PACKET,
            )
        )
    return out


async def _through_writer(
    store: Store,
    readings: Sequence[Reading],
    on_batch: Callable[[Sequence[StoredReading]], None] | None = None,
) -> float:
    """Seconds until every reading is durable; ``on_batch`` sees each durable batch first."""
    done = asyncio.Event()
    durable = 0

    def on_durable(batch: Sequence[StoredReading]) -> None:
        nonlocal durable
        if on_batch is not None:
            on_batch(batch)
        durable += len(batch)
        if durable == len(readings):
            done.set()

    # The whole burst is submitted at once, so the buffer must hold it all.
    writer = ReadingWriter(store, SystemClock(), on_durable=on_durable, buffer_limit=len(readings))
    task = asyncio.create_task(writer.run())
    start = time.perf_counter()
    for reading in readings:
        writer.submit(reading)
    await done.wait()
    elapsed = time.perf_counter() - start
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await writer.close()
    return elapsed


def _bare_executemany(path: Path, readings: Sequence[Reading]) -> float:
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE r (device TEXT, kind TEXT, value TEXT, unit TEXT, celsius REAL, "
        "time_us INTEGER, received_us INTEGER, interval_s REAL, raw BLOB)"
    )
    start = time.perf_counter()
    rows = [
        (
            r.device,
            r.kind.value,
            str(r.value),
            r.unit.value,
            r.celsius,
            int(r.time.timestamp() * 1e6),
            int(r.received_at.timestamp() * 1e6),
            r.interval_s,
            r.raw,
        )
        for r in readings
    ]
    db.executemany("INSERT INTO r VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


def _best_of(runs: int, work: Callable[[], object]) -> float:
    """The shortest of `runs` timings of `work`, in seconds (the least disturbed run)."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def _bare_fetch(store: Store, since: datetime, until: datetime) -> None:
    store._db.execute(
        "SELECT time_us, celsius FROM readings WHERE time_us >= ? AND time_us < ?",
        (to_us(since), to_us(until)),
    ).fetchall()


def _bare_rows(store: Store, since: datetime, until: datetime) -> None:
    store._db.execute(
        f"SELECT {READING_COLUMNS} FROM readings WHERE time_us >= ? AND time_us < ? "  # noqa: S608
        "ORDER BY time_us, id",
        (to_us(since), to_us(until)),
    ).fetchall()


def _sorted_latest(store: Store) -> None:
    store._db.execute(
        f"SELECT {READING_COLUMNS} FROM readings ORDER BY time_us DESC, id DESC LIMIT 1"  # noqa: S608
    ).fetchall()


def _csv_bytes(readings: Sequence[Reading]) -> int:
    return sum(
        len(f"{r.time.isoformat()},{r.value},{r.unit.value},{r.kind.value},{r.device}\n")
        for r in readings
    )


def measure(quick: bool) -> list[dict[str, Any]]:
    ingest_count = 20_000 if quick else 200_000
    chart_days = 1 if quick else 10
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        readings = _readings(ingest_count)
        with Store.open(directory / "ingest.db") as store:
            writer_s = asyncio.run(_through_writer(store, readings))
            store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        bare_s = _bare_executemany(directory / "bare.db", readings)
        rows.append(
            {
                "figure": "store: readings/s through ReadingWriter (WAL, synchronous=FULL)",
                "value": ingest_count / writer_s,
                "unit": "readings/s",
                "baseline": "one bare executemany + commit, same rows",
                "baseline_value": ingest_count / bare_s,
            }
        )
        size = os.path.getsize(directory / "ingest.db")
        rows.append(
            {
                "figure": "store: bytes on disk per reading (13-byte HTS packet kept)",
                "value": size / ingest_count,
                "unit": "B",
                "baseline": "the same readings as CSV text",
                "baseline_value": _csv_bytes(readings) / ingest_count,
            }
        )

        chart_count = chart_days * 86_400
        with Store.open(directory / "chart.db") as store:
            everything = _readings(chart_count)
            for start in range(0, chart_count, 50_000):
                store.add_readings(everything[start : start + 50_000])
            del everything
            until = T0 + timedelta(days=chart_days)
            chart_s = _best_of(3, lambda: store.downsample(T0, until, 1000))
            assert len(store.downsample(T0, until, 1000)) == 1000
            bare_fetch_s = _best_of(1, lambda: _bare_fetch(store, T0, until))
            raw_chart_s = _best_of(1, lambda: store._downsample_raw(to_us(T0), to_us(until), 1000))
            hour = T0 + timedelta(hours=1)
            zoom_s = _best_of(3, lambda: store.downsample(T0, hour, 1000))
            bare_zoom_s = _best_of(3, lambda: _bare_fetch(store, T0, hour))
            day = T0 + timedelta(days=1)
            readings_s = _best_of(3, lambda: store.readings(T0, day))
            bare_rows_s = _best_of(3, lambda: _bare_rows(store, T0, day))
            gap = timedelta(minutes=30)
            gaps_s = _best_of(3, lambda: store.gaps(T0, until, gap))
            scan_s = _best_of(
                3, lambda: store._gaps_scan(to_us(T0), to_us(until), to_us(T0 + gap) - to_us(T0))
            )
            assert store.gaps(T0, until, gap) == []
            latest_s = _best_of(5, store.latest_reading)
            sorted_latest_s = _best_of(3, lambda: _sorted_latest(store))
        rows.append(
            {
                "figure": "store: 1 d at 1/s as StoredReadings (Store.readings)",
                "value": readings_s * 1000,
                "unit": "ms",
                "baseline": "the bare SELECT of the same rows and columns",
                "baseline_value": bare_rows_s * 1000,
            }
        )
        rows.append(
            {
                "figure": f"store: gaps > 30 min in {chart_days} d at 1/s (walks the time index)",
                "value": gaps_s * 1000,
                "unit": "ms",
                "baseline": "LAG over every reading (before)",
                "baseline_value": scan_s * 1000,
            }
        )
        rows.append(
            {
                "figure": f"store: latest reading of {chart_days} d at 1/s (index lookups)",
                "value": latest_s * 1000,
                "unit": "ms",
                "baseline": "ORDER BY time_us DESC, id DESC LIMIT 1 (before)",
                "baseline_value": sorted_latest_s * 1000,
            }
        )
        start_t = time.perf_counter()
        Store.open(directory / "chart.db").close()
        open_s = time.perf_counter() - start_t
        start_t = time.perf_counter()
        bare = sqlite3.connect(directory / "chart.db")
        bare.execute("SELECT COUNT(*) FROM sqlite_master").fetchall()
        bare.close()
        bare_open_s = time.perf_counter() - start_t
        # The same log as an older portwatch left it: no rollup, schema version 1.
        old = sqlite3.connect(directory / "chart.db")
        old.executescript("DROP TABLE chart_minutes; PRAGMA user_version = 1;")
        old.close()
        start_t = time.perf_counter()
        Store.open(directory / "chart.db").close()
        upgrade_s = time.perf_counter() - start_t
        rows.append(
            {
                "figure": f"store: open a {chart_days} d log (quick_check, migrations)",
                "value": open_s * 1000,
                "unit": "ms",
                "baseline": "bare sqlite3.connect + one query",
                "baseline_value": bare_open_s * 1000,
            }
        )
        rows.append(
            {
                "figure": f"store: {chart_days} d at 1/s downsampled to 1,000 points",
                "value": chart_s * 1000,
                "unit": "ms",
                "baseline": "fetching the same rows bare (time, °C)",
                "baseline_value": bare_fetch_s * 1000,
            }
        )
        rows.append(
            {
                "figure": f"store: {chart_days} d at 1/s to 1,000 points, rollup",
                "value": chart_s * 1000,
                "unit": "ms",
                "baseline": "the same points from the raw rows (before the rollup)",
                "baseline_value": raw_chart_s * 1000,
            }
        )
        rows.append(
            {
                "figure": "store: 1 h at 1/s to 1,000 points (raw rows, zoomed in)",
                "value": zoom_s * 1000,
                "unit": "ms",
                "baseline": "fetching that hour's rows bare (time, °C)",
                "baseline_value": bare_zoom_s * 1000,
            }
        )
        rows.append(
            {
                "figure": f"store: open a {chart_days} d log from before the rollup (back-fill)",
                "value": upgrade_s * 1000,
                "unit": "ms",
                "baseline": "opening the same log already migrated",
                "baseline_value": open_s * 1000,
            }
        )
    return rows
