"""Run the fault and bad-input campaigns and print what was tried and what was lost.

    python benchmarks/campaigns.py [--quick] [--seed N] [NAME ...]

Each ``campaign_*.py`` next to this file defines ``NAME`` and
``run(quick: bool, seed: int | None = None) -> dict`` returning at least ``campaign``,
``tried``, ``lost``, ``duplicated``, ``crashed`` (``None`` where a count does not apply),
``passed`` and ``notes``. The table is printed and everything is written to
``benchmarks/results/campaigns.json`` (or ``--output``). The exit status is 1 when any
campaign did not pass. CI runs the ``--quick`` version through ``tests/reliability``; the
full run is what README reports.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
COLUMNS = ("campaign", "tried", "lost", "duplicated", "crashed", "notes")
REQUIRED_KEYS = ("campaign", "tried", "lost", "duplicated", "crashed", "passed", "notes")


def discover(directory: Path = HERE, names: list[str] | None = None) -> list[Path]:
    """The campaign files, optionally only those named (``fuzz`` or ``campaign_fuzz``)."""
    found = sorted(directory.glob("campaign_*.py"))
    if names:
        found = [p for p in found if p.stem.removeprefix("campaign_") in names or p.stem in names]
    return found


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"portwatch_campaign_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load campaign {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def run_one(path: Path, quick: bool, seed: int | None = None) -> dict[str, Any]:
    """Run one campaign file and check its result has every column."""
    started = time.perf_counter()
    result: dict[str, Any] = load(path).run(quick, seed)
    missing = [key for key in REQUIRED_KEYS if key not in result]
    if missing:
        raise ValueError(f"{path.name}: result lacks {missing}")
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(results: list[dict[str, Any]]) -> str:
    rows = [tuple(_cell(r[column]) for column in COLUMNS) for r in results]
    widths = [max(len(row[i]) for row in (COLUMNS, *rows)) for i in range(len(COLUMNS) - 1)]

    def fmt(row: tuple[str, ...]) -> str:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        return " | ".join([*cells, row[-1]])

    rule = "-+-".join("-" * w for w in widths) + "-+------"
    return "\n".join([fmt(COLUMNS), rule, *map(fmt, rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the shortened campaigns CI runs")
    parser.add_argument("--seed", type=int, default=None, help="replay a run with this seed")
    parser.add_argument(
        "--output", type=Path, default=HERE / "results" / "campaigns.json", help="JSON results"
    )
    parser.add_argument("names", nargs="*", help="run only these campaigns (e.g. fuzz outage)")
    args = parser.parse_args(argv)
    # The campaigns provoke retries and escalations on purpose; their log lines are noise here.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    paths = discover(HERE, args.names)
    if not paths:
        print("no campaign_*.py matched", file=sys.stderr)
        return 2
    results = []
    for path in paths:
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        results.append(run_one(path, args.quick, args.seed))
    print(table(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "campaigns": results,
    }
    args.output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)
    failed = [r["campaign"] for r in results if not r["passed"]]
    if failed:
        print(f"did not pass: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
