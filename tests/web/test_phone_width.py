"""Every page of the caregiver site fits a 360 px phone: nothing scrolls sideways.

A phone-sized Chromium (360 x 740, mobile viewport rules, over the DevTools protocol)
opens every page the site has, with realistic data (:mod:`.phone_data`: the demo's
wearable course or the spot thermometer's, long device names, long notes, a refused
clinic alert, notices that were never sent), and checks that the document is no wider
than the screen. With ``PW_SHOTS=DIR`` each page's screenshot is also kept in DIR, to be
looked at.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from portwatch.clock import VirtualClock
from portwatch.sim.scenario import COURSE, SPOT_TWO_FEVERS
from portwatch.web.app import WebSettings, make_app
from portwatch.web.login import CodeStore
from portwatch.web.source import ClinicTarget

from .browser import needs_chromium
from .cdp import Cdp
from .conftest import TOKEN
from .phone_data import display, write_phone_log

pytestmark = needs_chromium

WIDTH, HEIGHT = 360, 740
FITS = "document.documentElement.scrollWidth"
# A box of the page that scrolls sideways on its own (a table in an overflow-x:auto box)
# makes the page as hard to read as a wide page: the entry column slides under the thumb.
SLIDING = """[...document.querySelectorAll('body *')].filter(e => {
  const x = getComputedStyle(e).overflowX;
  return (x === 'auto' || x === 'scroll') && e.scrollWidth > e.clientWidth;
}).map(e => `${e.tagName.toLowerCase()}.${e.className} ${e.scrollWidth}>${e.clientWidth}`)"""

# Every page behind the cookie, by path (the forms' outcomes and refusals included).
PAGES = (
    "/",
    "/chart",
    "/chart?day=4",
    "/log",
    "/log?day=4",
    "/log?day=5&events=0",
    "/alerts",
    "/summary",
    "/report",
    "/report?sent=1",
    "/record",
    "/record?done=reading",
    "/record?done=pause",
)


@dataclass
class Site:
    base: str
    db: Path
    now: datetime


@pytest.fixture(params=["wearable", "spot"])
async def site(
    request: pytest.FixtureRequest, tmp_path: Path, target: ClinicTarget
) -> AsyncIterator[Site]:
    course = COURSE if request.param == "wearable" else SPOT_TWO_FEVERS
    db = tmp_path / "state" / "portwatch.db"
    now = write_phone_log(db, course)
    app = make_app(db, WebSettings(token=TOKEN), display(), target, VirtualClock(now))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]
        yield Site(f"http://127.0.0.1:{port}", db, now)
    finally:
        await runner.cleanup()


async def _look(phone: Cdp, name: str, tmp_path: Path, label: str) -> tuple[int, list[str]]:
    """The page's width in CSS pixels and its boxes that scroll sideways; its screenshot is
    kept under PW_SHOTS when asked."""
    width = int(await phone.evaluate(FITS))
    boxes = [str(box) for box in await phone.evaluate(SLIDING)]
    shots = os.environ.get("PW_SHOTS")
    if shots:
        shot = tmp_path / "shot.png"
        await phone.screenshot(shot)
        await asyncio.to_thread(_keep, shot, Path(shots) / f"{label}-{name}.png")
    return width, boxes


def _keep(shot: Path, kept: Path) -> None:
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, kept)


def _name(path: str) -> str:
    return path.strip("/").replace("?", "-").replace("=", "").replace("&", "-") or "now"


async def test_every_page_fits_a_360_px_phone_without_sideways_scrolling(
    site: Site, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    label = request.node.callspec.id
    codes = CodeStore(site.db.parent)
    wide: dict[str, tuple[int, list[str]]] = {}
    async with Cdp.launch(tmp_path / "phone") as phone:
        await phone.phone(WIDTH, HEIGHT)
        # The login refusals first: with the cookie, /login just goes on to the page.
        used = codes.issue(site.now)
        assert codes.redeem(used, site.now).value == "ok"
        expired = codes.issue(site.now - timedelta(hours=3))
        refusals = {
            "login-unknown": "/login?code=not-a-code-this-box-gave-out",
            "login-used": f"/login?code={used}",
            "login-expired": f"/login?code={expired}",
        }
        for name, path in refusals.items():
            await phone.navigate(site.base + path)
            assert "portwatch web link" in await phone.text(), name
            wide[name] = await _look(phone, name, tmp_path, label)

        await phone.navigate(f"{site.base}/login?code={codes.issue(site.now)}")
        assert await phone.url() == f"{site.base}/"
        for path in PAGES:
            await phone.navigate(site.base + path)
            assert "portwatch" in await phone.text(), path
            wide[path] = await _look(phone, _name(path), tmp_path, label)

        # The forms' refusals: what a caregiver sees after a typing error.
        await phone.navigate(f"{site.base}/record")
        await phone.submit('form[action="/reading"]', {"temperature": "38,4"})
        assert "write a dot" in await phone.text()
        wide["/reading refused"] = await _look(phone, "reading-refused", tmp_path, label)
        await phone.navigate(f"{site.base}/report")
        await phone.submit('form[action="/report"]', {"note": "x"})
        assert "tick at least one symptom" in await phone.text()
        wide["/report refused"] = await _look(phone, "report-refused", tmp_path, label)

    too_wide = {page: width for page, (width, _) in wide.items() if width > WIDTH}
    sliding = {page: boxes for page, (_, boxes) in wide.items() if boxes}
    assert (too_wide, sliding) == ({}, {}), f"wider than {WIDTH} px: {too_wide}; sliding: {sliding}"
    assert len(wide) == len(PAGES) + len(refusals) + 2
