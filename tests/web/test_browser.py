"""End to end: headless Chromium against the real app on loopback (issue 8).

The browser is a real system edge (Debian's chromium, installed by tests/system-deps);
the app, the log and the pages are ours and real. Chromium runs once per step with
--dump-dom or --screenshot, sharing one profile so its cookie jar carries the token
cookie from the first step to the next, as a phone's browser would.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from portwatch.clock import VirtualClock
from portwatch.web.app import WebSettings, make_app
from portwatch.web.source import ClinicTarget
from portwatch.web.view import DisplaySettings

from .conftest import TOKEN

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
BROWSER_TIMEOUT_S = 60.0  # a cold Chromium start on a busy 2-core machine takes seconds

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="chromium missing: run tests/system-deps"
)


@pytest.fixture
async def base_url(
    db_path: Path, display: DisplaySettings, target: ClinicTarget, clock: VirtualClock
) -> AsyncIterator[str]:
    app = make_app(db_path, WebSettings(token=TOKEN), display, target, clock)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def _chromium(profile: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        *FLAGS,
        f"--user-data-dir={profile}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(BROWSER_TIMEOUT_S):
            stdout, _ = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return stdout.decode("utf-8", "replace")


def _png_pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered rows of an 8-bit RGB/RGBA PNG (no image library)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, header = 8, b"", b""
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        data = png[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = data
        elif kind == b"IDAT":
            idat += data
        offset += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8
    assert colour in (2, 6)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        filter_type = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            up_left = previous[i - bpp] if i >= bpp else 0
            if filter_type == 1:
                line[i] = (line[i] + left) & 0xFF
            elif filter_type == 2:
                line[i] = (line[i] + up) & 0xFF
            elif filter_type == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif filter_type == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows


async def test_browser_shows_chart_after_token_link_then_keeps_cookie_when_opened_again(
    base_url: str, tmp_path: Path
) -> None:
    """A phone opens the link once, sees the chart, and later needs no token."""
    profile = tmp_path / "profile"
    dom = await _chromium(profile, "--dump-dom", f"{base_url}/chart?token={TOKEN}")
    assert "<svg" in dom
    assert 'class="threshold"' in dom
    assert 'data-type="fever.confirmed"' in dom

    again = await _chromium(profile, "--dump-dom", f"{base_url}/chart?day=2")
    assert 'data-type="fever.confirmed"' in again


async def test_browser_sees_nothing_when_no_token(base_url: str, tmp_path: Path) -> None:
    """Without the token a browser gets an empty 401: no page, no data."""
    dom = await _chromium(tmp_path / "profile", "--dump-dom", f"{base_url}/chart")
    assert "<svg" not in dom
    assert "portwatch" not in dom


async def test_browser_screenshot_of_chart_is_not_blank_when_rendered_at_phone_width(
    base_url: str, tmp_path: Path
) -> None:
    """The chart page actually paints at 360 px wide: many colours, not a blank page."""
    shot = tmp_path / "chart-360.png"
    await _chromium(
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=360,900",
        "--hide-scrollbars",
        f"{base_url}/chart?token={TOKEN}",
    )
    width, height, rows = _png_pixels(shot.read_bytes())
    assert (width, height) == (360, 900)
    colours = {
        row[i : i + 3]
        for row in rows
        for i in range(0, len(row), 3 if len(row) == width * 3 else 4)
    }
    assert len(colours) > 20


async def test_browser_prints_visit_summary_on_at_most_two_pages_when_saved_to_pdf(
    authed_summary: Path, tmp_path: Path
) -> None:
    """Issue 8: the visit summary prints cleanly to one or two pages from a browser."""
    pdf = tmp_path / "summary.pdf"
    await _chromium(
        tmp_path / "profile",
        "--no-pdf-header-footer",
        f"--print-to-pdf={pdf}",
        authed_summary.as_uri(),
    )
    pages = re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes())
    assert 1 <= len(pages) <= 2


@pytest.fixture
def authed_summary(db_path: Path, display: DisplaySettings, tmp_path: Path) -> Path:
    """The summary as `portwatch summary --out` writes it, for the browser to print."""
    from portwatch.store import Store
    from portwatch.web.pages import summary_page
    from portwatch.web.source import summary_data

    from .conftest import NOW

    with Store.open_reader(db_path) as store:
        page = summary_page(summary_data(store, display, NOW), standalone=True)
    path = tmp_path / "summary.html"
    path.write_text(page, encoding="utf-8")
    return path
