"""The daemon's memory on the Pi (issue 9: under 60 MB) depends on what it does not import."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("fhir", "aiohttp", "bumble")
DAEMON_MODULES = (
    "portwatch.cli.commands.run",
    "portwatch.service.daemon",
    "portwatch.ble.link",
    "portwatch.ble.radio",
    "portwatch.ble.discovery",
    "portwatch.alerts.delivery",
    "portwatch.alerts.fhir",
)


def test_daemon_imports_no_fhir_aiohttp_or_bumble_when_its_modules_load() -> None:
    """FHIR models, the page's server and the virtual radio load only when configured."""
    script = (
        f"import sys\nimport {', '.join(DAEMON_MODULES)}\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == []
