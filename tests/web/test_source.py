"""Stream samples as the log shows them (fever-rule.md §2), before any page is drawn."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from portwatch.model import ReadingKind
from portwatch.web.source import stream_observations

from .conftest import PLACEMENT, reading


def test_stream_observations_list_slow_stream_samples_one_by_one_when_interval_over_100s() -> None:
    """A thermometer that measures every 10 min gives observations one by one (§2)."""
    samples = [
        replace(
            reading(PLACEMENT + timedelta(minutes=10 * i), 37.0, ReadingKind.STREAM),
            interval_s=600.0,
        )
        for i in range(6)
    ]
    observed = stream_observations(samples)
    assert [(o.time, o.samples) for o in observed] == [(s.time, 1) for s in samples]


def test_stream_observations_summarise_undeclared_dense_stream_when_spacing_is_a_minute() -> None:
    """An imported stream with no declared interval is dense by its median spacing (§2)."""
    samples = [
        replace(
            reading(PLACEMENT + timedelta(minutes=i), 37.0 + i / 10, ReadingKind.STREAM),
            interval_s=None,
        )
        for i in range(10)
    ]
    observed = stream_observations(samples)
    # windows aligned to the epoch: 09:00-09:05 and 09:05-09:10, five samples each
    assert [(o.time, o.samples) for o in observed] == [
        (PLACEMENT + timedelta(minutes=5), 5),
        (PLACEMENT + timedelta(minutes=10), 5),
    ]
    assert observed[0].celsius == 37.2  # the median of 37.0 .. 37.4
