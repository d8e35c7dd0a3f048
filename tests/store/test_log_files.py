"""Issue 21: the log's files are private, never reached through a symlink, and root is told
to act as the service's user instead of leaving files the service cannot open.

Each case runs `portwatch add` as its own process against a real state directory.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from portwatch.log.store import Store

NOBODY = 65534


def add(db: Path, typed: str = "37.2C") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portwatch", "add", typed, "--db", str(db)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PORTWATCH_CONFIG": str(db.parent / "none.toml")},
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_log_open_to_others_is_made_private_and_said_so_in_one_line(tmp_path: Path) -> None:
    """A 0644 log (an older portwatch, a copy) stayed readable by every user, unsaid."""
    state = tmp_path / "state"
    db = state / "portwatch.db"
    with Store.open(db):
        pass
    db.chmod(0o644)
    result = add(db)
    assert result.returncode == 0, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert f"{db} was open to other users (mode 0644); made it 0600" in line
    assert mode(db) == 0o600
    assert add(db, "37.3C").stderr == ""  # said once, when it was done


def test_a_state_directory_writable_by_all_is_repaired_and_said_so(tmp_path: Path) -> None:
    """A 0777 state directory let any user swap the log for a link; it was used as it was."""
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o777)
    result = add(state / "portwatch.db")
    assert result.returncode == 0, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert f"{state} was open to other users (mode 0777); made it 0755" in line
    assert mode(state) == 0o755


def test_a_log_that_is_a_symlink_is_refused_and_its_target_left_alone(tmp_path: Path) -> None:
    """portwatch.db -> an empty file: the target was overwritten with a log."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    target = tmp_path / "precious.txt"
    target.write_bytes(b"")
    (state / "portwatch.db").symlink_to(target)
    result = add(state / "portwatch.db")
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert "is a symbolic link; portwatch never writes its log through one" in line
    assert target.read_bytes() == b""


@pytest.mark.skipif(os.geteuid() != 0, reason="what root is told: needs root")
def test_root_is_told_to_run_as_the_service_user_and_creates_nothing(tmp_path: Path) -> None:
    """Root's `portwatch add` in the service's directory left a log the service could not open."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    os.chown(state, NOBODY, NOBODY)
    result = add(state / "portwatch.db")
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert f"{state} belongs to the user 'nobody'" in line
    assert f"sudo -u nobody portwatch add 37.2C --db {state / 'portwatch.db'}" in line
    assert list(state.iterdir()) == []
