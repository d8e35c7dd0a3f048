"""bench_memory.py keeps the benchmark runner's contract (a smoke run on a short file)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_memory.py"


def test_bench_memory_measures_import_exports_and_summary_each_beside_its_bare_loop() -> None:
    """Four figures in MB, each with its baseline, under the 80 MB target on a short file."""
    spec = importlib.util.spec_from_file_location("bench_memory", BENCH)
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.measure(True, lines=2_000)
    assert [row["figure"].split(" (")[0] for row in rows] == [
        "import peak RSS",
        "export --format csv peak RSS",
        "export --format fhir peak RSS",
        "summary peak RSS",
    ]
    for row in rows:
        assert row["unit"] == "MB"
        assert 0 < row["baseline_value"] < row["value"] <= bench.TARGET_MB
