"""The chart's data read from the log: bands, gaps against the thermometer's cadence,
pauses, decisions, and the spot readings the fever rule used or did not use (issue 18).

The I/O edge of :mod:`portwatch.web.chart`: each function takes an open reader
:class:`~portwatch.log.store.Store` and a ``now``; nothing here reads the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from portwatch.fever.settings import counts_as_pinned
from portwatch.log.store import Store
from portwatch.model import Bucket, Observation, Reading, ReadingKind
from portwatch.sim.sample import CHART_BUCKETS
from portwatch.web.view import (
    ChartData,
    DisplaySettings,
    Pause,
    Unused,
    cadence_gap,
    gaps_from_bands,
    is_elevated,
)

__all__ = ["chart_data", "unused_reason"]

_TICK: Final = timedelta(microseconds=1)


def unused_reason(reading: Reading, settings: DisplaySettings, now: datetime) -> str | None:
    """Why the fever rule did not use a reading (None: it did), in words for the log and
    the chart: invalid (its own reason), provisional, not the pinned thermometer, or
    outside the monitored period (fever-rule.md §1, §7)."""
    if reading.invalid_reason is not None or reading.celsius is None:
        return f"invalid: {reading.invalid_reason or 'no value'}"
    if reading.kind is ReadingKind.PROVISIONAL:
        return "provisional: shown while measuring, never used"
    pinned = settings.thermometer
    if not counts_as_pinned(reading.device, pinned):
        return f"from {reading.device}, not the pinned thermometer {pinned}"
    if settings.placement is not None:
        start, end = settings.period(now)
        if not start <= reading.time <= end:
            return "outside the monitored period"
    return None


def _spot_points(
    readings: Sequence[Reading], settings: DisplaySettings, now: datetime
) -> tuple[list[Observation], list[Unused]]:
    """Spot readings split into what the rule used and what it did not (with the reason)."""
    used: list[Observation] = []
    unused: list[Unused] = []
    for r in readings:
        reason = unused_reason(r, settings, now)
        if r.celsius is None or r.value is None:
            continue
        if reason is None:
            used.append(Observation(r.time, r.celsius, r.value, r.unit, r.device, r.site))
        else:
            unused.append(Unused(r.time, r.celsius, f"{r.value} °{r.unit.value}", reason))
    return used, unused


def _elevated_ranges(
    bands: Sequence[Bucket], threshold_c: float
) -> list[tuple[datetime, datetime]]:
    """The stretches whose bands reach the elevated range, adjacent ones merged: the only
    places an elevated spot reading can be, so the chart reads spots there alone (a pass
    over ten days of a 1/s stream to find a few spot readings costs ~0.2 s)."""
    ranges: list[tuple[datetime, datetime]] = []
    for band in sorted(bands, key=lambda b: b.start):
        if not is_elevated(band.max_c, threshold_c):
            continue
        if ranges and ranges[-1][1] >= band.start:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], band.end))
        else:
            ranges.append((band.start, band.end))
    return ranges


def _is_spot_stretch(store: Store, start: datetime, end: datetime, slack: timedelta) -> bool:
    """Whether the readings bounding a silence (within `slack` of its edges) are all spot
    readings: a thermometer that measures when asked was simply not asked."""
    before = store.readings(start - slack, start + _TICK)[-1:]
    after = store.readings(end, end + slack + _TICK)[:1]
    edges = [stored.reading for stored in (*before, *after)]
    return bool(edges) and all(r.kind is not ReadingKind.STREAM for r in edges)


def _cadence_gaps(
    store: Store,
    settings: DisplaySettings,
    bands: Sequence[Bucket],
    since: datetime,
    until: datetime,
    exact: bool,
) -> tuple[list[tuple[datetime, datetime]], timedelta]:
    """Gaps in [since, until) measured against the thermometer's cadence (issue 18), and
    the limit a stream's silence must pass: a few of its intervals (at least
    ``settings.min_gap``); between spot readings, a whole day without one."""
    if until <= since:
        return [], settings.min_gap
    latest = store.latest_reading()
    interval = latest.reading.interval_s if latest is not None else None
    min_gap = cadence_gap(settings.min_gap, "stream", interval)
    if exact:
        found = store.gaps(since, until, min_gap)
        slack = _TICK
    else:
        found = gaps_from_bands(bands, since, until, min_gap)
        slack = (until - since) / CHART_BUCKETS * 2
    spot_gap = cadence_gap(settings.min_gap, "spot", None)
    gaps = [
        (a, b) for a, b in found if b - a > spot_gap or not _is_spot_stretch(store, a, b, slack)
    ]
    spot = latest is not None and latest.reading.kind is not ReadingKind.STREAM
    return gaps, spot_gap if spot else min_gap


def chart_data(
    store: Store,
    settings: DisplaySettings,
    now: datetime,
    since: datetime,
    until: datetime,
    *,
    exact_gaps: bool = False,
) -> ChartData:
    """The chart of [since, until): bands, gaps up to `now`, pauses, observations, decisions.

    Gaps are silences longer than the thermometer's own cadence allows
    (:func:`~portwatch.web.view.cadence_gap`: a spot thermometer is not gapped between
    readings). They come from the bands (to a bucket's width) unless `exact_gaps` asks the
    log, which walks its time index (:meth:`~portwatch.log.store.Store.gaps`). Observations
    are what the rule used; spot readings it did not use are listed apart with the reason.
    """
    bands = store.downsample(since, until, CHART_BUCKETS)
    gaps, min_gap = _cadence_gaps(store, settings, bands, since, min(until, now), exact_gaps)
    decisions = store.decisions(since, until)
    spots = [
        stored.reading
        for start, end in _elevated_ranges(bands, settings.threshold_c)
        for stored in store.readings(start, end, kinds=(ReadingKind.SPOT,))
    ]
    used, unused = _spot_points(spots, settings, now)
    cited = {o for d in decisions for o in d.observations}
    return ChartData(
        since=since,
        until=until,
        bands=bands,
        threshold_c=settings.threshold_c,
        unit=settings.unit,
        zone=settings.zone,
        gaps=gaps,
        pauses=[Pause(n.start, n.end, n.reason) for n in store.notes(since, until)],
        observations=sorted({*cited, *used}, key=lambda o: o.time),
        decisions=decisions,
        placement=settings.placement,
        unused=unused,
        min_gap=min_gap,
    )
