"""Fixtures for the tests of the control socket: a short directory and a loopback inbox."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from portwatch.alerts.signing import parse_secret
from portwatch.clock import SystemClock
from portwatch.sim.inbox import InboxStore, make_app

from .control_process import SECRET, Inbox


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path: a Unix socket's path is limited to 107 bytes."""
    path = Path(tempfile.mkdtemp(prefix="pw-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def inbox(short_dir: Path) -> AsyncIterator[Inbox]:
    box = Inbox(InboxStore(short_dir / "inbox.db"))
    runner = web.AppRunner(make_app(parse_secret(SECRET), box, SystemClock()))  # type: ignore[arg-type]
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    box.url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhook"
    yield box
    await runner.cleanup()
    box.store.close()
