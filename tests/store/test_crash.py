"""Crash safety: SIGKILL at random moments never loses or doubles an accepted reading."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from portwatch.store import CHART_MINUTE_US, Store

CHILD = Path(__file__).with_name("ingest_child.py")
KILLS = 20
# Issue 4: a reading accepted more than this long before the kill must be in the log.
DURABLE_WITHIN_S = 1.0


def _run_and_kill(
    db: Path, first: int, rng: random.Random
) -> tuple[dict[int, float], set[int], float]:
    """Start the child, let it ingest for a random while, SIGKILL it.

    Returns when each reading was seen accepted (perf_counter), which ones it reported
    durable, and when the kill was sent.
    """
    accepted: dict[int, float] = {}
    durable: set[int] = set()
    with subprocess.Popen(
        [sys.executable, str(CHILD), str(db), str(first)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as child:
        stdout = child.stdout
        assert stdout is not None

        def read() -> None:
            for line in stdout:
                if line.startswith("s "):
                    accepted[int(line[2:])] = time.perf_counter()
                elif line.startswith("d "):
                    durable.add(int(line[2:]))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        # Wait until it is ingesting, then kill it at a random moment of its work.
        deadline = time.perf_counter() + 30
        while not accepted and time.perf_counter() < deadline and child.poll() is None:
            reader.join(0.01)
        reader.join(rng.uniform(0.2, 1.6))
        killed_at = time.perf_counter()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        reader.join(timeout=10)
    assert child.returncode == -signal.SIGKILL, "the child ended before it was killed"
    return accepted, durable, killed_at


def _assert_chart_rollup_whole(db: Path) -> None:
    """The chart's per-minute rollup counts exactly the readings that survived the kill."""
    raw = sqlite3.connect(db)
    try:
        expected: dict[int, list[float]] = {}
        for time_us, celsius in raw.execute("SELECT time_us, celsius FROM readings"):
            expected.setdefault(time_us // CHART_MINUTE_US, []).append(celsius)
        stored = {
            minute: (count, low, high)
            for minute, count, low, high in raw.execute(
                "SELECT minute, count, min_c, max_c FROM chart_minutes"
            )
        }
    finally:
        raw.close()
    assert stored == {m: (len(t), min(t), max(t)) for m, t in expected.items()}, (
        "the chart's rollup disagrees with the readings after a kill"
    )


def test_store_keeps_every_accepted_reading_exactly_once_when_killed_repeatedly(
    tmp_path: Path,
) -> None:
    """A power cut mid-batch must neither lose a promised reading nor store one twice.

    Nor may it leave the chart's rollup counting readings that are not there (or missing
    ones that are): it is written in the readings' own transaction.
    """
    seed = int(os.environ.get("CRASH_SEED", random.randrange(2**32)))
    print(f"CRASH_SEED={seed}")
    rng = random.Random(seed)
    db = tmp_path / "portwatch.db"
    promised: set[int] = set()
    for round_number in range(KILLS):
        accepted, durable, killed_at = _run_and_kill(db, round_number * 1_000_000, rng)
        assert accepted, "the child never started ingesting"
        promised |= durable
        promised |= {seq for seq, at in accepted.items() if killed_at - at > DURABLE_WITHIN_S}
        with Store.open(db) as store:  # reopening recovers the WAL like a restart would
            assert store._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        _assert_chart_rollup_whole(db)
    raw = sqlite3.connect(db)
    try:
        values = [int(v) for (v,) in raw.execute("SELECT value FROM readings")]
    finally:
        raw.close()
    assert len(values) == len(set(values)), "a reading was stored twice"
    missing = promised - set(values)
    assert not missing, f"{len(missing)} accepted readings lost, e.g. {sorted(missing)[:5]}"
    assert len(promised) > KILLS  # the test checked something in most rounds
