"""The SVG chart: what a caregiver must be able to see on it (issue 8)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portwatch.model import Bucket, Decision, DecisionType, Observation, Unit, derived_id
from portwatch.sim.sample import sample_chart
from portwatch.web.chart import (
    HEIGHT,
    LABEL_CHAR_PX,
    MARGIN_RIGHT,
    NARROW_HEIGHT,
    NARROW_WIDTH,
    WIDTH,
    ChartError,
    pause_label,
    render_svg,
)
from portwatch.web.view import ChartData, Pause, f_to_c, gaps_from_bands

SVG = "{http://www.w3.org/2000/svg}"
START = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _by_class(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}{tag}") if e.get("class") == cls]


def test_chart_draws_threshold_label_in_display_unit_when_unit_is_fahrenheit() -> None:
    """The caregiver compares the curve with the clinic's number, in the clinic's unit."""
    root = _parse(render_svg(sample_chart(START)))
    lines = _by_class(root, "line", "threshold")
    assert len(lines) == 1
    labels = [t.text for t in root.iter(f"{SVG}text") if t.text and "threshold" in t.text]
    assert labels == ["threshold 101.0 °F"]


def test_chart_threshold_label_in_celsius_when_unit_is_celsius() -> None:
    """A Celsius household sees 38.3 °C, not a converted Fahrenheit figure."""
    root = _parse(render_svg(replace(sample_chart(START), unit=Unit.CELSIUS)))
    labels = [t.text for t in root.iter(f"{SVG}text") if t.text and "threshold" in t.text]
    assert labels == ["threshold 38.3 °C"]


def test_chart_marks_only_elevated_observations_when_some_are_normal() -> None:
    """A red dot means elevated (fever-rule.md §3); a normal reading must not get one."""
    data = sample_chart(START)
    normal = Observation(START + timedelta(days=2), 37.0, Decimal("98.6"), Unit.FAHRENHEIT, "x")
    borderline = Observation(START + timedelta(days=3), 38.29, Decimal("38.3"), Unit.CELSIUS, "x")
    root = _parse(render_svg(replace(data, observations=(*data.observations, normal, borderline))))
    # two elevated in the sample, plus 38.3 °C which is elevated at 101.0 °F (§3)
    assert len(_by_class(root, "circle", "elevated")) == 3


def test_chart_marks_each_decision_except_invalid_readings_when_decisions_given() -> None:
    """Decisions are what the clinic acted on; invalid-reading notes would drown them."""
    data = sample_chart(START)
    invalid = Decision(
        derived_id("bad"), DecisionType.READING_INVALID, START + timedelta(days=1), "bad packet"
    )
    root = _parse(render_svg(replace(data, decisions=(*data.decisions, invalid))))
    kinds = [g.get("data-type") for g in _by_class(root, "g", "decision")]
    assert kinds == ["elevated.first", "fever.confirmed", "fever.resolved"]


def test_chart_shades_gap_and_breaks_line_when_log_has_a_hole() -> None:
    """No readings must look like no readings, never like a straight line across the hole."""
    root = _parse(render_svg(sample_chart(START)))
    assert len(_by_class(root, "rect", "gap")) == 1
    assert len(_by_class(root, "polyline", "median")) == 2


def test_chart_labels_pause_with_its_reason_when_a_pause_is_noted() -> None:
    """A shower pause explains a gap so nobody worries about it."""
    root = _parse(render_svg(sample_chart(START)))
    pauses = _by_class(root, "g", "pause")
    assert [p.find(f"{SVG}text").text for p in pauses] == ["shower"]  # type: ignore[union-attr]


def test_chart_cuts_a_long_pause_reason_at_the_plots_edge_and_keeps_it_whole_in_the_tooltip() -> (
    None
):
    """A pause near the end of the period with a long reason ran off the phone's chart."""
    data = sample_chart(START)
    reason = "shower and then changing the dressing with the district nurse at half past nine"
    late = Pause(data.until - timedelta(hours=36), data.until - timedelta(hours=35), reason)
    svg = render_svg(replace(data, pauses=(late,)), width=NARROW_WIDTH, height=NARROW_HEIGHT)
    (pause,) = _by_class(_parse(svg), "g", "pause")
    label = pause.find(f"{SVG}text")
    tooltip = pause.find(f"{SVG}title")
    assert label is not None
    assert label.text is not None
    assert tooltip is not None
    assert tooltip.text is not None
    assert label.text.endswith("…")
    assert reason.startswith(label.text.removesuffix("…"))
    room = NARROW_WIDTH - MARGIN_RIGHT - float(label.get("x", "0"))
    assert len(label.text) * LABEL_CHAR_PX <= room
    assert tooltip.text.endswith(f": {reason}")
    assert pause_label(reason, 20.0) == ""  # no room for a word: the tooltip says it


def test_chart_escapes_text_when_summary_contains_markup() -> None:
    """Text from the log is data, never markup, inside a page with the caregiver's cookie."""
    data = sample_chart(START)
    evil = Decision(
        derived_id("evil"), DecisionType.FEVER_ONGOING, START + timedelta(days=7), "<script>x"
    )
    svg = render_svg(replace(data, decisions=(evil,)))
    assert "<script>" not in svg
    assert "&lt;script&gt;x" in svg


def test_chart_says_no_readings_when_period_is_empty_of_data() -> None:
    """An empty chart must say why it is empty rather than look broken."""
    data = ChartData(START, START + timedelta(days=1), (), f_to_c(101.0))
    assert "no readings in this period" in render_svg(data)


def test_chart_raises_chart_error_when_period_is_reversed() -> None:
    """A reversed period is a caller's bug; say so instead of drawing nonsense."""
    with pytest.raises(ChartError, match="not before"):
        render_svg(ChartData(START, START, (), f_to_c(101.0)))


@settings(max_examples=60, deadline=None)
@given(
    temps=st.lists(st.tuples(st.floats(25.0, 50.0), st.floats(0.0, 3.0)), min_size=0, max_size=60),
    summary=st.text(max_size=40),
)
def test_chart_is_well_formed_svg_inside_viewbox_when_given_any_bands(
    temps: list[tuple[float, float]], summary: str
) -> None:
    """Whatever the log holds (even out-of-range values), the SVG parses and stays in its box."""
    step = timedelta(minutes=10)
    bands = [
        Bucket(START + step * i, START + step * (i + 1), t, t + s / 2, t + s, 10)
        for i, (t, s) in enumerate(temps)
    ]
    decision = Decision(derived_id("d"), DecisionType.FEVER_CONFIRMED, START + step * 3, summary)
    data = ChartData(START, START + step * 60, bands, f_to_c(101.0), decisions=(decision,))
    root = _parse(render_svg(data))
    for poly in root.iter(f"{SVG}polyline"):
        for point in (poly.get("points") or "").split():
            x, y = (float(v) for v in point.split(","))
            assert 0 <= x <= WIDTH
            assert 0 <= y <= HEIGHT


def test_gaps_from_bands_finds_hole_and_trailing_silence_when_longer_than_min_gap() -> None:
    """The chart shades holes from the buckets alone, without a pass over every reading."""
    step = timedelta(minutes=10)
    bands = [
        Bucket(START + step * i, START + step * (i + 1), 37.0, 37.0, 37.0, 600)
        for i in (0, 1, 2, 6, 7)  # 30 min hole after the third; then silence after the eighth
    ]
    gaps = gaps_from_bands(bands, START, START + step * 12, timedelta(minutes=29))
    assert gaps == [(START + step * 3, START + step * 6), (START + step * 8, START + step * 12)]


def test_gaps_from_bands_ignores_hole_when_shorter_than_min_gap() -> None:
    """A hole shorter than the setting is not a gap (no false alarm on the chart)."""
    step = timedelta(minutes=10)
    bands = [Bucket(START + step * i, START + step * (i + 1), 37.0, 37.0, 37.0, 1) for i in (0, 2)]
    assert gaps_from_bands(bands, START, START + step * 3, timedelta(minutes=30)) == []
