"""A spot thermometer's household, three simulated days of the daemon as a process: the
caregiver hears no "thermometer silent" and no "back" (issue 19).

`python -m portwatch.sim.run --scenario spot-two-fevers --speed 0` (the test entry point
that wires the daemon exactly as `portwatch run`) plays the virtual spot thermometer's
course: a temperature at 08:00, 13:00, 18:00 and 22:00 each day, no fever before day 4.
The caregiver's notification URL is a real loopback HTTP receiver in this process (as
tests/daemon/test_notify_daemon.py's); the clinic is the loopback inbox of
tests/pipeline/test_run_course.py, on the daemon's simulated time as its log shows it.
Held to the wearable's 30 minutes, the watch said "silent" and "back" about every gap
between two readings: 8 notices a day.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web

from portwatch.alerts.notices import NOTICES, NoticeKind
from portwatch.log.store import Store
from portwatch.model import MANUAL_DEVICE, Reading, ReadingKind, Unit
from portwatch.sim.scenario import DEFAULT_PLACEMENT, SPOT_TWO_FEVERS, spot_times

from .daemon_process import Notifications, wait_for
from .test_run_course import RUN_TIMEOUT_S, SECRET, STOP_WITHIN_S, _inbox

PLACED = DEFAULT_PLACEMENT
# The daemon starts a minute before the placement's 08:00 reading, the course's first, with
# the temperature the caregiver took by hand at setup in the log. (A watch that has heard
# no reading yet holds the wearable's 30 min, the safe side; flat out, the virtual link's
# first connection can take simulated minutes.)
START = PLACED - timedelta(minutes=1)
BY_HAND = PLACED - timedelta(minutes=5)
UNTIL = PLACED + timedelta(days=3, hours=1)  # day 4, 09:00: before its 13:00 fever reading
WATCH_TITLES = (
    NOTICES[NoticeKind.STALE].title.split("{")[0],  # "No temperature for {silent}"
    NOTICES[NoticeKind.STALE_PENDING].title,
    NOTICES[NoticeKind.BACK].title,
)
pytestmark = pytest.mark.timeout(RUN_TIMEOUT_S + 60)


@asynccontextmanager
async def _caregiver(titles: list[str]) -> AsyncIterator[str]:
    """A notification URL on loopback (ntfy's form): the Title of each notice it takes."""

    async def take(request: web.Request) -> web.Response:
        await request.read()
        titles.append(request.headers.get("Title", ""))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/", take)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


def _config(tmp: Path, clinic_url: str, caregiver_url: str) -> Path:
    secret = tmp / "clinic-secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    config = tmp / "portwatch.toml"
    config.write_text(
        f"""
[patient]
reference = "Patient/spot"
placement = "{PLACED.isoformat()}"
timezone = "UTC"

[bluetooth]
backend = "virtual"

[clinic]
url = "{clinic_url}"
recipient = "Organization/test-clinic"
secret_file = "{secret}"
heartbeat_every = "1h"

[notify]
caregiver_url = "{caregiver_url}"

[store]
state_directory = "{tmp / "state"}"
"""
    )
    return config


def _caregiver_pending(db: Path) -> bool:
    with Store.open_reader(db) as log:
        return any(row.channel == "notify" for row in log.outbox_all("pending"))


def _taken_by_hand(db: Path) -> None:
    """The setup's first temperature, as `portwatch add 36.8C` logs it."""
    db.parent.mkdir(parents=True, exist_ok=True)
    value = Decimal("36.8")
    reading = Reading(MANUAL_DEVICE, ReadingKind.SPOT, value, Unit.CELSIUS, 36.8, BY_HAND, BY_HAND)
    with Store.open(db) as log:
        log.add_readings([reading])


async def _run(config: Path, notify: Notifications) -> int:
    """The daemon from the placement, held at UNTIL, SIGTERMed once its notices are out."""
    env = {**os.environ, "NOTIFY_SOCKET": notify.sock.getsockname()}
    command = [sys.executable, "-m", "portwatch.sim.run", "-v", "--config", str(config)]
    command += ["--virtual-clock", START.isoformat(), "--speed", "0"]
    command += ["--until", UNTIL.isoformat(), "--scenario", "spot-two-fevers"]
    log = config.parent / "stderr.txt"
    db = config.parent / "state" / "portwatch.db"
    with log.open("w") as stderr:
        process = await asyncio.create_subprocess_exec(*command, env=env, stderr=stderr)
        try:
            exited = asyncio.ensure_future(process.wait())
            holds = f"simulated time holds at {UNTIL.isoformat()}"
            await wait_for(lambda: holds in log.read_text() or exited.done(), RUN_TIMEOUT_S)
            assert not exited.done(), f"exit status {process.returncode}: {log.read_text()}"
            await wait_for(lambda: not _caregiver_pending(db), 20)
            process.send_signal(signal.SIGTERM)
            return await asyncio.wait_for(process.wait(), STOP_WITHIN_S + 5)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def test_spot_household_hears_no_silence_when_temperatures_are_taken_four_times_a_day(
    tmp_path: Path,
) -> None:
    """Three days, 13 spot readings: the caregiver gets the daily summaries and care
    reminders, and not one "silent", "recheck overdue" or "back"."""
    db = tmp_path / "state" / "portwatch.db"
    titles: list[str] = []
    async with _inbox(tmp_path, db) as clinic, _caregiver(titles) as caregiver_url:
        config = _config(tmp_path, clinic.url, caregiver_url)
        _taken_by_hand(db)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(str(tmp_path / "notify"))
            sock.setblocking(False)
            notify = Notifications(sock)
            try:
                status = await _run(config, notify)
            finally:
                await notify.close()
    assert status == 0
    with Store.open_reader(db) as log:
        readings = log.readings(PLACED - timedelta(days=1), UNTIL)
    expected = spot_times(SPOT_TWO_FEVERS, PLACED, START, UNTIL)
    # The course was played whole. (Its times are the thermometer's, or the arrival's when
    # the link judged the thermometer's clock off: flat out, minutes can pass meanwhile.)
    assert len(readings) == 1 + len(expected) == 14
    assert {r.reading.kind for r in readings} == {ReadingKind.SPOT}
    summaries = [t for t in titles if t.startswith("Day ")]  # "Day {day}: {status}"
    assert len(summaries) == 3, titles  # the receiver heard the daemon: 20:00 of days 1-3
    assert [t for t in titles if t.startswith(WATCH_TITLES)] == []
