"""`portwatch run` as a real process: READY, SIGTERM within 10 s, a restart that loses nothing.

The daemon runs on a simulated clock paced at 60x real time (`python -m portwatch.sim.run
--virtual-clock`, the test entry point that wires it as `portwatch run` does, on the same
VirtualClock as the demo), with the virtual radio
and a real loopback inbox in this test process. The inbox's clock follows the same pace
from the moment the daemon says READY, so signature time stamps check as in real life.
systemd's notify socket is a real datagram socket bound here.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from portwatch.alerts.signing import parse_secret
from portwatch.log.store import Store
from portwatch.sim.inbox import InboxStore, Message, make_app

from .daemon_process import Notifications, wait_for

SPEED = 60.0  # one simulated minute (one reading of the virtual wearable) per real second
SECRET = "whsec_" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
PLACED = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
STOP_WITHIN_S = 10.0  # issue 7: SIGTERM stops cleanly within 10 s


class PacedClock:
    """The test inbox's clock: simulated time from the daemon's READY, at the same pace."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.began: float | None = None

    def now(self) -> datetime:
        if self.began is None:
            return self.start
        return self.start + timedelta(seconds=(time.perf_counter() - self.began) * SPEED)

    def monotonic(self) -> float:
        return time.perf_counter()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / SPEED)


@dataclass
class Inbox:
    store: InboxStore
    clock: PacedClock
    url: str = ""
    received: list[tuple[str, bool]] = field(default_factory=list)

    def add(self, message: Message, received_at: datetime) -> bool:
        stored = self.store.add(message, received_at)
        self.received.append((message.webhook_id, stored))
        return stored

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


@pytest.fixture
async def inbox(tmp_path: Path) -> AsyncIterator[Inbox]:
    box = Inbox(InboxStore(tmp_path / "inbox.db"), PacedClock(PLACED))
    runner = web.AppRunner(make_app(parse_secret(SECRET), box, box.clock))  # type: ignore[arg-type]
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    box.url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhook"
    yield box
    await runner.cleanup()
    box.store.close()


def _config(tmp_path: Path, inbox_url: str) -> Path:
    secret = tmp_path / "clinic-secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    config = tmp_path / "portwatch.toml"
    config.write_text(
        f"""
[patient]
reference = "Patient/subprocess"
placement = "{PLACED.isoformat()}"

[bluetooth]
backend = "virtual"

[clinic]
url = "{inbox_url}"
recipient = "Organization/test-clinic"
secret_file = "{secret}"
heartbeat_every = "15m"

[store]
state_directory = "{tmp_path / "state"}"
"""
    )
    return config


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    with Store.open_reader(db) as store:
        return store.reading_count()


async def _run_until_stopped(
    config: Path, notify: Notifications, inbox: Inbox, start: datetime, heartbeats: int
) -> tuple[int, str]:
    """Start `portwatch run`, wait for READY and a heartbeat in the inbox, SIGTERM it."""
    env = {**os.environ, "NOTIFY_SOCKET": notify.sock.getsockname()}
    readies, stoppings = notify.count("READY=1"), notify.count("STOPPING=1")
    inbox.clock.start, inbox.clock.began = start, None
    command = [sys.executable, "-m", "portwatch.sim.run", "-v", "--config", str(config)]
    command += ["--virtual-clock", start.isoformat(), "--speed", str(SPEED)]
    log = config.parent / f"stderr-{start:%H%M}.txt"
    with log.open("w") as stderr:
        process = await asyncio.create_subprocess_exec(*command, env=env, stderr=stderr)
        try:
            exited = asyncio.ensure_future(process.wait())
            await wait_for(lambda: notify.count("READY=1") > readies or exited.done(), 60)
            assert not exited.done(), f"exit status {process.returncode}: {log.read_text()}"
            inbox.clock.began = time.perf_counter()
            stored = lambda: sum(1 for _, ok in inbox.received if ok)  # noqa: E731
            await wait_for(lambda: stored() >= heartbeats, 60)
            process.send_signal(signal.SIGTERM)
            began = time.perf_counter()
            rc = await asyncio.wait_for(process.wait(), STOP_WITHIN_S + 5)
            assert time.perf_counter() - began < STOP_WITHIN_S
            assert notify.count("STOPPING=1") == stoppings + 1
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    return rc, log.read_text()


def _stopped_counts(stderr: str) -> tuple[int, int]:
    match = re.search(r"stopped: (\d+) readings received, (\d+) written", stderr)
    assert match, stderr[-2000:]
    return int(match[1]), int(match[2])


async def test_run_loses_and_repeats_nothing_when_sigtermed_and_restarted(
    tmp_path: Path, inbox: Inbox
) -> None:
    """SIGTERM in the middle, then a restart: every reading logged once, no alert twice."""
    config = _config(tmp_path, inbox.url)
    db = tmp_path / "state" / "portwatch.db"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "notify"))
        sock.setblocking(False)
        notify = Notifications(sock)
        # Each run lasts until a heartbeat (every 15 simulated minutes) reaches the inbox.
        rc1, err1 = await _run_until_stopped(config, notify, inbox, PLACED, 1)
        with Store.open_reader(db) as store:
            latest = store.latest_reading()
        assert latest is not None
        rc2, err2 = await _run_until_stopped(
            config, notify, inbox, latest.reading.time + timedelta(minutes=1), 2
        )
        await notify.close()
    received1, written1 = _stopped_counts(err1)
    received2, written2 = _stopped_counts(err2)
    assert (rc1, rc2) == (0, 0)
    assert (received1, received2) == (written1, written2)
    assert _count(db) == written1 + written2
    with Store.open_reader(db) as store:
        readings = store.readings(PLACED - timedelta(days=1), PLACED + timedelta(days=1))
        outbox = store.outbox_all()
    assert len({(r.reading.device, r.reading.time) for r in readings}) == len(readings)
    delivered = [row.id for row in outbox if row.status == "delivered"]
    assert delivered, "the heartbeats reached the inbox"
    assert [ident for ident, stored in inbox.received if not stored] == []
