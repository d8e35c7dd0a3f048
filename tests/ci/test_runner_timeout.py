"""The suite's per-test timeout ends a hung asyncio test, as CI needs (notes: a 16-min hang).

Each case runs a throw-away pytest in a subprocess on a test that never ends, with the
project's own pytest settings (``-c pyproject.toml``) and a 2 s timeout, and checks how
that run ends. The hang is a callback that keeps the event loop busy: when SIGALRM
lands in it, the loop catches pytest-timeout's exception as it would any callback's.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"
# The throw-away run's own timeout, and how long we let it take before calling it hung.
INNER_TIMEOUT_S = 2
HUNG_AFTER_S = 10

HANGING_TEST = """
import asyncio
import time


async def test_hangs_while_a_callback_keeps_the_loop_busy() -> None:
    loop = asyncio.get_running_loop()

    def busy() -> None:
        time.sleep(0.05)  # a callback blocking the loop, as stuck I/O would (no CPU spent)
        loop.call_soon(busy)

    loop.call_soon(busy)
    await asyncio.Event().wait()
"""


def _run_hanging_test(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str] | None:
    """Run the hanging test under the project's settings; None if it was still running."""
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
    try:
        return subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, timeout=HUNG_AFTER_S
        )
    except subprocess.TimeoutExpired:
        return None


def test_timeout_ends_run_with_stack_when_asyncio_callback_hangs(tmp_path: Path) -> None:
    """With the project's timeout_method a hang ends red within seconds, naming the culprit."""
    result = _run_hanging_test(tmp_path)
    assert result is not None, f"the hung test was still running after {HUNG_AFTER_S} s"
    assert result.returncode != 0
    assert "Timeout" in result.stderr + result.stdout
    assert "in busy" in result.stdout, "the stack dump does not show the hanging callback"


@pytest.mark.timeout(HUNG_AFTER_S * 2)
def test_signal_timeout_misses_hang_when_asyncio_callback_runs(tmp_path: Path) -> None:
    """Why the project does not use the default: the signal method lets this test hang.

    If a pytest-timeout release makes the signal method catch it, this fails and the
    choice in pyproject.toml can be revisited.
    """
    result = _run_hanging_test(tmp_path, "--timeout-method=signal")
    assert result is None, "the signal method ended the hang; see pyproject.toml"
