"""bench_notices.py keeps the benchmark runner's contract (a smoke run, not a timing test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RUNNER = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"


def test_notices_benchmark_reports_its_figure_with_baseline_when_run_quick(
    tmp_path: Path,
) -> None:
    """README's figure for independent delivery channels comes from this file."""
    output = tmp_path / "latest.json"
    result = subprocess.run(
        [sys.executable, str(RUNNER), "--quick", "--output", str(output), "notices"],
        capture_output=True, text=True, check=False, timeout=110,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (figure,) = json.loads(output.read_text(encoding="utf-8"))["figures"]
    assert figure["unit"] == "ms"
    assert figure["value"] > 0
    assert figure["baseline_value"] > 0
