"""A really full disk and a really read-only one, on a small tmpfs in a private namespace.

The tmpfs is mounted with ``unshare -rm`` (a user and mount namespace), so the test needs
no privileges and touches no mount outside itself. Where namespaces are not allowed the
tests skip and say so; the same behaviour is covered with SQLite's own limits in
test_writer.py.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def _namespace_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(
    not _namespace_works(), reason="needs `unshare -rm` to mount a private tmpfs"
)


def _in_namespace(tmp_path: Path, script: str) -> list[dict[str, object]]:
    """Run shell `script` with $MNT a fresh 3 MiB tmpfs; each child prints one JSON line."""
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    child = f"{shlex.quote(sys.executable)} {shlex.quote(str(HERE / 'disk_child.py'))}"
    full_script = (
        f"set -e; MNT={shlex.quote(str(mount_point))}; CHILD={shlex.quote(child)}; "
        "mount -t tmpfs -o size=3m,mode=0700 tmpfs $MNT; " + script
    )
    result = subprocess.run(
        ["unshare", "-rm", "sh", "-c", full_script],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def test_writer_keeps_every_reading_and_reports_when_disk_is_really_full(tmp_path: Path) -> None:
    """Disk full: readings wait in memory, the caregiver is told, all land when space returns."""
    (result,) = _in_namespace(tmp_path, "$CHILD full $MNT/state")
    assert "full" in str(result["trouble"])
    assert result["buffered_while_full"] == 5000
    assert result["cleared"] is True
    assert result["durable"] == 5000
    assert result["stored"] is True
    assert result["integrity"] == "ok"


def test_open_says_read_only_and_loses_nothing_when_disk_is_read_only(tmp_path: Path) -> None:
    """A read-only state directory gives a clear message; the log is intact afterwards."""
    created, refused, reopened = _in_namespace(
        tmp_path,
        "$CHILD create $MNT/state; mount -o remount,ro $MNT; $CHILD open $MNT/state; "
        "mount -o remount,rw $MNT; $CHILD open $MNT/state",
    )
    assert created == {"created": 100}
    assert refused["type"] == "StoreUnavailableError"
    assert "mounted read-only" in str(refused["error"])
    assert reopened == {"error": None, "count": 100}


def test_open_says_read_only_when_new_log_is_on_read_only_disk(tmp_path: Path) -> None:
    """A first start on a read-only disk must say what to fix, not crash."""
    (refused,) = _in_namespace(tmp_path, "mount -o remount,ro $MNT; $CHILD open $MNT/state")
    assert refused["type"] == "StoreUnavailableError"
    assert "mounted read-only" in str(refused["error"])
