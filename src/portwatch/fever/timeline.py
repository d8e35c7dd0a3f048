"""The rule's time line: observations sorted by their own time, and the episodes found on it.

:class:`Timeline` keeps the observations (§2) in time order with the elevated ones (§3)
beside them, so that a partner (§4) is one binary search away. :class:`Episode` is one
fever episode (§5) as the walk along the time line finds it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta

from portwatch.model import Observation

__all__ = ["Episode", "Placed", "Timeline"]

Key = tuple[datetime, str, str]  # time, device, identity: a total, stable order


@dataclass(frozen=True, slots=True)
class Placed:
    """An observation on the time line, with what the rule needs beside it."""

    key: Key
    obs: Observation
    spot: bool  # §5: a first from a spot reading brings a recheck reminder
    elevated: bool
    ident: str  # stable text identity, the facts behind decision ids
    late: bool  # reached the rule more than two windows after its own time

    @property
    def time(self) -> datetime:
        return self.obs.time

    def as_cited(self) -> Observation:
        """The observation as a decision cites it, marked late when it came late."""
        o = self.obs
        return Observation(
            o.time, o.celsius, o.value, o.unit, o.device, o.site, o.samples, self.late
        )


@dataclass(slots=True)
class Episode:
    """One fever episode (§5) as the walk finds it."""

    start: Placed  # the observation that confirmed it (B)
    partner: Placed  # A, the earliest elevated observation it paired with
    last_elevated: Placed
    first_normal: Placed | None = None  # first normal observation after last_elevated
    alerted: bool = False
    end: datetime | None = None
    # earliest resolution skipped because only time may resolve (see rule.py)
    skipped_resolution: datetime | None = None

    def resolution_due(self, resolve_after: timedelta) -> datetime | None:
        if self.first_normal is None:
            return None  # §5: silence is not recovery
        return max(self.last_elevated.time + resolve_after, self.first_normal.time)

    def holds(self, time: datetime) -> bool:
        """Whether ``time`` lies inside the episode, from its earliest elevated observation."""
        return self.partner.time <= time and (self.end is None or time <= self.end)


class Timeline:
    """Observations in time order; the elevated ones also in a list of their own."""

    def __init__(self) -> None:
        self.items: list[Placed] = []
        self.keys: list[Key] = []
        self.elevated: list[Placed] = []
        self.elevated_times: list[datetime] = []

    def __len__(self) -> int:
        return len(self.items)

    def index(self, time: datetime) -> int:
        """The index of the first observation at or after ``time``."""
        return bisect.bisect_left(self.keys, (time, "", ""))

    def insert(self, item: Placed) -> int | None:
        """Place ``item``; its index, or None when the same observation is already here."""
        keys = self.keys
        index = bisect.bisect_left(keys, item.key)
        at_end = index == len(keys)
        if at_end and (not index or keys[index - 1][:2] != item.key[:2]):
            pass  # in order, at a new time: the common case, nothing to compare
        elif self._holds_equal(index, item):
            return None
        self.keys.insert(index, item.key)
        self.items.insert(index, item)
        if item.elevated:
            e = bisect.bisect_left(self.elevated_times, item.time)
            while e < len(self.elevated) and self.elevated[e].key < item.key:
                e += 1
            self.elevated_times.insert(e, item.time)
            self.elevated.insert(e, item)
        return index

    def _holds_equal(self, index: int, item: Placed) -> bool:
        """Whether the same observation is here: same device and time, an equal value (37.2
        and 37.20 are one reading, as the log has it) and as many samples."""
        keys, head, obs = self.keys, item.key[:2], item.obs
        lo = hi = index
        while lo > 0 and keys[lo - 1][:2] == head:
            lo -= 1
        while hi < len(keys) and keys[hi][:2] == head:
            hi += 1
        return any(
            self.items[i].obs.value == obs.value and self.items[i].obs.samples == obs.samples
            for i in range(lo, hi)
        )

    def remove(self, key: Key) -> Placed | None:
        """Take the observation with ``key`` off the time line (a window revised)."""
        index = bisect.bisect_left(self.keys, key)
        if index == len(self.keys) or self.keys[index] != key:
            return None
        item = self.items.pop(index)
        del self.keys[index]
        if item.elevated:
            e = bisect.bisect_left(self.elevated_times, item.time)
            while self.elevated[e].key != key:
                e += 1
            del self.elevated[e]
            del self.elevated_times[e]
        return item

    def partner(self, time: datetime, nearest: timedelta, farthest: timedelta) -> Placed | None:
        """§4: the earliest elevated A with ``nearest`` <= time - A <= ``farthest``."""
        lo = bisect.bisect_left(self.elevated_times, time - farthest)
        if lo < len(self.elevated) and self.elevated[lo].time <= time - nearest:
            return self.elevated[lo]
        return None

    def elevated_between(self, since: datetime, before: datetime) -> bool:
        """Whether an elevated observation lies in [since, before)."""
        lo = bisect.bisect_left(self.elevated_times, since)
        hi = bisect.bisect_left(self.elevated_times, before)
        return lo < hi

    def elevated_after(self, time: datetime, within: timedelta) -> bool:
        """Whether an elevated observation lies in (time, time + within]."""
        later = bisect.bisect_right(self.elevated_times, time)
        return later < len(self.elevated_times) and self.elevated_times[later] <= time + within

    def last_elevated_before(self, index: int) -> int:
        """The index of the last elevated observation before ``index`` (one must exist)."""
        last = index - 1
        while not self.items[last].elevated:
            last -= 1
        return last
