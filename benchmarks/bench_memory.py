"""Peak memory of `portwatch import`, `export` and `summary` over ten days at one a second.

Issue 20: importing 300,000 lines peaked at 376 MB, and ten days at one reading a second
(864,000 lines) would run a 512 MB Pi out of memory. Target: at most 80 MB each.

Each command runs as its own process (as a person runs it), and its peak resident memory
is its ``ru_maxrss``, reported by a small wrapper process that started it. The baselines
are the least a program can do with the same file in the same interpreter: a bare ``csv``
+ ``sqlite3`` loop that inserts the rows in one transaction (for import), and one that
selects every row in time order and writes it with ``csv.writer`` (for export).

    python benchmarks/bench_memory.py [--quick]    (quick: one day, 86,400 lines)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

DAY_LINES: Final = 86_400
TARGET_MB: Final = 80.0

_BARE_IMPORT: Final = """
import csv, sqlite3, sys
db = sqlite3.connect(sys.argv[2], isolation_level=None)
db.execute("CREATE TABLE readings (time TEXT, temperature TEXT, unit TEXT, kind TEXT, "
           "device TEXT, site TEXT, interval TEXT, raw TEXT)")
db.execute("BEGIN")
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    rows = csv.reader(f)
    next(rows)
    batch = []
    for row in rows:
        batch.append((*row, ",".join(row)))
        if len(batch) == 5000:
            db.executemany("INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch)
            batch = []
    db.executemany("INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch)
db.execute("COMMIT")
"""

_BARE_EXPORT: Final = """
import csv, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
with open(sys.argv[2], "w", newline="", encoding="utf-8") as f:
    out = csv.writer(f, lineterminator="\\n")
    out.writerow(("time", "temperature", "unit", "kind", "device"))
    for row in db.execute("SELECT time_us, value, unit, kind, device FROM readings "
                          "ORDER BY time_us, id"):
        out.writerow(row)
"""


def write_csv(path: Path, lines: int, start: datetime) -> None:
    """A one-a-second stream from one wearable, as `portwatch export` writes it."""
    with path.open("w", encoding="utf-8") as out:
        out.write("time,temperature,unit,kind,device,site,interval\n")
        for i in range(lines):
            at = start + timedelta(seconds=i)
            value = f"{36.5 + (i % 180) / 100:.2f}"
            out.write(f"{at.isoformat()},{value},C,stream,A4:C1:38:00:11:22,,1\n")


# The command runs under this small wrapper, which reports its child's peak: Linux counts
# the memory of the process that forks into the child's peak, so measured straight from a
# large parent (pytest, the runner) every figure would be at least that parent's size.
_WRAPPER: Final = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
with open(sys.argv[1], "w") as out:
    out.write(f"{peak_kib} {done.returncode}\\n" + done.stderr.decode(errors="replace"))
"""


def peak(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of one command run as its own process."""
    with tempfile.NamedTemporaryFile(prefix="bench-memory-peak-") as report:
        started = time.perf_counter()
        subprocess.run(  # noqa: S603 (our own interpreter and arguments)
            [sys.executable, "-c", _WRAPPER, report.name, *argv], env=env, check=True
        )
        seconds = time.perf_counter() - started
        first, _, stderr = Path(report.name).read_text(encoding="utf-8").partition("\n")
    peak_kib, status = (int(word) for word in first.split())
    if status != 0:
        raise RuntimeError(f"{argv[:4]} failed ({status}): {stderr}")
    return peak_kib / 1024, seconds  # ru_maxrss is in KiB on Linux


def measure(quick: bool, lines: int | None = None) -> list[dict[str, Any]]:
    """The runner's contract (benchmarks/run.py); `lines` overrides the file's length."""
    lines = lines or (DAY_LINES if quick else 10 * DAY_LINES)
    python = sys.executable
    portwatch = [python, "-m", "portwatch"]
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder:
        tmp = Path(folder)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PORTWATCH_CONFIG": str(tmp / "no-settings.toml"),
        }
        source = tmp / "ten-days.csv"
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=lines + 3600)
        write_csv(source, lines, start)
        db = tmp / "portwatch.db"
        bare_import = peak([python, "-c", _BARE_IMPORT, str(source), str(tmp / "bare.db")], env)
        ours_import = peak([*portwatch, "import", str(source), "--db", str(db)], env)
        bare_export = peak([python, "-c", _BARE_EXPORT, str(db), str(tmp / "bare.csv")], env)
        out = tmp / "out"
        ours_csv = peak([*portwatch, "export", "--db", str(db), "--out", str(out)], env)
        fhir = [
            *portwatch,
            *("export", "--db", str(db), "--format", "fhir", "--patient", "Patient/1"),
            *("--clinic", "Organization/c-1", "--thermometer", "A4:C1:38:00:11:22"),
            *("--out", str(out)),
        ]
        ours_fhir = peak(fhir, env)
        placed = (start - timedelta(hours=1)).isoformat()
        summary = [*portwatch, "summary", "--db", str(db), "--placement", placed]
        ours_summary = peak([*summary, "--patient", "Patient/1", "--out", str(out)], env)
    rows = []
    for figure, ours, bare, baseline in (
        ("import peak RSS", ours_import, bare_import, "bare csv+sqlite3 insert loop"),
        ("export --format csv peak RSS", ours_csv, bare_export, "bare sqlite3+csv select loop"),
        ("export --format fhir peak RSS", ours_fhir, bare_export, "bare sqlite3+csv select loop"),
        ("summary peak RSS", ours_summary, bare_export, "bare sqlite3+csv select loop"),
    ):
        rows.append(
            {
                "figure": f"{figure} ({lines:,} lines)",
                "value": round(ours[0], 1),
                "unit": "MB",
                "baseline": baseline,
                "baseline_value": round(bare[0], 1),
                "seconds": round(ours[1], 1),
                "baseline_seconds": round(bare[1], 1),
            }
        )
    return rows


def main() -> int:
    rows = measure("--quick" in sys.argv)
    print(f"{'figure':48} {'MB':>7} {'s':>6}   {'baseline':30} {'MB':>7} {'s':>6}")
    for row in rows:
        print(
            f"{row['figure']:48} {row['value']:7.1f} {row['seconds']:6.1f}   "
            f"{row['baseline']:30} {row['baseline_value']:7.1f} {row['baseline_seconds']:6.1f}"
        )
    worst = max(row["value"] for row in rows)
    print(f"target: at most {TARGET_MB:g} MB each; worst {worst:.1f} MB")
    return 0 if worst <= TARGET_MB else 1


if __name__ == "__main__":
    raise SystemExit(main())
