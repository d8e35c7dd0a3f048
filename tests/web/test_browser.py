"""End to end: headless Chromium against the real app on loopback (issue 8).

The browser is a real system edge (Debian's chromium, installed by tests/system-deps);
the app, the log and the pages are ours and real. Chromium runs once per step with
--dump-dom or --screenshot, sharing one profile so its cookie jar carries the token
cookie from the first step to the next, as a phone's browser would.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from portwatch.clock import VirtualClock
from portwatch.web.app import WebSettings, make_app
from portwatch.web.source import ClinicTarget
from portwatch.web.view import DisplaySettings

from .browser import chromium, colour_count, needs_chromium, png_pixels
from .conftest import TOKEN

pytestmark = needs_chromium


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


async def test_browser_shows_chart_after_token_link_then_keeps_cookie_when_opened_again(
    base_url: str, tmp_path: Path
) -> None:
    """A phone opens the link once, sees the chart, and later needs no token."""
    profile = tmp_path / "profile"
    dom = await chromium(profile, "--dump-dom", f"{base_url}/chart?token={TOKEN}")
    assert "<svg" in dom
    assert 'class="threshold"' in dom
    assert 'data-type="fever.confirmed"' in dom

    again = await chromium(profile, "--dump-dom", f"{base_url}/chart?day=2")
    assert 'data-type="fever.confirmed"' in again


async def test_browser_sees_nothing_when_no_token(base_url: str, tmp_path: Path) -> None:
    """Without the token a browser gets an empty 401: no page, no data."""
    dom = await chromium(tmp_path / "profile", "--dump-dom", f"{base_url}/chart")
    assert "<svg" not in dom
    assert "portwatch" not in dom


async def test_browser_screenshot_of_chart_is_not_blank_when_rendered_at_phone_width(
    base_url: str, tmp_path: Path
) -> None:
    """The chart page actually paints at 360 px wide: many colours, not a blank page."""
    shot = tmp_path / "chart-360.png"
    await chromium(
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=360,900",
        "--hide-scrollbars",
        f"{base_url}/chart?token={TOKEN}",
    )
    width, height, colours = colour_count(shot.read_bytes())
    assert (width, height) == (360, 900)
    assert colours > 20


async def test_browser_prints_visit_summary_on_at_most_two_pages_when_saved_to_pdf(
    authed_summary: Path, tmp_path: Path
) -> None:
    """Issue 8: the visit summary prints cleanly to one or two pages from a browser."""
    pdf = tmp_path / "summary.pdf"
    await chromium(
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
    from portwatch.log.store import Store
    from portwatch.web.pages import summary_page
    from portwatch.web.source import summary_data

    from .conftest import NOW

    with Store.open_reader(db_path) as store:
        page = summary_page(summary_data(store, display, NOW), standalone=True)
    path = tmp_path / "summary.html"
    path.write_text(page, encoding="utf-8")
    return path


NOW_STATE_COLOURS = {
    "normal": bytes.fromhex("2e7d32"),
    "elevated": bytes.fromhex("a85200"),
    "fever": bytes.fromhex("b00020"),
    "nodata": bytes.fromhex("616161"),
}


@pytest.mark.parametrize("state", sorted(NOW_STATE_COLOURS))
async def test_now_page_paints_the_state_colour_big_at_phone_width_without_scripts(
    state: str, tmp_path: Path
) -> None:
    """Issue 18: the "now" page is one big value in the state's colour, at 360 px, no
    script; a wide band of that colour must be on screen, nothing wider than the phone."""
    from portwatch.web.pages import now_page

    from .test_now import now_status

    page = now_page(now_status(state))
    assert "<script" not in page
    html = tmp_path / f"now-{state}.html"
    html.write_text(page, encoding="utf-8")
    shot = tmp_path / f"now-{state}.png"
    await chromium(
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=360,800",
        "--hide-scrollbars",
        html.as_uri(),
    )
    width, _, rows = png_pixels(shot.read_bytes())
    assert width == 360
    step = 3 if len(rows[0]) == width * 3 else 4
    colour = NOW_STATE_COLOURS[state]
    painted = [
        sum(1 for x in range(width) if row[x * step : x * step + 3] == colour) for row in rows
    ]
    assert max(painted) > width * 0.8  # the panel spans the phone's width
    assert sum(1 for count in painted if count > width * 0.8) > 60  # and is tall
