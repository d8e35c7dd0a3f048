"""What the CLI's logging lets through (security review, issue 10).

Each check runs in a fresh interpreter: pytest's own log capture sits on the root logger,
and ``logging.basicConfig`` does nothing once a handler is there.
"""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import logging, sys
from portwatch.cli import main as cli
cli.configure_logging(int(sys.argv[1]))
for name in sys.argv[2:]:
    print(name, logging.getLogger(name).getEffectiveLevel())
"""


def _levels(verbosity: int, *names: str) -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(verbosity), *names],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return {line.split()[0]: int(line.split()[1]) for line in done.stdout.splitlines()}


def test_configure_logging_keeps_urllib3_request_lines_out_when_run_with_vv() -> None:
    """urllib3 logs 'POST /<ntfy topic>' at DEBUG; the topic is a secret, so -vv must not."""
    levels = _levels(2, "portwatch.alerts.delivery", "urllib3.connectionpool")
    assert levels["portwatch.alerts.delivery"] == 10  # DEBUG for our own stages
    assert levels["urllib3.connectionpool"] == 20  # INFO at most for urllib3


def test_configure_logging_shows_only_warnings_when_run_without_v() -> None:
    """The default level is WARNING: no INFO line (alert ids, requests) reaches the journal."""
    levels = _levels(0, "portwatch.alerts.delivery", "urllib3.connectionpool")
    assert levels == {"portwatch.alerts.delivery": 30, "urllib3.connectionpool": 30}
