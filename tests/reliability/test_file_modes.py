"""Files holding health data or secrets are readable by their owner only (security review)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from portwatch.log.store import Store
from portwatch.sim.inbox import InboxStore


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive common umask (022): files would be world-readable by default."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("open_umask")
def test_inbox_store_creates_its_file_owner_only_when_umask_is_open(tmp_path: Path) -> None:
    """The inbox keeps every alert's readings; under umask 022 sqlite3 would make it 0644."""
    path = tmp_path / "inbox.db"
    InboxStore(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.usefixtures("open_umask")
def test_store_creates_log_owner_only_when_umask_is_open(tmp_path: Path) -> None:
    """The gateway's log (every temperature) must not be readable by other users either."""
    path = tmp_path / "state" / "portwatch.db"
    Store.open(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
