"""Stream windows (fever-rule.md §2): dense stream samples summarised per window.

The one implementation of the windowing, used by the rule (live, late and replayed
samples) and by the pages, the chart and the export (:func:`summarise`), so that what the
caregiver sees is what the rule used, with the clinic's ``window`` and ``min_samples``.

A window's observation is the median of **all** its samples, however late they arrive.
A window first decides when the device has moved past it (a live sample after its end)
or, failing that, one ``window`` after its end or its latest sample's arrival, whichever
is later; from then on each new sample re-decides it at once, and the change (a window
cut short now complete, or a revised median) goes back to the rule as a
:data:`WindowChange`. An exact repeat (same time, same value) is one sample.

Memory. Samples are kept packed (24 bytes each, equal values shared) for the horizon
after the window's last sample arrived (``pair_window`` and two windows): a day of a
one-per-second stream is about 2 MB. A window past the horizon is forgotten; a sample of
it that still arrives is ignored (Choice: the spec asks for at least ``pair_window``; the
log keeps the sample).
"""

from __future__ import annotations

import heapq
import itertools
import statistics
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final, TypeAlias

from portwatch.fever.settings import RuleSettings
from portwatch.model import Observation, Reading, ReadingKind, Site, Unit

__all__ = ["StreamWindows", "WindowChange", "is_windowed", "summarise", "window_start"]

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_US: Final = timedelta(microseconds=1)

# (the observation the window gave before, or None; what it gives now)
WindowChange: TypeAlias = tuple[Observation | None, list[Observation]]
_Key: TypeAlias = tuple[str, int]  # device, window start in microseconds since the epoch


def window_start(time: datetime, width: timedelta) -> datetime:
    """The start of the epoch-aligned window of ``width`` that holds ``time``."""
    width_us = width // _US
    offset_us = (time - EPOCH) // _US
    return EPOCH + _US * (offset_us - offset_us % width_us)


def is_windowed(reading: Reading, settings: RuleSettings) -> bool:
    """§2: a stream sample goes to its window when its interval lets ``min_samples`` fit in
    one; one whose interval nobody declared waits in its window too, and the device's
    spacing decides when the window does."""
    if reading.kind is not ReadingKind.STREAM:
        return False
    interval = reading.interval_s
    return interval is None or 0 < interval <= settings.dense_interval_s


@dataclass(slots=True)
class _Window:
    """One device's window: its samples packed, sorted by time, each exact repeat once."""

    device: str
    start_us: int
    end: datetime
    unit: Unit
    site: Site | None
    last_arrival: datetime
    declared: bool = False  # some sample declared its interval
    decided: bool = False  # decided once: each later sample re-decides it at once
    slow: bool = False  # decided as a slower stream: its samples are observations
    current: Observation | None = None  # what it gave the rule last
    times: array[int] = field(default_factory=lambda: array("q"))
    celsius: array[float] = field(default_factory=lambda: array("d"))
    values: list[Decimal] = field(default_factory=list)  # shared objects: 8 bytes a sample

    def add(self, time_us: int, celsius: float, value: Decimal) -> bool:
        """Add one sample; False when it is an exact repeat of one already here (§2)."""
        times = self.times
        at = _bisect(times, time_us)
        while at < len(times) and times[at] == time_us:
            if self.values[at] == value:
                return False
            at += 1
        times.insert(at, time_us)
        self.celsius.insert(at, celsius)
        self.values.insert(at, value)
        return True

    def median(self) -> Observation:
        """The window's observation: the median of all its samples, at the window's end."""
        return Observation(
            time=self.end,
            celsius=statistics.median(self.celsius),
            value=Decimal(statistics.median(self.values)),
            unit=self.unit,
            device=self.device,
            site=self.site,
            samples=len(self.times),
        )

    def one_by_one(self) -> list[Observation]:
        """A slower stream's samples, each an observation (§2)."""
        return [
            Observation(
                time=EPOCH + _US * t,
                celsius=self.celsius[i],
                value=self.values[i],
                unit=self.unit,
                device=self.device,
                site=self.site,
            )
            for i, t in enumerate(self.times)
        ]


def _bisect(times: array[int], time_us: int) -> int:
    lo, hi = 0, len(times)
    if hi and times[hi - 1] < time_us:
        return hi  # in order: the common case
    while lo < hi:
        mid = (lo + hi) // 2
        if times[mid] < time_us:
            lo = mid + 1
        else:
            hi = mid
    return lo


class StreamWindows:
    """Every device's stream windows, for one rule (or one page): samples in, changes out.

    Args:
        settings: ``window``, ``min_samples`` and the horizon come from here.
    """

    def __init__(self, settings: RuleSettings) -> None:
        self.settings = settings
        self._width_us = settings.window // _US
        self._grace = settings.window
        self._horizon = settings.horizon
        self._open: dict[_Key, _Window] = {}  # not decided yet
        self._by_due: list[tuple[datetime, int, _Key]] = []  # heap over _open, lazily
        self._by_end: list[tuple[int, _Key]] = []  # heap over _open, lazily
        self._kept: dict[_Key, _Window] = {}  # decided, kept for late samples
        self._expiry: list[tuple[datetime, _Key]] = []  # heap; checked lazily
        self._forgotten: set[_Key] = set()
        self._values: dict[str, Decimal] = {}

    def add(self, reading: Reading, now: datetime) -> list[WindowChange]:
        """Take one windowed sample that reached the gateway at ``now``; return changes."""
        if reading.celsius is None or reading.value is None:
            return []
        time_us = (reading.time - EPOCH) // _US
        key = (reading.device, time_us - time_us % self._width_us)
        changes: list[WindowChange] = []
        opened = self._open
        if opened and now - reading.time <= self._grace and (len(opened) > 1 or key not in opened):
            # a live sample: the device has moved past its earlier windows (but not past
            # those still filling at this instant: a stored dump arriving in any order)
            for other in sorted(k for k in opened if k[0] == key[0] and k[1] < key[1]):
                if opened[other].last_arrival < now:
                    changes.extend(self.close(other))
        if key in self._forgotten:
            return changes
        win = opened.get(key) or self._kept.get(key)
        if win is None:
            end = EPOCH + _US * (key[1] + self._width_us)
            win = _Window(reading.device, key[1], end, reading.unit, reading.site, now)
            opened[key] = win
            self._push_due(win, key)
            heapq.heappush(self._by_end, (key[1], key))
        # one Decimal per distinct value, shared by every sample that has it
        value = self._values.setdefault(str(reading.value), reading.value)
        if not win.add(time_us, reading.celsius, value):
            return changes  # the same sample again (a resend, an overlapping import)
        win.declared = win.declared or reading.interval_s is not None
        if now > win.last_arrival:
            win.last_arrival = now
            if win.decided:
                heapq.heappush(self._expiry, (now + self._horizon, key))
            elif now > win.end:
                self._push_due(win, key)  # its due moved on (before its end, it is end + grace)
        if win.decided:
            changes.extend(self._redecide(win, added=(time_us, reading.celsius, value)))
        return changes

    def next_due(self, ending_by: datetime | None = None) -> tuple[datetime, _Key] | None:
        """The undecided window that decides first, and when (after it, the rule closes it);
        with ``ending_by``, the earliest-ending one if it ends by then (a resolution waits).

        Both from heaps, checked lazily: a big import holds thousands of windows open.
        """
        if ending_by is not None:
            while self._by_end and self._by_end[0][1] not in self._open:
                heapq.heappop(self._by_end)
            if not self._by_end:
                return None
            first = self._open[self._by_end[0][1]]
            if first.end > ending_by:
                return None
            return max(first.end, first.last_arrival) + self._grace, self._by_end[0][1]
        while self._by_due:
            due, _, key = self._by_due[0]
            win = self._open.get(key)
            if win is not None and due == max(win.end, win.last_arrival) + self._grace:
                return due, key
            heapq.heappop(self._by_due)  # closed, or waiting longer since
        return None

    def _push_due(self, win: _Window, key: _Key) -> None:
        due = max(win.end, win.last_arrival) + self._grace
        heapq.heappush(self._by_due, (due, win.start_us, key))

    def close(self, key: _Key) -> list[WindowChange]:
        """Decide an undecided window for the first time."""
        win = self._open.pop(key)
        win.decided = True
        self._kept[key] = win
        heapq.heappush(self._expiry, (win.last_arrival + self._horizon, key))
        if not win.declared and self._is_slow(win):
            win.slow = True
            return [(None, win.one_by_one())]
        return self._redecide(win, added=None)

    def close_all(self) -> list[WindowChange]:
        """Decide every undecided window (a page that has all the samples it will get)."""
        out: list[WindowChange] = []
        for key in sorted(self._open, key=lambda k: (k[1], k[0])):
            out.extend(self.close(key))
        return out

    def prune(self, now: datetime) -> None:
        """Forget the decided windows whose horizon has passed (bounded memory)."""
        while self._expiry and self._expiry[0][0] < now:
            expiry, key = heapq.heappop(self._expiry)
            win = self._kept.get(key)
            if win is None or win.last_arrival + self._horizon > expiry:
                continue  # touched since; a later entry stands for it
            del self._kept[key]
            self._forgotten.add(key)

    def __len__(self) -> int:
        """Samples held (for the memory benchmark and tests)."""
        return sum(len(w.times) for w in itertools.chain(self._open.values(), self._kept.values()))

    def _redecide(
        self, win: _Window, *, added: tuple[int, float, Decimal] | None
    ) -> list[WindowChange]:
        if win.slow:
            if added is None:
                return []
            time_us, celsius, value = added
            obs = Observation(EPOCH + _US * time_us, celsius, value, win.unit, win.device, win.site)
            return [(None, [obs])]
        if len(win.times) < self.settings.min_samples:
            return []  # §2: a window cut short by a gap yields none (yet)
        before, win.current = win.current, win.median()
        return [(before, [win.current])]

    def _is_slow(self, win: _Window) -> bool:
        """§2: an undeclared interval is the median spacing of the device's samples; here,
        of the samples in this window and its two neighbours (the same for every path)."""
        times: list[int] = []
        for start in (win.start_us - self._width_us, win.start_us, win.start_us + self._width_us):
            other = self._open.get((win.device, start)) or self._kept.get((win.device, start))
            if other is not None:
                times.extend(other.times)
        times.extend(win.times)
        times = sorted(set(times))
        gaps = [b - a for a, b in itertools.pairwise(times)]
        if not gaps:
            return True  # a lone sample with no spacing known counts: a missed fever is worst
        return statistics.median(gaps) / 1e6 > self.settings.dense_interval_s


def summarise(samples: Iterable[Reading], settings: RuleSettings) -> list[Observation]:
    """The observations a set of stream samples gives (§2), as the rule forms them.

    For the pages, the chart and the export: invalid samples are left out, windowed ones
    summarised per window (each exact repeat once), the others listed one by one. The site
    offset is the rule's and is not applied: the values are the thermometer's own.
    """
    windows = StreamWindows(settings)
    out: list[Observation] = []
    not_live = settings.window + _US  # no sample here closes a window early
    seen: set[tuple[str, datetime, Decimal]] = set()
    for r in samples:
        if r.invalid_reason is not None or r.celsius is None or r.value is None:
            continue
        if is_windowed(r, settings):
            windows.add(r, r.time + not_live)
        elif (r.device, r.time, r.value) not in seen:
            seen.add((r.device, r.time, r.value))
            out.append(Observation(r.time, r.celsius, r.value, r.unit, r.device, r.site))
    for _, made in windows.close_all():
        out.extend(made)
    out.sort(key=lambda o: (o.time, o.device))
    return out
