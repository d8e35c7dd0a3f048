"""Issue 8's end-to-end test: headless Chromium against the running daemon on the virtual radio.

Everything of ours is real and wired as `portwatch run` wires it (the Sandbox: the Bumble
virtual radio with a CORE wearable, the link, the log in SQLite, the fever rule, the
caregiver page on loopback); the browser is the system edge (Debian's chromium). Simulated
hours pass on the VirtualClock, then the page is opened through its token link.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from portwatch.model import DecisionType
from portwatch.sim.sandbox import Sandbox
from portwatch.sim.scenario import DEFAULT_PLACEMENT, FEVER

from .browser import chromium, colour_count, needs_chromium

pytestmark = needs_chromium

# From an hour before the scripted fever rises until an hour into its plateau: four
# simulated hours that hold normal readings and the first elevated one.
START = DEFAULT_PLACEMENT + FEVER.rise_start - timedelta(hours=1)
UNTIL = DEFAULT_PLACEMENT + FEVER.plateau + timedelta(hours=1)
HTTP_TIMEOUT_S = 10.0  # loopback answers in milliseconds; this only bounds a hang


@pytest.fixture
def _quiet_radio() -> Iterator[None]:
    """Bumble logs every packet at DEBUG; hours of them would only slow caplog down."""
    logger = logging.getLogger("bumble")
    level = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(level)


@pytest.fixture
async def sandbox(_quiet_radio: None) -> AsyncIterator[Sandbox]:
    async with Sandbox(page=True, start=START) as running:
        await running.play(speed=None, until=UNTIL)
        yield running


async def _status(url: str) -> tuple[int, bytes]:
    """The status and body a client without cookie gets for `url`, redirects not followed."""
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url, allow_redirects=False) as response,
    ):
        return response.status, await response.read()


async def test_daemon_page_shows_chart_with_elevated_mark_when_opened_through_token_link(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """The caregiver's whole path on the running daemon; without the token, an empty 401."""
    assert DecisionType.ELEVATED_FIRST in {d.type for d in sandbox.decisions}
    link = sandbox.summary().caregiver_url
    assert link is not None
    base = link.split("?", 1)[0].removesuffix("/login")
    profile = tmp_path / "profile"

    assert await _status(f"{base}/chart") == (401, b"")
    assert await _status(f"{base}/chart?token=wrong-token-0123456789") == (401, b"")
    assert "token" not in link  # issue 19: a one-time code, never the token, in the URL

    home = await chromium(profile, "--dump-dom", link)
    assert 'href="/chart"' in home

    dom = await chromium(profile, "--dump-dom", f"{base}/chart")
    assert "<svg" in dom
    assert 'class="threshold"' in dom
    assert 'data-type="elevated.first"' in dom

    shot = tmp_path / "chart-360.png"
    await chromium(
        profile,
        f"--screenshot={shot}",
        "--window-size=360,900",
        "--hide-scrollbars",
        f"{base}/chart",
    )
    width, height, colours = colour_count(shot.read_bytes())
    assert (width, height) == (360, 900)
    assert colours > 20
