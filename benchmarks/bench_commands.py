"""Cold start of the commands a caregiver types, against a bare interpreter (issue 20).

On a Raspberry Pi Zero 2 W every 100 ms here is most of a second there, so `status`,
`add`, `log` and `--help` must import only what they use. Each command runs as its own
process, as a person runs it, over a small real log; the figure is the median wall time of
several runs, against `python -c "import sqlite3, argparse"` with the same interpreter in
the same run. The target is a ratio of at most 2.

Both sides run with a bytecode cache, as on a Pi where pip compiled the package when it
installed it: ``PYTHONDONTWRITEBYTECODE`` (set in some sandboxes) is dropped and the cache
goes to a temporary ``PYTHONPYCACHEPREFIX``, filled by a first run of each command. Without
it every portwatch module is compiled from source on every start, which is not what a
caregiver's command costs (the libraries in site-packages keep their install-time cache).

Wall times on a shared machine move with its load; where valgrind is installed, each
command's instructions to exit (callgrind's count, one run each: it does not vary with
load) are measured beside the same baseline's, a ratio a busy machine does not blur.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

PLACEMENT = "2026-11-16T09:00:00+00:00"


def _wall_s(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,  # noqa: S603
                   check=True)  # fmt: skip
    return time.perf_counter() - start


def _medians_s(commands: dict[str, list[str]], env: dict[str, str], runs: int) -> dict[str, float]:
    """Each command's median wall time, the commands taken in turn round after round so that
    the machine's load (shared CI, other processes) falls alike on each and on the baseline.
    A ``{n}`` in an argument is the round's number (`add` refuses a reading typed twice)."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(runs):
        for name, argv in commands.items():
            times[name].append(_wall_s([a.replace("{n}", f"{round_:02d}") for a in argv], env))
    return {name: statistics.median(values) for name, values in times.items()}


def _instructions(argv: list[str], env: dict[str, str]) -> int | None:
    """Instructions executed to exit under callgrind, or None without valgrind."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    result = subprocess.run(  # noqa: S603 (valgrind on our own interpreter)
        [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True,
    )  # fmt: skip
    found = re.search(r"Collected : (\d+)", result.stderr)
    return int(found.group(1)) if found else None


def _instruction_rows(
    commands: dict[str, list[str]], bare: list[str], env: dict[str, str]
) -> list[dict[str, object]]:
    base = _instructions(bare, env)
    if base is None:
        return []
    rows: list[dict[str, object]] = []
    for figure, argv in commands.items():
        count = _instructions([a.replace("{n}", "98") for a in argv], env)
        if count is not None:
            rows.append(
                {
                    "figure": f"instructions to exit (callgrind): {figure}",
                    "value": count / 1e6,
                    "unit": "M",
                    "baseline": 'python -c "import sqlite3, argparse"',
                    "baseline_value": base / 1e6,
                }
            )
    return rows


def _portwatch() -> list[str]:
    return [sys.executable, "-m", "portwatch"]


@contextlib.contextmanager
def _service(config: Path, env: dict[str, str]) -> Iterator[dict[str, str]]:
    """`portwatch run`'s service (on a simulated clock, virtual radio) with its control
    socket in a runtime directory; yields the environment in which commands find it."""
    runtime = config.parent / "run"
    runtime.mkdir(exist_ok=True)
    running = {**env, "RUNTIME_DIRECTORY": str(runtime)}
    argv = [sys.executable, "-m", "portwatch.sim.run", "--config", str(config)]
    argv += ["--virtual-clock", PLACEMENT, "--speed", "1"]
    service = subprocess.Popen(argv, env=running, stdout=subprocess.DEVNULL,  # noqa: S603
                               stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.perf_counter() + 60
        while not (runtime / "control.sock").is_socket():
            if time.perf_counter() > deadline or service.poll() is not None:
                raise RuntimeError("the service did not open its control socket")
            time.sleep(0.1)
        yield running
    finally:
        service.terminate()
        service.wait(timeout=15)


def _settings_file(work: Path) -> Path:
    """A complete settings file, as on a Pi: with it, a command validates the settings."""
    secret = work / "clinic-secret"
    secret.write_text("whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n", encoding="utf-8")
    secret.chmod(0o600)
    config = work / "portwatch.toml"
    config.write_text(
        f"""
[patient]
reference = "Patient/bench"
placement = "{PLACEMENT}"
[bluetooth]
backend = "virtual"
[clinic]
url = "http://127.0.0.1:9/webhook"
recipient = "Organization/bench"
secret_file = "{secret}"
[store]
state_directory = "{work}"
""",
        encoding="utf-8",
    )
    return config


def measure(quick: bool) -> list[dict[str, object]]:
    runs = 5 if quick else 15
    with tempfile.TemporaryDirectory(prefix="portwatch-bench-cmd-") as work:
        db = str(Path(work) / "portwatch.db")
        env = {**os.environ, "PORTWATCH_STATE_DIRECTORY": work}
        env["PYTHONPYCACHEPREFIX"] = str(Path(work) / "pycache")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        # no settings file: the offline path, flags only (a file is measured apart)
        env["PORTWATCH_CONFIG"] = str(Path(work) / "no-such-portwatch.toml")
        log_args = ["--db", db, "--placement", PLACEMENT]
        # a small real log: one reading typed by hand (also warms the OS file cache)
        subprocess.run([*_portwatch(), "add", "98.6F", "--db", db], env=env, check=True,  # noqa: S603
                       stdout=subprocess.DEVNULL)  # fmt: skip
        bare_argv = [sys.executable, "-c", "import sqlite3, argparse"]
        config = _settings_file(Path(work))
        commands = {
            "portwatch --help": [*_portwatch(), "--help"],
            "portwatch status": [*_portwatch(), "status", *log_args],
            "portwatch log": [*_portwatch(), "log", *log_args],
            "portwatch add": [*_portwatch(), "add", "97.{n}F", "--db", db],
            "portwatch status --config FILE (settings validated: pydantic)": [
                *_portwatch(),
                "status",
                "--config",
                str(config),
                "--db",
                db,
            ],
        }
        for argv in commands.values():  # fill the bytecode cache
            _wall_s([a.replace("{n}", "99") for a in argv], env)
        with _service(config, env) as running:
            commands["portwatch status, service running (control socket)"] = [
                *_portwatch(),
                "status",
            ]
            _wall_s(commands["portwatch status, service running (control socket)"], running)
            medians = _medians_s({"bare": bare_argv, **commands}, running, runs)
            counted = _instruction_rows(commands, bare_argv, running)
        rows: list[dict[str, object]] = []
        for figure in commands:
            rows.append(
                {
                    "figure": f"cold start to exit: {figure}"
                    + ("" if "--config" in figure else " (target <= 2x)"),
                    "value": medians[figure] * 1000,
                    "unit": "ms",
                    "baseline": 'python -c "import sqlite3, argparse"',
                    "baseline_value": medians["bare"] * 1000,
                }
            )
        return rows + counted
