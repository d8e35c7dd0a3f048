"""The rule rebuilt from the log at start (service/readings.py): time and peak memory over
ten days at one reading a second (864,000 rows).

Issue 19: the rebuild read a day of reading time at a time (86,400 rows held at once, a
late block fed out of arrival order); it now streams the log in arrival order, 5,000 rows
at a time. Each run is its own process, its peak resident memory its ``ru_maxrss``. The
baseline is the least a rebuild can do: the same process reading every row in id order
with a bare ``sqlite3`` cursor and keeping none.

    python benchmarks/bench_rebuild.py [--quick]    (quick: one day, 86,400 rows)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Final

DAY_ROWS: Final = 86_400

_MAKE_LOG: Final = """
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from portwatch.log.store import Store
from portwatch.model import Reading, ReadingKind, Unit
placed = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
with Store.open(Path(sys.argv[1]), threaded=False) as log:
    batch = []
    for i in range(int(sys.argv[2])):
        t = placed + timedelta(seconds=i)
        v = f"{36.5 + (i % 180) / 100:.2f}"
        batch.append(Reading("AA:BB:CC:DD:EE:01", ReadingKind.STREAM, Decimal(v),
                             Unit.CELSIUS, float(v), t, t, interval_s=1.0))
        if len(batch) == 10_000:
            log.add_readings(batch)
            batch = []
    log.add_readings(batch)
"""

# prints: seconds, peak RSS in KiB
_REBUILD: Final = """
import asyncio, resource, sys, time
from datetime import UTC, datetime
from pathlib import Path
from portwatch.fever.rule import FeverRule, RuleSettings
from portwatch.log.store import Store
from portwatch.service.logwatch import SeenReadings
from portwatch.service.readings import Facts, rebuild_rule
placed = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
async def main():
    with Store.open(Path(sys.argv[1])) as log:
        rule = FeverRule(RuleSettings(), patient="Patient/1", placement=placed,
                         pinned_device=None)
        seen = SeenReadings()
        seen.start_at(log.reading_count())
        started = time.perf_counter()
        await rebuild_rule(rule, log, Facts(started_at=placed), placed, seen)
        print(time.perf_counter() - started)
asyncio.run(main())
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

_BARE: Final = """
import resource, sqlite3, sys, time
from portwatch.fever.rule import FeverRule
from portwatch.service.readings import rebuild_rule
db = sqlite3.connect(sys.argv[1])
started = time.perf_counter()
for row in db.execute("SELECT * FROM readings ORDER BY id"):
    pass
print(time.perf_counter() - started)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _child(script: str, *argv: str) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of ``script`` run as its own process."""
    done = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-c", script, *argv], check=True, capture_output=True, text=True
    )
    seconds, peak_kib = done.stdout.split()
    return float(seconds), int(peak_kib) / 1024


def measure(quick: bool) -> list[dict[str, Any]]:
    """The runner's contract (benchmarks/run.py)."""
    rows = DAY_ROWS if quick else 10 * DAY_ROWS
    with tempfile.TemporaryDirectory(prefix="bench-rebuild-") as folder:
        db = str(Path(folder) / "portwatch.db")
        subprocess.run([sys.executable, "-c", _MAKE_LOG, db, str(rows)], check=True)  # noqa: S603
        ours = _child(_REBUILD, db)
        bare = _child(_BARE, db)
    return [
        {
            "figure": f"rule rebuilt from the log at start ({rows:,} rows at 1/s), peak RSS",
            "value": round(ours[1], 1),
            "unit": "MB",
            "baseline": "bare sqlite3 walk of every row in id order, same imports",
            "baseline_value": round(bare[1], 1),
        },
        {
            "figure": f"rule rebuilt from the log at start ({rows:,} rows at 1/s), time",
            "value": round(ours[0], 1),
            "unit": "s",
            "baseline": "bare sqlite3 walk of every row in id order",
            "baseline_value": round(bare[0], 2),
        },
    ]


def main() -> int:
    for row in measure("--quick" in sys.argv):
        print(f"{row['figure']}: {row['value']} {row['unit']} ({row['baseline']}: "
              f"{row['baseline_value']} {row['unit']})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
