"""`portwatch run` on a damaged log, as systemd starts it: one line, a status, no traceback.

Issue 4: "a damaged database is never written to and never deleted: portwatch stops with a
message that says what it found and how to recover". The disk campaign found the message
buried in a traceback and a status systemd restarts on forever (issue 10).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from portwatch.cli.commands.run import EXIT_LOG_REFUSED
from portwatch.log.store import DB_FILE_NAME, Store, StoreDamagedError, check
from portwatch.model import Reading, ReadingKind, Unit

T0 = datetime(2026, 11, 4, tzinfo=UTC)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # a test secret: signs nothing
SETTINGS = """
[patient]
reference = "Patient/damaged-log"
placement = 2026-11-04T00:00:00Z
timezone = "Europe/Berlin"
[clinic]
url = "http://127.0.0.1:9/alerts"
recipient = "Organization/clinic-1"
secret_file = "{secret}"
[store]
state_directory = "{state}"
"""
UNIT = Path(__file__).resolve().parents[2] / "systemd" / "portwatch.service"


def _damaged_log(state: Path, *, header: bool = True) -> Path:
    """A log with readings, damaged by a stray write (a failing card): over its header, or
    (``header=False``) over a b-tree page, so that SQLite still opens it in WAL mode."""
    path = state / DB_FILE_NAME
    with Store.open(path) as log:
        log.add_readings(
            [
                Reading(
                    device="damaged-log",
                    kind=ReadingKind.STREAM,
                    value=Decimal(37),
                    unit=Unit.CELSIUS,
                    celsius=37.0,
                    time=T0 + timedelta(seconds=i),
                    received_at=T0 + timedelta(seconds=i),
                    interval_s=1.0,
                )
                for i in range(500)
            ]
        )
    data = bytearray(path.read_bytes())
    if header:
        data[0:16] = b"not a database!\0"
    else:
        for page in range(2, len(data) // 4096):
            data[page * 4096 : page * 4096 + 8] = bytes([0x2B, 1, 2, 3, 4, 5, 6, 7])
    path.write_bytes(bytes(data))
    return path


def _listing(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir()}


def test_run_prints_one_line_and_exits_log_refused_when_the_log_is_damaged(
    tmp_path: Path,
) -> None:
    """The recovery advice reaches the journal as one line; the file is left byte-identical."""
    state = tmp_path / "state"
    path = _damaged_log(state)
    before = _listing(state)
    secret = tmp_path / "secret"
    secret.write_text(SECRET, encoding="utf-8")
    secret.chmod(0o600)
    settings = tmp_path / "portwatch.toml"
    settings.write_text(SETTINGS.format(secret=secret, state=state), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTWATCH_")}
    done = subprocess.run(
        [sys.executable, "-m", "portwatch", "run", "--config", str(settings)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=env,
    )
    assert done.returncode == EXIT_LOG_REFUSED == 65
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("portwatch: ")]
    assert len(lines) == 1, done.stderr
    assert "is damaged" in lines[0]
    assert "To recover" in lines[0]
    assert str(path) in lines[0]
    assert _listing(state) == before  # byte-identical, and no -wal or -shm made beside it


def test_unit_does_not_restart_when_run_exits_log_refused() -> None:
    """systemd must not restart forever on a log a person has to recover."""
    lines = UNIT.read_text(encoding="utf-8").splitlines()
    prevent = [line for line in lines if line.startswith("RestartPreventExitStatus=")]
    assert prevent == [f"RestartPreventExitStatus={EXIT_LOG_REFUSED}"]


def test_check_leaves_the_directory_unchanged_when_the_log_is_damaged(tmp_path: Path) -> None:
    """The read-only check must not create -wal/-shm files beside a log it refuses."""
    state = tmp_path / "state"
    _damaged_log(state, header=False)
    before = _listing(state)
    with pytest.raises(StoreDamagedError):
        check(state / DB_FILE_NAME)
    assert _listing(state) == before
