"""bench_store.py keeps the benchmark runner's contract (a smoke run, not a timing test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RUNNER = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"


def test_store_benchmark_reports_every_figure_when_run_quick(tmp_path: Path) -> None:
    """README's log figures, the chart's among them, come from this file; it must keep running."""
    output = tmp_path / "latest.json"
    result = subprocess.run(
        [sys.executable, str(RUNNER), "--quick", "--output", str(output), "store"],
        capture_output=True, text=True, check=False, timeout=110,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    figures = json.loads(output.read_text(encoding="utf-8"))["figures"]
    names = [f["figure"] for f in figures]
    assert "store: 1 d at 1/s downsampled to 1,000 points" in names
    assert "store: open a 1 d log from before the rollup (back-fill)" in names
    assert all(f["value"] > 0 and f["baseline_value"] > 0 for f in figures)
