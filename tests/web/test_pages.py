"""The pages as HTML: content, escaping, the inline style the CSP allows, and print rules."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from portwatch.alerts.sentences import duration_text
from portwatch.model import Symptom
from portwatch.sim.sample import sample_chart
from portwatch.web import pages
from portwatch.web.text import SYMPTOM_LABEL
from portwatch.web.view import (
    AlertRow,
    DisplaySettings,
    EpisodeState,
    LogLine,
    Pause,
    StatusData,
    SummaryData,
    SymptomReport,
    episodes_from,
)

START = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
SETTINGS = DisplaySettings(placement=START, patient="<b>pat-1</b>")


def _summary() -> SummaryData:
    chart = sample_chart(START)
    delivered = AlertRow(
        "a1",
        "clinic",
        "fever.confirmed",
        "urgent",
        START + timedelta(days=5, hours=13),
        "delivered",
        1,
        200,
        None,
        START + timedelta(days=5, hours=13, minutes=1),
        summary="Fever confirmed: 101.3 °F then 101.7 °F",
    )
    return SummaryData(
        now=START + timedelta(days=8),
        settings=SETTINGS,
        chart=chart,
        episodes=episodes_from(chart.decisions),
        decisions=chart.decisions,
        symptoms=(SymptomReport(START + timedelta(days=2), ("redness",), "a bit red"),),
        alerts=(delivered,),
        gaps=chart.gaps,
        devices=(("AA:BB:CC:DD:EE:FF", "mouth"),),
        reading_count=691_200,
    )


def _every_page() -> list[str]:
    status = StatusData(
        START + timedelta(days=1), SETTINGS, None, None, None, EpisodeState.NONE, None, None, ()
    )
    return [
        pages.now_page(status),
        pages.chart_page(sample_chart(START), [("whole period", "/chart")], SETTINGS, "all"),
        pages.log_page([], SETTINGS, "log"),
        pages.alerts_page([], SETTINGS),
        pages.report_page(SETTINGS),
        pages.summary_page(_summary()),
    ]


def test_every_page_style_matches_csp_hash_when_rendered() -> None:
    """The CSP allows the inline stylesheet only by hash: a drift would unstyle every page."""
    for page in _every_page():
        styles = re.findall(r"<style>(.*?)</style>", page, flags=re.S)
        assert len(styles) == 1
        digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
        assert f"'sha256-{digest}'" == pages.STYLE_CSP_SOURCE


def test_every_page_has_no_script_and_phone_viewport_when_rendered() -> None:
    """No JavaScript at all (strict CSP), and a viewport so a 360 px phone lays it out."""
    for page in _every_page():
        assert "<script" not in page
        assert 'name="viewport" content="width=device-width' in page


def test_pages_escape_patient_label_when_it_contains_markup() -> None:
    """Text from settings or the log is never markup."""
    for page in _every_page():
        assert "<b>pat-1</b>" not in page
        assert "&lt;b&gt;pat-1&lt;/b&gt;" in page


def test_now_page_refreshes_itself_when_served() -> None:
    """The 'now' page is left open on a phone; it must stay current without a script."""
    assert '<meta http-equiv="refresh" content="60">' in _every_page()[0]


def test_report_page_offers_every_symptom_when_rendered() -> None:
    """The form and `portwatch report` must offer the same symptoms (alerts.md list)."""
    assert set(SYMPTOM_LABEL) == set(Symptom)
    page = pages.report_page(SETTINGS)
    offered = re.findall(r'name="symptom" value="([a-z]+)"', page)
    assert offered == [s.value for s in Symptom]


def test_log_page_marks_elevated_lines_when_present() -> None:
    """An elevated reading must stand out in the log table."""
    lines = [
        LogLine(START, "reading", "98.6 °F spot", elevated=False),
        LogLine(START + timedelta(hours=1), "reading", "101.4 °F spot", elevated=True),
    ]
    page = pages.log_page(lines, SETTINGS, "log")
    assert page.count("class=elevated") == 1
    assert "elevated 101.4 °F spot" in page


def test_log_page_does_not_call_a_decision_elevated_when_it_is_red() -> None:
    """A red decision says what it is; "elevated Fever confirmed" read as nonsense."""
    lines = [LogLine(START, "decision", "Fever confirmed: …", elevated=True)]
    page = pages.log_page(lines, SETTINGS, "log")
    assert "class=elevated" in page
    assert '<span class="what">decision</span> Fever confirmed: …' in page


def test_alerts_page_flags_undelivered_when_clinic_has_not_answered() -> None:
    """The caregiver must see an alert that has not reached the clinic."""
    row = AlertRow("a", "clinic", "symptoms", "urgent", START, "pending", 4, 503, None, None)
    page = pages.alerts_page([row], SETTINGS)
    assert "1 alert not yet received by the clinic" in page
    assert "pending, 4 attempts, last answer 503" in page


def test_summary_has_every_section_and_print_rules_when_rendered() -> None:
    """The clinic's check needs each section, and the page must print on A4/Letter."""
    page = pages.summary_page(_summary(), standalone=True)
    for heading in (
        "Temperature",
        "Fever episodes",
        "Decisions of the fever rule",
        "Symptom reports",
        "Alerts to the clinic",
        "Gaps in monitoring",
        "Settings in force",
    ):
        assert f"<h2>{heading}</h2>" in page
    assert "@media print" in page
    assert "@page" in page
    assert "<nav>" not in page
    assert "AA:BB:CC:DD:EE:FF (mouth)" in page
    assert "received Mon 23 Nov 22:01 UTC" in page
    assert "691,200" in page


def test_log_page_links_the_other_days_above_the_table() -> None:
    """A phone has no address bar to type ?day=4: the days are links, before a long day."""
    lines = [LogLine(START, "reading", "98.6 °F spot")]
    days = [("Last 24 hours", "/log"), ("Day 1", "/log?day=1"), ("Day 2", "/log?day=2")]
    page = pages.log_page(lines, SETTINGS, "Day 1", days)
    assert page.index('<a href="/log?day=2">Day 2</a>') < page.index("<table>")


def test_summary_says_a_gap_was_a_pause_and_names_the_zone_once() -> None:
    """A shower under a pause is a silence, but no lost thermometer: the gap says so. A
    patient in UTC reads "UTC", not "UTC (UTC)"."""
    data = _summary()
    gap_start, gap_end = data.gaps[0]
    shower = Pause(gap_start + timedelta(minutes=10), gap_start + timedelta(minutes=50), "bath")
    chart = replace(data.chart, pauses=(*data.chart.pauses, shower))
    page = pages.summary_page(replace(data, chart=chart))
    assert f"<td>{duration_text(gap_end - gap_start)} (paused: bath)</td>" in page
    assert "(paused: shower)" not in page  # that pause is not within a gap
    assert "<dt>Times</dt><dd>UTC</dd>" in page
