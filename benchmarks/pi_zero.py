"""Run the benchmarks under limits that approximate a Raspberry Pi Zero 2 W (issue 20).

    python benchmarks/run.py --pi-zero [--quick] [NAME ...]

The Zero 2 W has 512 MB of RAM and four Cortex-A53 cores at 1 GHz. What this machine can
impose, and how:

- Memory: each process of the run (the benchmark harness, portwatch's commands, the daemon,
  the bare baselines) may map at most 512 MiB of address space (``prlimit --as``, an
  rlimit every child inherits), with glibc held to two malloc arenas
  (``MALLOC_ARENA_MAX=2``, which a Pi's unit file can set as well) so that the limit is
  spent on memory rather than on per-thread arena reservations. Approximated: the limit
  is per process and on address space, not on the resident memory of the whole product
  together; a process that needs more than 512 MiB fails (MemoryError), which is what the
  Pi's OOM killer would do sooner. A cgroup ceiling (``systemd-run --scope -p
  MemoryMax=512M``) would bound the sum, and is used when systemd runs this machine (it
  does not in the CI sandbox, whose own cgroups are not ours to change).
- CPU: one core (``taskset -c 0``), stricter than the Pi's four: the daemon's work is one
  event loop and its threads, and a caregiver's command is one process.
- CPU speed is not approximated: the figures are this machine's. For the Pi, CPU seconds
  are multiplied by :data:`PI_ZERO_SLOWDOWN` in the "projected" rows: a Cortex-A53 at
  1 GHz runs CPython roughly ten times slower than one x86-64 server core at 2.5-3.5 GHz
  (an in-order core with about a third of the instructions per clock, at a third of the
  clock; pyperformance on a Pi 3's A53 at 1.2 GHz is about eight times slower than a
  current desktop core). An assumption to check on the hardware, not a measurement.
- Storage is not approximated: an SD card's fsync takes milliseconds where this machine's
  disk (or the RAM disk some benchmarks use) takes microseconds; that is wall time, not CPU.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Final

MEMORY_BYTES: Final = 512 * 2**20
# Assumed: CPU seconds on a Zero 2 W per CPU second here (see the module's docstring).
PI_ZERO_SLOWDOWN: Final = 10.0
FACTOR_ENV: Final = "PORTWATCH_BENCH_PI_ZERO_SLOWDOWN"


def _systemd_is_init() -> bool:
    return Path("/run/systemd/system").is_dir() and shutil.which("systemd-run") is not None


def constrained_argv(argv: list[str]) -> tuple[list[str], dict[str, object]]:
    """``argv`` wrapped in the limits this machine allows, and a description of them."""
    described: dict[str, object] = {
        "approximates": "Raspberry Pi Zero 2 W (512 MB RAM, 4x Cortex-A53 at 1 GHz)",
        "cpu_speed": "not approximated: this machine's; projected rows multiply CPU seconds "
        f"by an assumed {PI_ZERO_SLOWDOWN:g}x",
        "storage": "not approximated (fsync costs wall time on an SD card, not CPU)",
    }
    wrapped = list(argv)
    if shutil.which("taskset"):
        wrapped = ["taskset", "-c", "0", *wrapped]
        described["cpus"] = "one core (taskset -c 0); the Pi has four"
    if os.geteuid() == 0 and _systemd_is_init():
        wrapped = ["systemd-run", "--scope", "--quiet", "-p", "MemoryMax=512M", *wrapped]
        described["memory"] = "cgroup MemoryMax=512M over the whole run (systemd-run --scope)"
    elif shutil.which("prlimit"):
        wrapped = ["prlimit", f"--as={MEMORY_BYTES}", *wrapped]
        described["memory"] = (
            "RLIMIT_AS 512 MiB per process (prlimit), MALLOC_ARENA_MAX=2; per process and "
            "on address space, not a ceiling on the resident memory of all processes together"
        )
    else:
        described["memory"] = "not limited (neither systemd-run as root nor prlimit here)"
    return wrapped, described


def run_constrained(
    runner: Path, quick: bool, names: list[str], output: Path | None, *, keep: bool = False
) -> int:
    """Run ``runner`` (benchmarks/run.py) again inside the limits; its exit status."""
    target = output or runner.parent / "results" / "pi-zero.json"
    argv = [sys.executable, str(runner), "--output", str(target)]
    argv += [*(["--quick"] * quick), *(["--keep"] * keep), *names]
    wrapped, described = constrained_argv(argv)
    env = {
        **os.environ,
        "MALLOC_ARENA_MAX": "2",
        FACTOR_ENV: str(PI_ZERO_SLOWDOWN),
        "PORTWATCH_BENCH_CONSTRAINTS": json.dumps(described),
    }
    print(f"pi-zero: {' '.join(wrapped[: len(wrapped) - len(argv)])}", file=sys.stderr)
    return subprocess.run(wrapped, env=env, check=False).returncode  # noqa: S603
