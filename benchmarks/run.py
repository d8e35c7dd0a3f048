"""Run every benchmark and print its figures beside their same-run baselines.

    python benchmarks/run.py [--quick] [--pi-zero] [--keep] [NAME ...]

Discovers ``bench_*.py`` next to this file (or in ``--dir``); each defines
``measure(quick: bool) -> list[dict]`` whose dicts hold ``figure``, ``value``, ``unit``,
``baseline`` and ``baseline_value``, the baseline measured in the same run. Prints a table
and writes all figures to ``benchmarks/results/latest.json`` (or ``--output``); with
``--keep``, the figures already there from benchmarks not run now are kept.

``--pi-zero`` runs the same benchmarks under constraints that approximate a Raspberry Pi
Zero 2 W (:mod:`pi_zero` says what is approximated and what is not) and writes
``benchmarks/results/pi-zero.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
REQUIRED_KEYS = ("figure", "value", "unit", "baseline", "baseline_value")


def discover(directory: Path, names: list[str]) -> list[Path]:
    found = sorted(directory.glob("bench_*.py"))
    if names:
        found = [p for p in found if p.stem.removeprefix("bench_") in names or p.stem in names]
    return found


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"portwatch_bench_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load benchmark {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_one(path: Path, quick: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = load(path).measure(quick)
    for row in rows:
        missing = [key for key in REQUIRED_KEYS if key not in row]
        if missing:
            raise ValueError(f"{path.name}: figure {row.get('figure')!r} lacks {missing}")
        row["bench"] = path.stem
        base = float(row["baseline_value"])
        row["ratio"] = float(row["value"]) / base if base else None
    return rows


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def table(rows: list[dict[str, Any]]) -> str:
    header = ("figure", "value", "baseline", "baseline value", "ratio")
    lines = [
        (
            str(r["figure"]),
            f"{_number(float(r['value']))} {r['unit']}",
            str(r["baseline"]),
            f"{_number(float(r['baseline_value']))} {r['unit']}",
            "-" if r["ratio"] is None else f"{r['ratio']:.2f}",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in (header, *lines)) for i in range(len(header))]

    def fmt(row: tuple[str, ...]) -> str:
        return " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))

    return "\n".join([fmt(header), "-+-".join("-" * w for w in widths), *map(fmt, lines)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for a smoke test")
    parser.add_argument("--dir", type=Path, default=HERE, help="where the bench_*.py files are")
    parser.add_argument(
        "--output", type=Path, default=HERE / "results" / "latest.json", help="JSON results"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the output's figures of benchmarks not run"
    )
    parser.add_argument(
        "--pi-zero", action="store_true", help="run under a Pi Zero 2 W's approximate limits"
    )
    parser.add_argument("names", nargs="*", help="run only these benchmarks (e.g. decode)")
    args = parser.parse_args(argv)
    if args.pi_zero:
        from pi_zero import run_constrained

        output = args.output if "--output" in (argv or sys.argv) else None
        return run_constrained(Path(__file__), args.quick, args.names, output, keep=args.keep)
    paths = discover(args.dir, args.names)
    if not paths:
        print(f"no bench_*.py found in {args.dir}", file=sys.stderr)
        return 2
    rows: list[dict[str, Any]] = []
    for path in paths:
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        rows.extend(run_one(path, args.quick))
    if args.keep and args.output.exists():
        ran = {path.stem for path in paths}
        kept = json.loads(args.output.read_text(encoding="utf-8")).get("figures", [])
        rows = [row for row in kept if row.get("bench") not in ran] + rows
    print(table(rows))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "figures": rows,
    }
    constraints = os.environ.get("PORTWATCH_BENCH_CONSTRAINTS")
    if constraints:
        result["constraints"] = json.loads(constraints)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
