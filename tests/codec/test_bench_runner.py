"""The benchmark runner: finds bench_*.py, prints the table, writes latest.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RUNNER = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"

DUMMY_BENCH = """
def measure(quick):
    return [{"figure": "widgets per second", "value": 50.0, "unit": "1/s",
             "baseline": "doing nothing", "baseline_value": 200.0, "quick": quick}]
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUNNER), *args], capture_output=True, text=True, check=False
    )


def test_runner_writes_figures_with_ratio_when_a_bench_file_is_found(tmp_path: Path) -> None:
    """Each figure lands in the table and the JSON with its baseline and value/baseline."""
    (tmp_path / "bench_dummy.py").write_text(DUMMY_BENCH, encoding="utf-8")
    output = tmp_path / "results" / "latest.json"
    result = _run("--quick", "--dir", str(tmp_path), "--output", str(output))
    assert result.returncode == 0, result.stderr
    assert "widgets per second" in result.stdout
    assert "0.25" in result.stdout
    figure = json.loads(output.read_text(encoding="utf-8"))["figures"][0]
    assert (figure["ratio"], figure["quick"], figure["bench"]) == (0.25, True, "bench_dummy")


def test_runner_exits_2_when_no_bench_file_exists(tmp_path: Path) -> None:
    """An empty directory is a mistake worth a clear status, not an empty table."""
    assert _run("--dir", str(tmp_path), "--output", str(tmp_path / "x.json")).returncode == 2


def test_decode_benchmark_reports_positive_rates_when_run_quick(tmp_path: Path) -> None:
    """bench_decode.py keeps the runner's contract (a smoke run, not a timing assertion)."""
    output = tmp_path / "latest.json"
    result = _run("--quick", "--output", str(output), "decode")
    assert result.returncode == 0, result.stderr
    figures = json.loads(output.read_text(encoding="utf-8"))["figures"]
    assert figures
    assert all(f["value"] > 0 and f["baseline_value"] > 0 for f in figures)
