"""The caregiver chart: ten days at one reading per second, downsampled, drawn as SVG.

Issue 8 asks for under 200 ms. The baseline is the least any SVG writer must do with the
same number of buckets: join as many pre-formatted point strings.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from portwatch.web.chart import render_svg
from portwatch.web.sample import CHART_BUCKETS, sample_chart
from portwatch.web.termchart import render_text

START = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)


def _best_ms(func: object, repeat: int) -> float:
    assert callable(func)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - started)
    return best * 1000.0


def measure(quick: bool) -> list[dict[str, object]]:
    repeat = 5 if quick else 30
    data = sample_chart(START)
    points = [f"{i:.1f},{i * 0.1:.1f}" for i in range(3 * len(data.bands))]
    svg_ms = _best_ms(lambda: render_svg(data), repeat)
    join_ms = _best_ms(lambda: " ".join(points), repeat)
    text_ms = _best_ms(lambda: render_text(data), repeat)
    return [
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
