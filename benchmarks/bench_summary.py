"""Peak memory of the visit summary (and the FHIR export) over ten days at one reading a
second (issue 20: at most 80 MB each on a Pi Zero 2 W's 512 MB).

The log is made once per run: 864,000 CORE readings, one a second from the placement on,
normal with a fever of an hour each on days 3 and 7 (``--quick``: one day, 86,400). It is
written through the log's own API (``Store.add_readings``, a day at a time), so the commands
read what the daemon writes, minute roll-ups included. Each command then runs as a person
runs it, in a process of its own, and its peak RSS is the kernel's ``ru_maxrss`` for that
process. The baseline, measured in the same run, is the least a program can do with the
same log: a bare ``sqlite3`` loop reading every reading and writing it as CSV with
``csv.writer`` to /dev/null, one row at a time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

PLACEMENT = datetime(2026, 11, 4, 8, tzinfo=UTC)
DEVICE = "AA:BB:CC:DD:EE:FF"
CORE_PACKET = bytes.fromhex("0a4e0e2e0c02")
KiB = 1024
MiB = 2**20

# Peak RSS is read by the measured process itself, at its end: VmHWM of /proc/self/status
# counts from exec, where a child's ru_maxrss would include the parent's memory at fork.
_HWM = """
import os
with open(os.environ["BENCH_HWM_FILE"], "w") as hwm:
    hwm.write(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
"""

_BARE_LOOP = """
import csv, sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
out = csv.writer(open("/dev/null", "w", newline=""))
for row in db.execute("SELECT time_us, value, unit, kind, device FROM readings ORDER BY time_us"):
    out.writerow(row)
db.close()
"""
_BARE_LOOP += _HWM

# `python -m portwatch ARGS`, then the peak read as above (whatever the exit status).
_PORTWATCH = (
    """
import runpy, sys
sys.argv = ["portwatch", *sys.argv[1:]]
try:
    runpy.run_module("portwatch", run_name="__main__", alter_sys=True)
except SystemExit as done:
    code = done.code
"""
    + _HWM
    + """
sys.exit(code)
"""
)


def make_log(path: Path, days: float) -> int:
    """A log of ``days`` at one CORE reading a second; returns how many readings."""
    from portwatch.log.store import Store
    from portwatch.model import Reading, ReadingKind, Unit

    total = int(days * 86400)
    fevers = {2 * 86400 + 36000, 6 * 86400 + 50000}  # starts of the fevers, in seconds
    with Store.open(path) as store:
        for start in range(0, total, 86400):
            batch = []
            for second in range(start, min(total, start + 86400)):
                hot = any(f <= second < f + 3600 for f in fevers)
                value = Decimal(3880 if hot else 3660 + (second * 7) % 50) / 100
                when = PLACEMENT + timedelta(seconds=second)
                batch.append(
                    Reading(
                        device=DEVICE,
                        kind=ReadingKind.STREAM,
                        value=value,
                        unit=Unit.CELSIUS,
                        celsius=float(value),
                        time=when,
                        received_at=when,
                        interval_s=1.0,
                        raw=CORE_PACKET,
                    )
                )
            store.add_readings(batch)
    return total


def peak_rss(argv: list[str], env: dict[str, str]) -> tuple[int, float]:
    """Peak RSS (bytes, VmHWM) and wall seconds of one process, from exec to exit."""
    with tempfile.NamedTemporaryFile(prefix="portwatch-bench-hwm-") as hwm:
        began = time.perf_counter()
        subprocess.run(  # noqa: S603 (our own interpreter)
            argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**env, "BENCH_HWM_FILE": hwm.name},
            check=True,
        )
        wall = time.perf_counter() - began
        return int(Path(hwm.name).read_text()) * KiB, wall


def measure(quick: bool) -> list[dict[str, Any]]:
    days = 1.0 if quick else 10.0
    with tempfile.TemporaryDirectory(prefix="portwatch-bench-summary-") as work:
        db = Path(work) / "portwatch.db"
        count = make_log(db, days)
        env = {**os.environ, "PORTWATCH_CONFIG": str(Path(work) / "no-settings.toml")}
        bare, _ = peak_rss([sys.executable, "-c", _BARE_LOOP, str(db)], env)
        common = ["--db", str(db), "--placement", PLACEMENT.isoformat()]
        portwatch = [sys.executable, "-c", _PORTWATCH]
        commands = {
            "summary": [*portwatch, "summary", *common, "--out", str(Path(work) / "s.html")],
            "export --format fhir": [
                *portwatch,
                "export",
                "--format",
                "fhir",
                *common,
                "--patient",
                "Patient/bench",
                "--out",
                str(Path(work) / "e.json"),
            ],
        }
        rows: list[dict[str, Any]] = []
        for name, argv in commands.items():
            rss, wall = peak_rss(argv, env)
            print(f"bench_summary: {name}: {wall:.1f} s", file=sys.stderr)
            rows.append(
                {
                    "figure": f"peak RSS of portwatch {name} over {count:,} readings "
                    f"({days:g} d at 1/s; target <= 80 MB = 76.3 MiB)",
                    "value": rss / MiB,
                    "unit": "MiB",
                    "baseline": "bare sqlite3 -> csv.writer loop over the same log",
                    "baseline_value": bare / MiB,
                }
            )
        return rows
