"""A hand reading typed while the service runs says so when the service's clock is not this
computer's: found by hand on a gateway whose clock was never synchronised, where the service
showed day 1 (its thermometer's readings timed on its own clock) and `add` stamped day 3,
with nothing saying why. The reading keeps the time the person gave.

The service here is `python -m portwatch.sim.run` on a virtual clock set in the past (the
way tests give the service a clock that is not this machine's), with the virtual radio and
its control socket; `portwatch add` runs as its own process, as a person runs it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from portwatch.clock import SystemClock
from portwatch.log.store import Store

from .control_process import SECRET, environment

GATEWAY_NOW = datetime(2026, 11, 16, 11, 0, tzinfo=UTC)  # the service's virtual clock


def _settings(directory: Path) -> Path:
    secret = directory / "clinic-secret"
    secret.write_text(SECRET + "\n", encoding="utf-8")
    secret.chmod(0o600)
    config = directory / "portwatch.toml"
    config.write_text(
        "[patient]\nreference = 'Patient/1'\nplacement = '2026-11-16T09:00:00+00:00'\n"
        "[bluetooth]\nbackend = 'virtual'\n"
        "[clinic]\nurl = 'http://127.0.0.1:9/webhook'\nrecipient = 'Organization/1'\n"
        f"secret_file = '{secret}'\n[store]\nstate_directory = '{directory / 'state'}'\n",
        encoding="utf-8",
    )
    return config


def test_add_says_when_the_services_clock_is_not_this_computers(short_dir: Path) -> None:
    config = _settings(short_dir)
    socket_path = short_dir / "run" / "control.sock"  # $RUNTIME_DIRECTORY, as systemd sets it
    service = subprocess.Popen(
        [sys.executable, "-m", "portwatch.sim.run", "--config", str(config),
         "--virtual-clock", GATEWAY_NOW.isoformat(), "--speed", "1"],
        env=environment(short_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        for _ in range(600):  # up to a minute for another process to open its socket
            if socket_path.is_socket():
                break
            assert service.poll() is None, service.communicate()
            time.sleep(0.1)
        added = subprocess.run(
            [sys.executable, "-m", "portwatch", "add", "98.9F", "--config", str(config)],
            env=environment(short_dir), capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
    finally:
        service.terminate()
        service.communicate(timeout=30)
    assert added.returncode == 0, added.stdout + added.stderr
    assert "portwatch is not running" not in added.stdout
    assert "note: the gateway's clock says Mon 16 Nov 11:0" in added.stdout, added.stdout
    assert "not synchronised" in added.stdout
    with Store.open_reader(short_dir / "state" / "portwatch.db") as store:
        far = GATEWAY_NOW + timedelta(days=3650)
        (hand,) = [r for r in store.readings(GATEWAY_NOW - timedelta(days=1), far)
                   if r.reading.device == "manual"]  # fmt: skip
    # by the person's clock (this computer's), which an earlier --at reading is also given in
    assert abs(hand.reading.time - SystemClock().now()) < timedelta(minutes=5), hand
