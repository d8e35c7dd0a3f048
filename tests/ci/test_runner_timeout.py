"""The suite's per-test timeout ends a hung asyncio test, as CI needs (notes: a 16-min hang).

Each case runs a throw-away pytest in a subprocess on a test that never ends, with the
project's own pytest settings (``-c pyproject.toml``) and a 2 s timeout, and checks how
that run ends. The hang is a callback that keeps the event loop busy: when SIGALRM
lands in it, the loop catches pytest-timeout's exception as it would any callback's.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"
# The throw-away run's own timeout.
INNER_TIMEOUT_S = 2
# How long past that timeout a run still going counts as hung.
HUNG_AFTER_S = 8
# Generous bounds for a loaded machine: starting pytest, and ending after a timeout.
START_WITHIN_S = 60
END_WITHIN_S = 60

HANGING_TEST = """
import asyncio
import pathlib
import time


async def test_hangs_while_a_callback_keeps_the_loop_busy() -> None:
    loop = asyncio.get_running_loop()

    def busy() -> None:
        time.sleep(0.05)  # a callback blocking the loop, as stuck I/O would (no CPU spent)
        loop.call_soon(busy)

    pathlib.Path("started").touch()
    loop.call_soon(busy)
    await asyncio.Event().wait()
"""


@contextmanager
def _hanging_run(tmp_path: Path, *extra: str) -> Iterator[subprocess.Popen[str]]:
    """Start the hanging test under the project's settings; once it has started, yield."""
    (tmp_path / "test_hang.py").write_text(HANGING_TEST)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(PYPROJECT),
        "--rootdir",
        str(tmp_path),
        "-p",
        "no:cacheprovider",
        "-q",
        f"--timeout={INNER_TIMEOUT_S}",
        *extra,
        str(tmp_path / "test_hang.py"),
    ]
    with subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as run:
        try:
            deadline = time.perf_counter() + START_WITHIN_S
            while not (tmp_path / "started").exists():
                assert run.poll() is None, "the run ended before the hanging test started"
                assert time.perf_counter() < deadline, "the hanging test never started"
                time.sleep(0.05)  # polling a subprocess's progress, not letting time pass
            yield run
        finally:
            if run.poll() is None:
                run.kill()
            run.communicate(timeout=30)


def test_timeout_ends_run_with_stack_when_asyncio_callback_hangs(tmp_path: Path) -> None:
    """With the project's timeout_method a hang ends red, with the culprit's stack."""
    with _hanging_run(tmp_path) as run:
        try:
            output, _ = run.communicate(timeout=END_WITHIN_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the hung test was still running {END_WITHIN_S} s after it started")
    assert run.returncode != 0
    assert "Timeout" in output
    assert "in busy" in output, "the stack dump does not show the hanging callback"


@pytest.mark.timeout(START_WITHIN_S + INNER_TIMEOUT_S + HUNG_AFTER_S + 60)
def test_signal_timeout_misses_hang_when_asyncio_callback_runs(tmp_path: Path) -> None:
    """Why the project does not use the default: the signal method lets this test hang.

    If a pytest-timeout release makes the signal method catch it, this fails and the
    choice in pyproject.toml can be revisited.
    """
    with _hanging_run(tmp_path, "--timeout-method=signal") as run:
        try:
            run.wait(timeout=INNER_TIMEOUT_S + HUNG_AFTER_S)
        except subprocess.TimeoutExpired:
            return  # still hung well past its 2 s timeout, as expected
    pytest.fail("the signal method ended the hang; see timeout_method in pyproject.toml")
