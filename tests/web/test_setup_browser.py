"""Issue 19 end to end: `portwatch setup` prepares a root, `portwatch run` serves the page from
it, and a phone-sized Chromium opens the one-time link, adds a hand reading through the
form and sees the fever rule take it.

Every part is the real one as separate processes (setup, the service on the virtual radio
and the real clock, Chromium over the DevTools protocol). With ``PW_SHOTS=DIR`` the
screenshots and the setup's QR code are also kept in DIR.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from .browser import colour_count, needs_chromium
from .cdp import Cdp

pytestmark = needs_chromium

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPOT = "D0:00:00:00:00:01"
READY_TIMEOUT_S = 60.0  # the service's start (log, rule, radio) on a busy machine
STOP_TIMEOUT_S = 15.0  # the unit's TimeoutStopSec=10, and some


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    base: str  # the page, http://127.0.0.1:PORT
    link: str  # the one-time link setup printed
    token: str
    qr: Path


def _env(root: Path, state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTWATCH_")}
    env["CREDENTIALS_DIRECTORY"] = str(root / "etc/portwatch/credentials")
    env["PORTWATCH_STORE__STATE_DIRECTORY"] = str(state)  # what StateDirectory= would be
    return env


async def _wait_for_page(base: str, service: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(READY_TIMEOUT_S), aiohttp.ClientSession() as session:
        while service.returncode is None:
            try:
                async with session.get(f"{base}/", allow_redirects=False) as answer:
                    if answer.status == 401:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.2)  # waiting for another process to listen, not for time
    raise AssertionError(f"portwatch run ended with {service.returncode} before serving")


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    root, port = tmp_path / "root", _free_port()
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    # fmt: off
    setup = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable, "-m", "portwatch", "setup", "--non-interactive",
            "--root", str(root), "--qr-dir", str(tmp_path / "qr"),
            "--patient", "Patient/4711", "--timezone", "Europe/Berlin",
            "--clinic-url", "https://clinic.test/alerts", "--clinic-recipient", "Organization/c1",
            "--clinic-secret-file", str(secret), "--web-address", f"127.0.0.1:{port}",
            "--virtual", "--thermometer", SPOT, "--seconds", "2", "--no-send", "--no-enable",
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )
    # fmt: on
    assert setup.returncode == 0, setup.stdout + setup.stderr
    link = next(line for line in setup.stdout.splitlines() if "/login?code=" in line)
    state = root / "var/lib/portwatch"
    journal = (tmp_path / "service.log").open("wb")  # the service's stderr, closed below
    service = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "portwatch", "run", "--config",
        str(root / "etc/portwatch/portwatch.toml"),
        env=_env(root, state), stdout=asyncio.subprocess.DEVNULL,
        stderr=journal,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_for_page(base, service)
        token = (root / "etc/portwatch/credentials/web-token").read_text().strip()
        yield Served(base, link, token, tmp_path / "qr/portwatch-phone-link.png")
    finally:
        if service.returncode is None:
            service.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(STOP_TIMEOUT_S):
                    await service.wait()
            except TimeoutError:
                service.kill()
                await service.wait()
        journal.close()


def _keep(path: Path, name: str) -> None:
    shots = os.environ.get("PW_SHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(shots) / name)


async def test_phone_redeems_link_adds_hand_reading_and_sees_rule_take_it(
    served: Served, tmp_path: Path
) -> None:
    assert served.token not in served.link
    async with Cdp.launch(tmp_path / "phone") as phone:
        await phone.phone()
        await phone.navigate(served.link)
        assert await phone.url() == f"{served.base}/"
        history = await phone.history()
        assert not any(served.token in url for url in history)
        assert not any("token" in url for url in history)
        assert await phone.evaluate("document.cookie") == ""  # HttpOnly: out of scripts' reach

        await phone.navigate(f"{served.base}/record")
        shot = tmp_path / "record-360.png"
        width, _, colours = colour_count(await phone.screenshot(shot))
        assert width == 360
        assert colours > 5
        _keep(shot, "page-forms-360.png")
        fits = "document.documentElement.scrollWidth <= window.innerWidth"
        assert await phone.evaluate(fits) is True  # nothing wider than the phone

        await phone.submit('form[action="/reading"]', {"temperature": "39.2"})
        assert await phone.url() == f"{served.base}/record?done=reading", await phone.text()
        assert "Recorded." in await phone.text()
        _keep(await _shot(phone, tmp_path / "recorded.png"), "page-recorded-360.png")

        await phone.navigate(f"{served.base}/log")
        log = await phone.text()
        assert "39.2 °C" in log
        assert "Elevated" in log  # the fever rule had it: its decision is in the log
        _keep(await _shot(phone, tmp_path / "log.png"), "page-log-360.png")
        assert not any(served.token in url for url in await phone.history())

    async with Cdp.launch(tmp_path / "second-phone") as second:
        await second.phone()
        await second.navigate(served.link)
        refused = await second.text()
        assert "used already" in refused
        assert "portwatch web link" in refused
        _keep(await _shot(second, tmp_path / "used.png"), "page-link-used-360.png")
    _keep(served.qr, "setup-qr.png")


async def _shot(cdp: Cdp, path: Path) -> Path:
    await cdp.screenshot(path)
    return path
