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

from portwatch.log.store import CHART_MINUTE_US, Store

CHILD = Path(__file__).with_name("ingest_child.py")
KILLS = 20
# Readings of one round are numbered from round_number * ROUND_SEQ.
ROUND_SEQ = 1_000_000


def _run_and_kill(db: Path, first: int, rng: random.Random) -> tuple[set[int], set[int]]:
    """Start the child, let it ingest for a random while, SIGKILL it.

    Returns which readings it reported accepted (submitted) and which ones the writer
    reported durable (its ``on_durable``, called only after the commit returned): the
    latter are exactly what the program had acknowledged when it was killed. No wall-clock
    window decides that, so a loaded machine cannot turn a slow commit into a "loss";
    the 1-s promise itself is timed on a virtual clock in test_writer.py.
    """
    accepted: set[int] = set()
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
                    accepted.add(int(line[2:]))
                elif line.startswith("d "):
                    durable.add(int(line[2:]))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        # Wait until it is ingesting, then kill it at a random moment of its work.
        deadline = time.perf_counter() + 30
        while not accepted and time.perf_counter() < deadline and child.poll() is None:
            reader.join(0.01)
        reader.join(rng.uniform(0.2, 1.6))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        reader.join(timeout=10)
    assert child.returncode == -signal.SIGKILL, "the child ended before it was killed"
    return accepted, durable


def _assert_round_is_prefix(db: Path, first: int, accepted: set[int], durable: set[int]) -> None:
    """What one round left in the log is its readings first..k, with no hole and no stranger.

    The writer commits in submission order, a batch in one transaction, so a kill can only
    cut the tail: every reading submitted before one that is stored is stored too. This
    catches a reading dropped from the middle even though it was never acknowledged.
    """
    raw = sqlite3.connect(db)
    try:
        # value is stored as the device's decimal text: filter the round in Python.
        values = (int(v) for (v,) in raw.execute("SELECT value FROM readings"))
        stored = {v for v in values if first <= v < first + ROUND_SEQ}
    finally:
        raw.close()
    assert stored == set(range(first, first + len(stored))), (
        f"the log has a hole in round {first // ROUND_SEQ}: the writer lost a reading "
        "submitted before one it stored"
    )
    missing = durable - stored
    assert not missing, f"{len(missing)} acknowledged readings lost, e.g. {sorted(missing)[:5]}"
    # The child prints "s N" right after submitting N, so a kill between the two leaves at
    # most one stored reading it never reported accepted.
    assert len(stored - accepted) <= 1, "the log has readings the child never submitted"


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


def test_store_keeps_every_acknowledged_reading_exactly_once_when_killed_repeatedly(
    tmp_path: Path,
) -> None:
    """A power cut mid-batch must neither lose an acknowledged reading nor store one twice.

    Nor may it leave the chart's rollup counting readings that are not there (or missing
    ones that are): it is written in the readings' own transaction.
    """
    seed = int(os.environ.get("CRASH_SEED", random.randrange(2**32)))
    print(f"CRASH_SEED={seed}")
    rng = random.Random(seed)
    db = tmp_path / "portwatch.db"
    promised: set[int] = set()
    for round_number in range(KILLS):
        first = round_number * ROUND_SEQ
        accepted, durable = _run_and_kill(db, first, rng)
        assert accepted, "the child never started ingesting"
        promised |= durable
        with Store.open(db) as store:  # reopening recovers the WAL like a restart would
            assert store._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        _assert_round_is_prefix(db, first, accepted, durable)
        _assert_chart_rollup_whole(db)
    raw = sqlite3.connect(db)
    try:
        values = [int(v) for (v,) in raw.execute("SELECT value FROM readings")]
    finally:
        raw.close()
    assert len(values) == len(set(values)), "a reading was stored twice"
    missing = promised - set(values)
    assert not missing, f"{len(missing)} acknowledged readings lost, e.g. {sorted(missing)[:5]}"
    assert len(promised) > KILLS  # the test checked something in most rounds
