"""Cold start of the commands a caregiver types, against a bare interpreter (issue 20).

On a Raspberry Pi Zero 2 W every 100 ms here is most of a second there, so `status`,
`add`, `log` and `--help` must import only what they use. Each command runs as its own
process, as a person runs it, over a small real log; the figure is the median wall time of
several runs, against `python -c "import sqlite3, argparse"` with the same interpreter in
the same run. The target is a ratio of at most 2.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PLACEMENT = "2026-11-16T09:00:00+00:00"


def _wall_s(argv: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,  # noqa: S603
                       check=True)  # fmt: skip
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _portwatch() -> list[str]:
    return [sys.executable, "-m", "portwatch"]


def measure(quick: bool) -> list[dict[str, object]]:
    runs = 5 if quick else 15
    with tempfile.TemporaryDirectory(prefix="portwatch-bench-cmd-") as work:
        db = str(Path(work) / "portwatch.db")
        env = {**os.environ, "PORTWATCH_STATE_DIRECTORY": work}
        env.pop("PORTWATCH_CONFIG", None)
        log_args = ["--db", db, "--placement", PLACEMENT]
        # a small real log: one reading typed by hand (also warms the OS file cache)
        subprocess.run([*_portwatch(), "add", "98.6F", "--db", db], env=env, check=True,  # noqa: S603
                       stdout=subprocess.DEVNULL)  # fmt: skip
        bare = _wall_s([sys.executable, "-c", "import sqlite3, argparse"], env, runs)
        commands = {
            "portwatch --help": ["--help"],
            "portwatch status": ["status", *log_args],
            "portwatch log": ["log", *log_args],
            "portwatch add": ["add", "98.7F", "--db", db],
        }
        rows: list[dict[str, object]] = []
        for figure, argv in commands.items():
            rows.append(
                {
                    "figure": f"cold start to exit: {figure} (target <= 2x)",
                    "value": _wall_s([*_portwatch(), *argv], env, runs) * 1000,
                    "unit": "ms",
                    "baseline": 'python -c "import sqlite3, argparse"',
                    "baseline_value": bare * 1000,
                }
            )
        return rows
