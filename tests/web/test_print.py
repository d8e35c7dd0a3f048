"""The visit summary prints on at most two pages, A4 and Letter (issue 18), in Chromium.

The demo's ten days once printed as 44 pages (960 heartbeats listed as alerts); a spot
thermometer's course listed every night between readings as a gap. Both courses are
written into a real log (tests/web/courses.py), rendered by the real summary page, and
printed to PDF by headless Chromium; the PDF's page objects are counted.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from portwatch.log.store import Store
from portwatch.sim.scenario import COURSE
from portwatch.web.pages import summary_page
from portwatch.web.source import summary_data
from portwatch.web.view import DisplaySettings

from .browser import chromium, needs_chromium
from .courses import DEVICE, PATIENT, PLACEMENT, SPOT_COURSE, write_course

pytestmark = needs_chromium

MAX_PAGES = 2
# A PDF page object: "/Type /Page", not the "/Type /Pages" tree node above them.
PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![A-Za-z])")


def pdf_pages(pdf: bytes) -> int:
    assert pdf.startswith(b"%PDF-")
    return len(PAGE_OBJECT.findall(pdf))


async def printed_pages(page: str, size: str, where: Path) -> int:
    """Print `page` on paper of `size` ("A4", "letter") with Chromium; the page count."""
    assert "@page{size:auto" in page
    html = where / f"summary-{size}.html"
    html.write_text(page.replace("@page{size:auto", f"@page{{size:{size}"), encoding="utf-8")
    pdf = where / f"summary-{size}.pdf"
    await chromium(
        where / "profile", f"--print-to-pdf={pdf}", "--no-pdf-header-footer", html.as_uri()
    )
    return pdf_pages(pdf.read_bytes())


@pytest.mark.parametrize("course", ["wearable", "spot"])
async def test_visit_summary_prints_on_two_pages_at_most_when_a_whole_course_is_logged(
    course: str, tmp_path: Path
) -> None:
    """Ten days of the demo's wearable (with its heartbeats) and of a spot thermometer."""
    db = tmp_path / "portwatch.db"
    end = write_course(db, COURSE if course == "wearable" else SPOT_COURSE)
    display = DisplaySettings(placement=PLACEMENT, patient=PATIENT, thermometer=DEVICE)
    with Store.open_reader(db) as store:
        data = summary_data(store, display, end)
    page = summary_page(data, standalone=True)
    assert "heartbeat" not in page.lower()
    if course == "spot":
        assert data.gaps == []  # nights between spot readings are not gaps
        assert "No gap longer than 1 d" in page
        assert "1 d 0 h" not in page
    for size in ("A4", "letter"):
        pages = await printed_pages(page, size, tmp_path)
        assert 1 <= pages <= MAX_PAGES, f"{course} on {size}: {pages} pages"
