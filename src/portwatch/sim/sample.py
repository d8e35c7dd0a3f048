"""A synthetic monitored period for the benchmark, the tests and the screenshots.

Pure and deterministic: ten days of a normal curve with one fever episode, a gap and a
shower pause, as the log would hand them to the chart (already downsampled).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

from portwatch.model import Bucket, Decision, DecisionType, Observation, Unit, derived_id
from portwatch.web.view import ChartData, Pause, f_to_c

# Buckets a whole-period chart asks the log for: one per 10 minutes over 10 days, about
# one per pixel column of a laptop screen (issue 8: ten days at 1/s, downsampled).
CHART_BUCKETS: Final = 1440


def sample_chart(since: datetime, *, days: int = 10, buckets: int = CHART_BUCKETS) -> ChartData:
    """A period of `days` with a fever on day 6, a 6-hour gap on day 4, a shower on day 2."""
    until = since + timedelta(days=days)
    width = (until - since) / buckets
    gap_from, gap_to = since + timedelta(days=3, hours=10), since + timedelta(days=3, hours=16)
    fever_from, fever_to = since + timedelta(days=5, hours=8), since + timedelta(days=6, hours=2)
    bands = []
    for i in range(buckets):
        start = since + width * i
        if gap_from <= start < gap_to:
            continue
        base = 36.9 + 0.35 * math.sin(2 * math.pi * (start - since) / timedelta(days=1))
        if fever_from <= start < fever_to:
            base += 1.6
        bands.append(Bucket(start, start + width, base - 0.15, base, base + 0.2, 600))
    first = fever_from + timedelta(hours=1)
    second = first + timedelta(hours=4)
    observations = (
        Observation(first, 38.5, Decimal("101.3"), Unit.FAHRENHEIT, "sample"),
        Observation(second, 38.7, Decimal("101.7"), Unit.FAHRENHEIT, "sample"),
    )
    decisions = (
        Decision(
            derived_id("sample", "first"),
            DecisionType.ELEVATED_FIRST,
            first,
            "Elevated 101.3 °F; recheck due in 4 hours.",
            observations=observations[:1],
            due=second,
        ),
        Decision(
            derived_id("sample", "confirmed"),
            DecisionType.FEVER_CONFIRMED,
            second,
            "Fever confirmed: 101.3 °F then 101.7 °F, 4 hours apart.",
            observations=observations,
        ),
        Decision(
            derived_id("sample", "resolved"),
            DecisionType.FEVER_RESOLVED,
            fever_to + timedelta(hours=24),
            "Fever resolved.",
        ),
    )
    shower = Pause(since + timedelta(days=1, hours=8), since + timedelta(days=1, hours=9), "shower")
    return ChartData(
        since=since,
        until=until,
        bands=bands,
        threshold_c=f_to_c(101.0),
        gaps=((gap_from, gap_to),),
        pauses=(shower,),
        observations=observations,
        decisions=decisions,
        placement=since,
    )
