"""Stream samples as the log shows them (fever-rule.md §2), before any page is drawn."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from portwatch.fever.settings import RuleSettings
from portwatch.log.store import Store
from portwatch.model import ReadingKind
from portwatch.web.export import observations
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


def test_stream_observations_use_the_rules_window_settings_when_they_are_not_the_defaults() -> None:
    """Issue 17: with `[rule] window = 2m, min_samples = 2` the page shows the observations
    the rule used, not 5-minute windows of 3 samples."""
    samples = [
        replace(
            reading(PLACEMENT + timedelta(seconds=30 * i), 37.0 + i / 10, ReadingKind.STREAM),
            interval_s=30.0,
        )
        for i in range(6)
    ]
    rule = RuleSettings(window=timedelta(minutes=2), min_samples=2)
    observed = stream_observations(samples, rule)
    assert [(o.time, o.samples) for o in observed] == [
        (PLACEMENT + timedelta(minutes=2), 4),
        (PLACEMENT + timedelta(minutes=4), 2),
    ]
    assert [o.samples for o in stream_observations(samples)] == [6]  # the defaults: one window


def test_stream_observations_count_a_repeated_sample_once_when_it_was_delivered_twice() -> None:
    """§2: 2 samples each delivered twice are a window cut short, on the page as in the rule."""
    two = [
        replace(
            reading(PLACEMENT + timedelta(seconds=s), 38.9, ReadingKind.STREAM), interval_s=10.0
        )
        for s in (0, 10)
    ]
    assert stream_observations(two + two) == []


def test_export_reads_each_window_whole_when_since_falls_inside_one(tmp_path: Path) -> None:
    """The export's observations are the rule's: a window cut by `since` is read whole."""
    samples = [
        replace(
            reading(PLACEMENT + timedelta(minutes=i), 37.0, ReadingKind.STREAM), interval_s=60.0
        )
        for i in range(5)
    ]
    with Store.open(tmp_path / "log.db") as store:
        store.import_readings(samples)
        found = observations(
            store, PLACEMENT + timedelta(minutes=3), PLACEMENT + timedelta(hours=1)
        )
    assert [(o.time, o.samples) for o in found] == [(PLACEMENT + timedelta(minutes=5), 5)]
