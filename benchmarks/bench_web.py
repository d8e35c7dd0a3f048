"""The caregiver chart: ten days at one reading per second, downsampled, drawn as SVG.

Issue 8 asks for under 200 ms. The baseline is the least any SVG writer must do with the
same number of buckets: join as many pre-formatted point strings.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from portwatch.sim.sample import CHART_BUCKETS, sample_chart
from portwatch.web.chart import render_svg
from portwatch.web.termchart import render_text

if TYPE_CHECKING:
    from portwatch.web.source import ClinicTarget

START = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)


def _best_ms(func: object, repeat: int) -> float:
    assert callable(func)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - started)
    return best * 1000.0


def _log_of(path: Path, days: int) -> None:
    """A log holding `days` of a one-per-second stream around 37 °C."""
    from portwatch.log.store import Store
    from portwatch.model import Reading, ReadingKind, Unit

    with Store.open(path) as store:
        batch: list[Reading] = []
        for second in range(days * 86_400):
            when = START + timedelta(seconds=second)
            value = Decimal(3690 + (second // 600) % 30) / 100
            batch.append(
                Reading(
                    "AA:BB:CC:DD:EE:FF",
                    ReadingKind.STREAM,
                    value,
                    Unit.CELSIUS,
                    float(value),
                    when,
                    when,
                    interval_s=1.0,
                )
            )
            if len(batch) == 50_000:
                store.add_readings(batch)
                batch = []
        store.add_readings(batch)


def _target() -> ClinicTarget:
    from portwatch.alerts.payloads import AlertContext, ClinicFormat, Thermometer
    from portwatch.web.source import ClinicTarget

    thermometer = Thermometer("AA:BB:CC:DD:EE:FF")
    context = AlertContext("Patient/bench", "Organization/clinic", "bench", "0", thermometer)
    return ClinicTarget(context, ClinicFormat.JSON)


def _page_figures(quick: bool) -> list[dict[str, object]]:
    """The whole-period chart page as served: the log's downsample query plus the SVG."""
    from portwatch.log.store import Store
    from portwatch.web.source import StorePages, chart_data
    from portwatch.web.view import DisplaySettings

    days = 1 if quick else 10
    settings = DisplaySettings(placement=START, healing_days=days)
    now = START + timedelta(days=days)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "portwatch.db"
        _log_of(path, days)
        pages = StorePages(path, settings, _target())
        with Store.open_reader(path) as store:
            query_ms = _best_ms(lambda: store.downsample(START, now, CHART_BUCKETS), 3)
            data_ms = _best_ms(lambda: chart_data(store, settings, now, START, now), 3)
        page_ms = _best_ms(lambda: pages.chart(now, None), 3)
        day_ms = _best_ms(lambda: pages.chart(now, 1), 3)
        pages.close()
    return [
        {
            "figure": "web: chart page zoomed to one day at 1/s from the log (query + SVG)",
            "value": day_ms,
            "unit": "ms",
            "baseline": "the log's downsample query of the whole period alone",
            "baseline_value": query_ms,
        },
        {
            "figure": f"web: chart page, {days} d at 1/s from the log (query + SVG + page)",
            "value": page_ms,
            "unit": "ms",
            "baseline": "the log's downsample query alone",
            "baseline_value": query_ms,
        },
        {
            "figure": f"web: chart data, {days} d at 1/s (downsample, gaps, notes, decisions)",
            "value": data_ms,
            "unit": "ms",
            "baseline": "the log's downsample query alone",
            "baseline_value": query_ms,
        },
    ]


def measure(quick: bool) -> list[dict[str, object]]:
    repeat = 5 if quick else 30
    data = sample_chart(START)
    points = [f"{i:.1f},{i * 0.1:.1f}" for i in range(3 * len(data.bands))]
    svg_ms = _best_ms(lambda: render_svg(data), repeat)
    join_ms = _best_ms(lambda: " ".join(points), repeat)
    text_ms = _best_ms(lambda: render_text(data), repeat)
    return [
        *_page_figures(quick),
        {
            "figure": f"web: SVG chart of 10 days ({CHART_BUCKETS} buckets), render time",
            "value": svg_ms,
            "unit": "ms",
            "baseline": f"join {len(points)} pre-formatted point strings",
            "baseline_value": join_ms,
        },
        {
            "figure": f"web: terminal chart of 10 days ({CHART_BUCKETS} buckets), render time",
            "value": text_ms,
            "unit": "ms",
            "baseline": f"join {len(points)} pre-formatted point strings",
            "baseline_value": join_ms,
        },
    ]


if __name__ == "__main__":
    for row in measure(quick=False):
        print(row)
