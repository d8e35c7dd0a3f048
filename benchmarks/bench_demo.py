"""`portwatch demo`'s wall time for its ten days (issue 20: at most 60 s; README: "about a
minute").

The demo runs as a person runs it (``portwatch demo --json``, its default speed), in a
process of its own; the figure is its wall time from exec to exit, and its CPU time (user +
system of the process) beside it. The baseline is the course's pacing alone: its simulated
length over the default speed, the least the demo can take when it keeps pace. Wall time
above that is start-up, the summary, and steps where the machine fell behind (thread
work: SQLite commits, HTTP round trips to the inbox and the page). On a machine shared with
other work the wall time grows while the CPU time does not: both are reported.

``--quick`` plays the first simulated day only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any


def run_demo(days: float | None) -> dict[str, Any]:
    """Wall and CPU seconds of one ``portwatch demo --json`` run, and its summary."""
    argv = [sys.executable, "-m", "portwatch", "demo", "--json"]
    if days is not None:
        argv += ["--days", str(days)]
    began = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # noqa: S603
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"portwatch demo exited with {process.returncode}")
    summary = json.loads(out)
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "summary": summary}


def measure(quick: bool) -> list[dict[str, Any]]:
    from portwatch.cli.commands.demo import DEFAULT_SPEED
    from portwatch.sim.scenario import COURSE

    days = 1.0 if quick else None
    length = COURSE.length if days is None else timedelta(days=days)
    floor = length.total_seconds() / DEFAULT_SPEED
    run = run_demo(days)
    span = "its ten days" if days is None else f"its first {days:g} day"
    simulated_days = length / timedelta(days=1)
    pacing = f"the course's pacing alone ({simulated_days:.2f} d / {DEFAULT_SPEED:,.0f}x)"
    return [
        {
            "figure": f"portwatch demo --json: wall time for {span} (target <= 60 s)",
            "value": run["wall"],
            "unit": "s",
            "baseline": pacing,
            "baseline_value": floor,
        },
        {
            "figure": f"portwatch demo --json: CPU time (user+system) for {span}",
            "value": run["cpu"],
            "unit": "s",
            "baseline": pacing,
            "baseline_value": floor,
        },
    ]
