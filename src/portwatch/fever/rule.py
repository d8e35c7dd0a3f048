"""The fever rule (shared/spec/fever-rule.md): readings in, decisions out. Pure.

One :class:`FeverRule` per patient. :meth:`FeverRule.feed` takes one reading and the time
it reached the gateway; :meth:`FeverRule.advance` takes the time and makes the decisions
that time alone brings (a stream window closing, a recheck reminder, a resolution).
Neither reads a clock, does I/O or logs: the daemon, ``portwatch replay`` and the tests
all drive the same code with their own notion of now.

How it works. Valid readings become observations (§2) placed on a time line sorted by
observation time. The episodes (§5) are what one walk along that time line finds: an
elevated observation with an elevated partner 4-24 h before it opens an episode unless
one is open; an episode closes at the later of its last elevated observation plus
``resolve_after`` and the first normal observation after it. A reading in time order
extends the walk by one step (a binary search for its partner). A reading that lands in
the past re-walks from the state just before it and stops where the new walk meets the
old one. Alerts already decided are remembered by the time of the observation that
triggered them, so a re-walk never alerts an episode twice (§6), and a resolution told
to the clinic stands whatever arrives later.

Time. What is due at T (a window closing, a reminder, a resolution) is decided once rule
time has passed T, at the first :meth:`advance` or :meth:`feed` with a later ``now``, and
carries the decision time max(T, when the readings behind it arrived). ``advance`` at an
unchanged time decides nothing. So the decisions, their ids and their times depend only
on the readings and the times they arrived, not on when the scheduler ticks, which is
what lets :meth:`rebuild` reproduce them after a restart. Readings that arrive at one
instant (a file, a dump of stored measurements) are all placed before anything is
declared over.

Cost. In time order: O(log n) a reading. Out of order: the walk from the reading to
where it rejoins the old walk, at most the open episode and one pair window after it;
a ten-day file imported newest first takes seconds, one shuffled at random minutes.

Deviations and choices the spec leaves open are marked "Choice:" below.
"""

from __future__ import annotations

import bisect
import itertools
import statistics
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import partial
from typing import Final

from portwatch.model import (
    MANUAL_DEVICE,
    Decision,
    DecisionType,
    Observation,
    Reading,
    ReadingKind,
    Unit,
    derived_id,
)

__all__ = ["FeverRule", "RuleSettings", "RuleSettingsError", "fahrenheit_to_celsius"]

# §3: "at least threshold less 0.05 °C", so that a thermometer showing the threshold
# rounded to one decimal (38.3 °C, 101.0 °F) counts and one tenth below it does not.
ELEVATED_MARGIN_C: Final = 0.05
# §3 / issue 5: the clinic may move the threshold, but only within 99.5-104 °F.
THRESHOLD_MIN_F: Final = 99.5
THRESHOLD_MAX_F: Final = 104.0
# Issue 5: a window shorter than one minute is refused.
WINDOW_MIN: Final = timedelta(minutes=1)
# §1: a reading stamped before the placement time less one day is invalid.
BEFORE_PLACEMENT: Final = timedelta(days=1)
# Choice (§4 says an alert completed late "says so" but names no number): a decision is
# late when it is made more than two windows after the observation that triggered it;
# one window is how long a stream window may wait for stragglers before it closes.
LATE_WINDOWS: Final = 2
# §2: an undeclared interval is the median spacing of the device's samples; the latest
# 32 are plenty for a median and keep the cost per sample constant.
SPACING_SAMPLES: Final = 32
# Issue 5's sentence a nurse reads aloud shows values as the device reported them; two
# decimals is a wearable's resolution (CORE: 0.01 °C), and a window's median may add more.
_SUMMARY_DECIMALS: Final = 2


class RuleSettingsError(ValueError):
    """A rule setting outside what the spec allows; names the setting, its value and why."""

    def __init__(self, setting: str, value: object, allowed: str) -> None:
        super().__init__(f"rule setting {setting}={value!s} is not allowed: {allowed}")
        self.setting = setting
        self.value = value
        self.allowed = allowed


def fahrenheit_to_celsius(fahrenheit: float) -> float:
    """°F to °C, for the threshold comparison (design.md: conversion only for comparing)."""
    return (fahrenheit - 32.0) * 5.0 / 9.0


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """Every number of fever-rule.md, with the spec's defaults; validated on creation.

    Raises:
        RuleSettingsError: a value the spec or issue 5 refuses (the message names it).
    """

    threshold_f: float = 101.0  # §3
    min_separation: timedelta = timedelta(hours=4)  # §4
    pair_window: timedelta = timedelta(hours=24)  # §4
    window: timedelta = timedelta(minutes=5)  # §2
    min_samples: int = 3  # §2
    site_offset_c: float = 0.0  # §2
    healing_days: int = 10  # §7
    realert_after: timedelta = timedelta(hours=24)  # §5
    resolve_after: timedelta = timedelta(hours=24)  # §5
    max_future_skew: timedelta = timedelta(minutes=5)  # §1
    min_celsius: float = 30.0  # §1
    max_celsius: float = 45.0  # §1

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Refuse settings that make no sense (issue 5, "Settings are validated")."""
        zero = timedelta(0)
        checks: list[tuple[str, object, bool, str]] = [
            (
                "threshold_f",
                self.threshold_f,
                THRESHOLD_MIN_F <= self.threshold_f <= THRESHOLD_MAX_F,
                f"between {THRESHOLD_MIN_F} and {THRESHOLD_MAX_F} °F",
            ),
            ("min_separation", self.min_separation, self.min_separation > zero, "positive"),
            (
                "min_separation",
                self.min_separation,
                self.min_separation <= self.pair_window,
                f"at most pair_window ({self.pair_window})",
            ),
            ("window", self.window, self.window >= WINDOW_MIN, f"at least {WINDOW_MIN}"),
            ("min_samples", self.min_samples, self.min_samples >= 1, "at least 1"),
            (
                "site_offset_c",
                self.site_offset_c,
                -5.0 <= self.site_offset_c <= 5.0,
                "between -5.0 and 5.0 °C",
            ),
            ("healing_days", self.healing_days, self.healing_days > 0, "at least 1 day"),
            ("realert_after", self.realert_after, self.realert_after > zero, "positive"),
            ("resolve_after", self.resolve_after, self.resolve_after > zero, "positive"),
            (
                "max_future_skew",
                self.max_future_skew,
                self.max_future_skew >= zero,
                "zero or more",
            ),
            (
                "min_celsius",
                self.min_celsius,
                self.min_celsius < self.max_celsius,
                f"below max_celsius ({self.max_celsius})",
            ),
        ]
        for setting, value, ok, allowed in checks:
            if not ok:
                raise RuleSettingsError(setting, value, allowed)

    @property
    def elevated_from_c(self) -> float:
        """The lowest °C that counts as elevated (§3)."""
        return fahrenheit_to_celsius(self.threshold_f) - ELEVATED_MARGIN_C

    @property
    def dense_interval_s(self) -> float:
        """The longest stream interval that is summarised per window (§2): 100 s by default."""
        return self.window.total_seconds() / self.min_samples

    def as_pairs(self) -> tuple[tuple[str, str], ...]:
        """The settings in force, as the decisions cite them."""
        pairs: list[tuple[str, str]] = []
        for f in fields(self):
            value = getattr(self, f.name)
            text = _duration_text(value) if isinstance(value, timedelta) else str(value)
            pairs.append((f.name, text))
        return tuple(pairs)


# ---------------------------------------------------------------------------------------
# Internal state


@dataclass(frozen=True, slots=True)
class _Obs:
    """An observation on the time line, with what the rule needs beside it."""

    key: tuple[datetime, str, str]  # time, device, identity: a total, stable order
    obs: Observation
    spot: bool  # §5: a first from a spot reading brings a recheck reminder
    elevated: bool
    ident: str  # stable text identity, the facts behind decision ids
    late: bool  # reached the rule more than two windows after its own time

    @property
    def time(self) -> datetime:
        return self.obs.time


@dataclass(slots=True)
class _Episode:
    start: _Obs  # the observation that confirmed it (B)
    partner: _Obs  # A, the earliest elevated observation it paired with
    last_elevated: _Obs
    first_normal: _Obs | None = None  # first normal observation after last_elevated
    alerted: bool = False
    end: datetime | None = None
    # earliest resolution skipped because only time may resolve (see module docstring)
    skipped_resolution: datetime | None = None

    def resolution_due(self, resolve_after: timedelta) -> datetime | None:
        if self.first_normal is None:
            return None  # §5: silence is not recovery
        return max(self.last_elevated.time + resolve_after, self.first_normal.time)


@dataclass(slots=True)
class _Window:
    device: str
    start: datetime
    end: datetime
    last_arrival: datetime
    samples: list[Reading] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Reminder:
    due: datetime
    first: _Obs
    first_id: uuid.UUID


class FeverRule:
    """The fever rule for one patient; feed it readings, advance it in time.

    Args:
        settings: the clinic's numbers.
        patient: the patient reference; part of every decision identifier.
        placement: when the port was placed (aware); the monitored period starts here.
        pinned_device: the device the setup is pinned to, or None to accept any.

    Raises:
        ValueError: ``placement`` is naive.
    """

    def __init__(
        self,
        settings: RuleSettings,
        *,
        patient: str,
        placement: datetime,
        pinned_device: str | None,
    ) -> None:
        if placement.tzinfo is None:
            raise ValueError(f"placement {placement.isoformat()} has no time zone")
        self.settings = settings
        self.patient = patient
        self.placement = placement.astimezone(UTC)
        self.period_end = self.placement + timedelta(days=settings.healing_days)
        self.pinned_device = pinned_device
        self._settings_pairs = settings.as_pairs()
        self._elevated_from_c = settings.elevated_from_c
        self._late_after = settings.window * LATE_WINDOWS
        # the time line
        self._timeline: list[_Obs] = []
        self._keys: list[tuple[datetime, str, str]] = []
        self._elevated: list[_Obs] = []
        self._elevated_times: list[datetime] = []
        self._episodes: list[_Episode] = []  # sorted by start; at most the last is open
        # what has been decided
        self._decided: set[uuid.UUID] = set()
        self._confirmed_times: list[datetime] = []  # time of each "confirmed" B
        self._alert_times: list[datetime] = []  # confirmed and ongoing
        self._resolved_at: list[datetime] = []  # resolutions told to the clinic
        self._reminders: dict[uuid.UUID, _Reminder] = {}
        # stream windows
        self._windows: dict[tuple[str, datetime], _Window] = {}
        self._window_done: set[tuple[str, datetime]] = set()
        self._sample_times: dict[str, list[datetime]] = {}  # undeclared intervals only
        # time
        self._now: datetime | None = None  # rule time: the latest now seen
        self._known: datetime = self.placement  # now of the latest feed
        self._out: list[Decision] = []
        self._decision_time = self.placement

    # -- public ---------------------------------------------------------------------------

    @classmethod
    def rebuild(
        cls,
        settings: RuleSettings,
        *,
        patient: str,
        placement: datetime,
        pinned_device: str | None,
        history: Iterable[tuple[Reading, datetime]],
    ) -> tuple[FeverRule, list[Decision]]:
        """Rebuild the rule from the log after a restart (§6).

        ``history`` is every logged reading with the time it was received, in the order
        they were received. Returns the rule and the decisions it had already made; the
        caller skips those (their ids are already in the log) and calls :meth:`advance`.
        """
        rule = cls(settings, patient=patient, placement=placement, pinned_device=pinned_device)
        made: list[Decision] = []
        for reading, received_at in history:
            made.extend(rule.feed(reading, now=received_at))
        return rule, made

    def feed(self, reading: Reading, *, now: datetime) -> list[Decision]:
        """Take one reading that reached the gateway at ``now``; return what it decides.

        The reading may be late or out of order; it is placed at its own time. When
        ``now`` is later than any time seen before, what that time brings is decided
        first (as :meth:`advance` would).
        """
        now = self._clamp(now)
        out: list[Decision] = []
        if self._now is None or now > self._now:
            out.extend(self.advance(now))
        self._known = now
        self._decision_time = now
        self._out = out
        reason = self._invalid_reason(reading, now)
        if reason is not None:
            self._emit_invalid(reading, reason)
        elif reading.kind is ReadingKind.PROVISIONAL:
            pass  # §1: logged and shown, never used by the rule
        elif reading.kind is ReadingKind.STREAM and self._is_dense(reading):
            self._add_sample(reading, now)
        else:
            self._place(self._observation(reading), spot=reading.kind is ReadingKind.SPOT)
        out.sort(key=lambda d: d.time)
        return out

    def advance(self, now: datetime) -> list[Decision]:
        """Decide what the passing of time brings before ``now``. Idempotent.

        Stream windows that waited long enough close; recheck reminders fall due; open
        episodes resolve. Each happens at its own due time, in time order, whatever the
        times at which ``advance`` is called.
        """
        now = self._clamp(now)
        if self._now is not None and now <= self._now:
            # Time has not moved: what the latest readings made due is decided at the next
            # later time (with the same decision time), so that a scheduler tick between
            # two readings received at one instant changes nothing (§6).
            return []
        self._now = now
        out: list[Decision] = []
        self._out = out
        while True:
            due, action = self._next_due()
            # Strictly before now: what is due at T is decided once T has passed, so that a
            # reading stamped exactly T (a recheck at T + 4 h, an elevated reading exactly
            # resolve_after later) counts, however the ticks of the scheduler fall.
            if action is None or due is None or due >= now:
                break
            self._decision_time = max(due, self._known)
            action()
        out.sort(key=lambda d: d.time)
        return out

    def observations(self) -> list[Observation]:
        """Every observation placed so far, in time order (for reports and tests)."""
        return [o.obs for o in self._timeline]

    # -- validity and observations (§1, §2) ---------------------------------------------

    def _clamp(self, now: datetime) -> datetime:
        if now.tzinfo is None:
            raise ValueError(f"now {now.isoformat()} has no time zone")
        now = now.astimezone(UTC)
        return now if self._now is None else max(now, self._now)

    def _invalid_reason(self, reading: Reading, now: datetime) -> str | None:
        s = self.settings
        if reading.invalid_reason is not None:
            return reading.invalid_reason
        if reading.special is not None or reading.celsius is None:
            special = reading.special.value if reading.special is not None else "none"
            return f"special value {special}: no temperature"
        if not s.min_celsius <= reading.celsius <= s.max_celsius:
            return f"{reading.celsius:.2f} °C is outside {s.min_celsius}-{s.max_celsius} °C"
        if reading.time > now + s.max_future_skew:
            return (
                f"time {reading.time.isoformat()} is more than "
                f"{_duration_text(s.max_future_skew)} ahead of the receiving clock"
            )
        if reading.time < self.placement - BEFORE_PLACEMENT:
            return f"time {reading.time.isoformat()} is before the placement less one day"
        if (
            self.pinned_device is not None
            and reading.device != self.pinned_device
            and reading.device != MANUAL_DEVICE
        ):
            return f"device {reading.device} is not the pinned device {self.pinned_device}"
        return None

    def _emit_invalid(self, reading: Reading, reason: str) -> None:
        ident = _reading_ident(reading)
        self._emit(
            DecisionType.READING_INVALID,
            (ident,),
            summary=f"Reading from {reading.device} at {_hhmm(reading.time)} UTC not used: "
            f"{reason}.",
            reason=reason,
        )

    def _is_dense(self, reading: Reading) -> bool:
        # §2: a stream whose interval nobody declared is held in its window like a dense
        # one; when the window closes, the device's median sample spacing decides.
        interval = reading.interval_s
        return interval is None or 0 < interval <= self.settings.dense_interval_s

    def _spacing_s(self, device: str) -> float | None:
        """§2: the median spacing of the device's recent stream samples, if two are known."""
        times = self._sample_times.get(device, [])
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        gaps = [g for g in gaps if g > 0]
        return statistics.median(gaps) if gaps else None

    def _observation(self, reading: Reading) -> Observation:
        if reading.celsius is None or reading.value is None:  # _invalid_reason refused these
            raise ValueError(f"reading {_reading_ident(reading)} carries no temperature")
        return Observation(
            time=reading.time.astimezone(UTC),
            celsius=reading.celsius + self.settings.site_offset_c,
            value=reading.value,
            unit=reading.unit,
            device=reading.device,
            site=reading.site,
        )

    def _add_sample(self, reading: Reading, now: datetime) -> None:
        s = self.settings
        time = reading.time.astimezone(UTC)
        window_s = int(s.window.total_seconds())
        epoch_s = int(time.timestamp())
        start = datetime.fromtimestamp(epoch_s - epoch_s % window_s, UTC)
        key = (reading.device, start)
        # the device has moved past these windows: they will get no more samples
        for other_key, other in sorted(self._windows.items(), key=lambda kv: kv[0][1]):
            if other_key[0] == reading.device and other.end <= time and other_key != key:
                self._close_window(other_key)
        if key in self._window_done:
            return  # Choice: a window that gave its observation is not revised
        win = self._windows.get(key)
        if win is None:
            win = self._windows[key] = _Window(reading.device, start, start + s.window, now)
        win.samples.append(reading)
        if reading.interval_s is None:
            times = self._sample_times.setdefault(reading.device, [])
            bisect.insort(times, time)
            del times[:-SPACING_SAMPLES]
        win.last_arrival = max(win.last_arrival, now)

    def _close_window(self, key: tuple[str, datetime]) -> None:
        win = self._windows.pop(key)
        if all(r.interval_s is None for r in win.samples):
            spacing = self._spacing_s(win.device)
            if spacing is None or spacing > self.settings.dense_interval_s:
                # §2: "a slower stream's samples are observations one by one"; a lone
                # sample with no spacing known is kept too: a missed fever is the worst
                self._window_done.add(key)
                for reading in win.samples:
                    self._place(self._observation(reading), spot=False)
                return
        if len(win.samples) < self.settings.min_samples:
            return  # §2: a window cut short by a gap yields none
        self._window_done.add(key)
        celsius = statistics.median(r.celsius for r in win.samples if r.celsius is not None)
        value = statistics.median(r.value for r in win.samples if r.value is not None)
        first = win.samples[0]
        obs = Observation(
            time=win.end,
            celsius=celsius + self.settings.site_offset_c,
            value=Decimal(value),
            unit=first.unit,
            device=win.device,
            site=first.site,
            samples=len(win.samples),
        )
        self._place(obs, spot=False)

    # -- the time line (§3-§6) ------------------------------------------------------------

    def _place(self, obs: Observation, *, spot: bool) -> None:
        if not self.placement <= obs.time <= self.period_end:
            return  # §7: logged, but alerts nobody
        ident = f"{obs.device}|{obs.time.isoformat()}|{obs.value}{obs.unit.value}|{obs.samples}"
        item = _Obs(
            key=(obs.time, obs.device, ident),
            obs=obs,
            spot=spot,
            elevated=obs.celsius >= self._elevated_from_c,
            ident=ident,
            late=self._decision_time - obs.time > self._late_after,
        )
        index = bisect.bisect_left(self._keys, item.key)
        if index < len(self._keys) and self._keys[index] == item.key:
            return  # the same observation again (a resend): nothing new
        at_end = index == len(self._keys)
        self._keys.insert(index, item.key)
        self._timeline.insert(index, item)
        if item.elevated:
            e = bisect.bisect_left(self._elevated_times, item.time)
            self._elevated_times.insert(e, item.time)
            self._elevated.insert(e, item)
        last = self._episodes[-1] if self._episodes else None
        if at_end and (last is None or last.end is None or last.end < item.time):
            self._step(item, horizon=None)  # in order: one step of the walk
            self._finish_walk(horizon=None)
        else:
            self._rewalk(item.time, horizon=None, elevated=item.elevated)

    def _rewalk(
        self, changed: datetime, *, horizon: datetime | None, elevated: bool = True
    ) -> None:
        """Walk the time line again from the episode that ``changed`` lies in."""
        start = changed
        keep = len(self._episodes)
        resume: _Episode | None = None
        for i, ep in enumerate(self._episodes):
            if ep.end is not None and ep.end < changed:
                continue  # over before the change: it stands
            keep = i
            if ep.start.time < changed and ep.skipped_resolution is None:
                resume = self._state_before(ep, changed)
            else:
                start = min(changed, ep.start.time)
            break
        old = self._episodes[keep:]
        del self._episodes[keep:]
        if resume is not None:
            self._episodes.append(resume)
        # Once past the change (and the pair window after it, when an elevated observation
        # lies there to pair with), with no episode open in the new walk nor in the old one,
        # the walk would find again what it found before: stop there. This keeps a file
        # imported newest-first from costing the square of its length.
        later = bisect.bisect_right(self._elevated_times, changed)
        pairs_ahead = (
            elevated  # a normal observation is nobody's partner
            and later < len(self._elevated_times)
            and self._elevated_times[later] <= changed + self.settings.pair_window
        )
        settled = changed + self.settings.pair_window if pairs_ahead else changed
        begin = bisect.bisect_left(self._keys, (start, "", ""))
        for index in range(begin, len(self._timeline)):
            item = self._timeline[index]
            if (
                horizon is None
                and item.time > changed
                and self._rejoined(old, item, changed, settled)
            ):
                return
            self._step(item, horizon=horizon)
        self._finish_walk(horizon=horizon)

    def _rejoined(
        self, old: list[_Episode], item: _Obs, changed: datetime, settled: datetime
    ) -> bool:
        """Whether the walk, about to step on ``item``, is where the old walk was; splice it.

        Past the change, the steps depend only on the open episode's last elevated and
        first normal observations (and, with no episode open, on partners up to a pair
        window after the change). When neither walk has an episode open past ``settled``,
        or both have the same one open and its last elevated observation came after the
        change, the old walk's episodes from here on stand as they were. Partners chosen
        after this point may differ from a fresh walk's, but only for decisions the old
        walk has already made.
        """
        current = self._open()
        spanning = None
        for i, ep in enumerate(old):
            if ep.start.time < item.time and (ep.end is None or ep.end >= item.time):
                spanning = i
                break
        if current is None and spanning is None:
            if item.time <= settled:
                return False
            self._episodes.extend(ep for ep in old if ep.start.time >= item.time)
            return True
        if current is None or spanning is None:
            return False
        twin = old[spanning]
        if (
            current.start.key > twin.start.key
            or current.last_elevated.time <= changed
            or not _same_skips(current, twin, item.time)
        ):
            return False
        twin.start, twin.partner = current.start, current.partner
        twin.alerted = twin.alerted or current.alerted
        self._episodes.pop()
        self._episodes.extend(old[spanning:])
        return True

    def _state_before(self, ep: _Episode, time: datetime) -> _Episode:
        """The state of ``ep`` as the walk had it just before ``time`` (ep started earlier)."""
        pos = bisect.bisect_left(self._keys, (time, "", ""))
        last = pos - 1
        while not self._timeline[last].elevated:  # ep.start is elevated and earlier
            last -= 1
        after = last + 1
        first_normal = self._timeline[after] if after < pos else None
        return _Episode(
            start=ep.start,
            partner=ep.partner,
            last_elevated=self._timeline[last],
            first_normal=first_normal,
            alerted=ep.alerted,
        )

    def _open(self) -> _Episode | None:
        if self._episodes and self._episodes[-1].end is None:
            return self._episodes[-1]
        return None

    def _step(self, item: _Obs, *, horizon: datetime | None) -> None:
        """One step of the walk: the episode state just before ``item``, then ``item``."""
        s = self.settings
        ep = self._open()
        if ep is not None:
            self._maybe_close(ep, before=item.time, elevated=item.elevated, horizon=horizon)
            ep = self._open()
        if not item.elevated:
            if ep is not None and ep.first_normal is None:
                ep.first_normal = item
            return
        partner = self._partner(item)
        if ep is not None:
            ep.last_elevated = item
            ep.first_normal = None
            if partner is not None:
                self._maybe_ongoing(ep, partner, item)
            return
        if partner is not None:
            self._episodes.append(_Episode(start=item, partner=partner, last_elevated=item))
            return
        # §5: the first elevated observation tells the caregiver, not the clinic
        lo = bisect.bisect_left(self._elevated_times, item.time - s.pair_window)
        hi = bisect.bisect_left(self._elevated_times, item.time)
        if lo < hi:
            return  # another elevated observation in the pair window before it
        due = item.time + s.min_separation
        first_id = self._emit(
            DecisionType.ELEVATED_FIRST,
            (item.ident,),
            summary=f"Elevated: {_reading_text(item)} at {_hhmm(item.time)} UTC; "
            f"recheck due at {_hhmm(due)} UTC.",
            observations=(item,),
            trigger=item.time,
            due=due,
        )
        if first_id is not None and item.spot and due <= self.period_end:
            self._reminders[first_id] = _Reminder(due, item, first_id)

    def _partner(self, item: _Obs) -> _Obs | None:
        """§4: the earliest elevated A with min_separation <= B - A <= pair_window."""
        s = self.settings
        lo = bisect.bisect_left(self._elevated_times, item.time - s.pair_window)
        if lo < len(self._elevated) and self._elevated[lo].time <= item.time - s.min_separation:
            return self._elevated[lo]
        return None

    def _maybe_close(
        self, ep: _Episode, *, before: datetime, elevated: bool, horizon: datetime | None
    ) -> None:
        """Close ``ep`` if it ended before the observation at ``before`` (§5)."""
        # a resolution already told to the clinic stands, whatever arrives later
        r = bisect.bisect_left(self._resolved_at, ep.start.time)
        if r < len(self._resolved_at) and self._resolved_at[r] < before:
            self._close(ep, self._resolved_at[r], announce=False)
            return
        due = ep.resolution_due(self.settings.resolve_after)
        if due is None or due >= before or not elevated:
            return
        # an elevated observation after the due time: the episode would have resolved
        if horizon is not None and due <= horizon:
            self._close(ep, due, announce=True)
        elif ep.skipped_resolution is None or due < ep.skipped_resolution:
            ep.skipped_resolution = due

    def _finish_walk(self, *, horizon: datetime | None) -> None:
        ep = self._open()
        if ep is None:
            return
        r = bisect.bisect_left(self._resolved_at, ep.start.time)
        if r < len(self._resolved_at):
            # a resolution already told to the clinic stands, whatever arrived since
            self._close(ep, self._resolved_at[r], announce=False)
            return
        if horizon is not None:
            due = ep.resolution_due(self.settings.resolve_after)
            if due is not None and due <= horizon:
                self._close(ep, due, announce=True)
                return
        self._confirm_if_unalerted(ep, until=None)

    def _close(self, ep: _Episode, at: datetime, *, announce: bool) -> None:
        self._confirm_if_unalerted(ep, until=at)
        ep.end = at
        if not announce:
            return
        last, normal = ep.last_elevated, ep.first_normal
        if normal is None:  # resolution_due() is None without one: cannot happen
            raise ValueError("a resolution needs a normal observation after the last elevated")
        made = self._emit(
            DecisionType.FEVER_RESOLVED,
            (ep.start.ident, last.ident, normal.ident),
            summary=f"Fever resolved: nothing elevated since {_reading_text(last)} at "
            f"{_hhmm(last.time)} on {_day(last.time)}, {_duration_text(at - last.time)} "
            f"before; {_reading_text(normal)} at {_hhmm(normal.time)} on {_day(normal.time)} "
            "UTC was normal.",
            observations=(last, normal),
            trigger=at,
        )
        if made is not None:
            bisect.insort(self._resolved_at, at)

    def _confirm_if_unalerted(self, ep: _Episode, *, until: datetime | None) -> None:
        """§6: one "confirmed" per episode, whatever order its readings came in."""
        if ep.alerted:
            return
        c = bisect.bisect_left(self._confirmed_times, ep.start.time)
        if c < len(self._confirmed_times) and (until is None or self._confirmed_times[c] <= until):
            ep.alerted = True
            return
        a, b = ep.partner, ep.start
        made = self._emit(
            DecisionType.FEVER_CONFIRMED,
            (a.ident, b.ident),
            summary=_pair_sentence(a, b),
            observations=(a, b),
            trigger=b.time,
        )
        ep.alerted = True
        if made is not None:
            bisect.insort(self._confirmed_times, b.time)
            bisect.insort(self._alert_times, b.time)

    def _maybe_ongoing(self, ep: _Episode, a: _Obs, b: _Obs) -> None:
        """§5: a further confirmation at least realert_after after the last alert."""
        i = bisect.bisect_right(self._alert_times, b.time)
        last = ep.start.time
        if i > 0:
            last = max(last, self._alert_times[i - 1])
        if b.time - last < self.settings.realert_after:
            return
        made = self._emit(
            DecisionType.FEVER_ONGOING,
            (a.ident, b.ident),
            summary="Fever ongoing: " + _pair_sentence(a, b),
            observations=(a, b),
            trigger=b.time,
        )
        if made is not None:
            bisect.insort(self._alert_times, b.time)

    # -- time-driven work -----------------------------------------------------------------

    def _next_due(self) -> tuple[datetime | None, Callable[[], None] | None]:
        best: tuple[datetime | None, Callable[[], None] | None] = (None, None)

        def offer(due: datetime, action: Callable[[], None]) -> None:
            nonlocal best
            if best[0] is None or due < best[0]:
                best = (due, action)

        grace = self.settings.window
        for key, win in self._windows.items():
            offer(max(win.end, win.last_arrival) + grace, partial(self._close_window, key))
        for reminder in self._reminders.values():
            offer(reminder.due, partial(self._run_reminder, reminder))
        ep = self._open()
        if ep is not None:
            due = ep.resolution_due(self.settings.resolve_after)
            candidates = [d for d in (due, ep.skipped_resolution) if d is not None]
            if candidates:
                first = min(candidates)
                offer(first, partial(self._run_resolve, ep, first))
        return best

    def _run_reminder(self, reminder: _Reminder) -> None:
        del self._reminders[reminder.first_id]
        if reminder.due > self.period_end or self._confirmed_by(reminder.first.time, reminder.due):
            return
        first = reminder.first
        self._emit(
            DecisionType.RECHECK_DUE,
            (first.ident,),
            summary=f"Recheck due: please take a temperature now; {_reading_text(first)} "
            f"at {_hhmm(first.time)} UTC was elevated.",
            observations=(first,),
            trigger=reminder.due,
            due=reminder.due,
        )

    def _confirmed_by(self, since: datetime, due: datetime) -> bool:
        for ep in reversed(self._episodes):
            if ep.start.time <= due and (ep.end is None or ep.end >= since):
                return True
            if ep.start.time < since:
                break
        return False

    def _run_resolve(self, ep: _Episode, due: datetime) -> None:
        self._rewalk(ep.start.time, horizon=due)

    # -- decisions ------------------------------------------------------------------------

    def _emit(
        self,
        type_: DecisionType,
        facts: tuple[str, ...],
        *,
        summary: str,
        observations: tuple[_Obs, ...] = (),
        trigger: datetime | None = None,
        due: datetime | None = None,
        reason: str | None = None,
    ) -> uuid.UUID | None:
        """Record one decision unless it was made before; return its id when new."""
        ident = derived_id(self.patient, type_.value, *facts)
        if ident in self._decided:
            return None
        self._decided.add(ident)
        time = self._decision_time
        late = (trigger is not None and time - trigger > self._late_after) or any(
            o.late for o in observations
        )
        obs = tuple(
            Observation(
                time=o.obs.time,
                celsius=o.obs.celsius,
                value=o.obs.value,
                unit=o.obs.unit,
                device=o.obs.device,
                site=o.obs.site,
                samples=o.obs.samples,
                late=o.late,
            )
            for o in observations
        )
        self._out.append(
            Decision(
                id=ident,
                type=type_,
                time=time,
                summary=summary,
                observations=obs,
                late=late,
                due=due,
                reason=reason,
                settings=self._settings_pairs,
            )
        )
        return ident


def _same_skips(current: _Episode, twin: _Episode, time: datetime) -> bool:
    """Whether both walks will end with the same skipped resolution from ``time`` on.

    A skipped resolution found before ``time`` is due before it, so an old one due after
    ``time`` lies in the steps both walks share; the new walk must then have none yet.
    """
    if current.skipped_resolution == twin.skipped_resolution:
        return True
    return current.skipped_resolution is None and (
        twin.skipped_resolution is not None and twin.skipped_resolution > time
    )


# ---------------------------------------------------------------------------------------
# Sentences a nurse can read aloud


def _reading_text(item: _Obs) -> str:
    """The value with the device's own digits (at most two decimals).

    Never rounded to one decimal: a wearable's 38.27 °C is normal while 38.3 °C is
    elevated, and a sentence saying "38.3 °C ... was normal" would mislead the nurse.
    """
    obs = item.obs
    unit = "°F" if obs.unit is Unit.FAHRENHEIT else "°C"
    value = obs.value
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -_SUMMARY_DECIMALS:
        value = value.quantize(Decimal(1).scaleb(-_SUMMARY_DECIMALS), rounding=ROUND_HALF_EVEN)
    return f"{value} {unit}"


def _hhmm(time: datetime) -> str:
    return time.astimezone(UTC).strftime("%H:%M")


def _day(time: datetime) -> str:
    return time.astimezone(UTC).strftime("%d %b")


def _pair_sentence(a: _Obs, b: _Obs) -> str:
    """ "101.3 °F at 08:15 and 101.8 °F at 12:40 UTC, 4 h 25 min apart" (issue 5)."""
    if _day(a.time) == _day(b.time):
        when_a, when_b = _hhmm(a.time), _hhmm(b.time)
    else:
        when_a = f"{_hhmm(a.time)} on {_day(a.time)}"
        when_b = f"{_hhmm(b.time)} on {_day(b.time)}"
    return (
        f"{_reading_text(a)} at {when_a} and {_reading_text(b)} at {when_b} UTC, "
        f"{_duration_text(b.time - a.time)} apart"
    )


def _duration_text(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    if hours:
        return f"{hours} h"
    return f"{minutes} min"


def _reading_ident(reading: Reading) -> str:
    value = reading.value if reading.value is not None else reading.special
    return f"{reading.device}|{reading.time.isoformat()}|{value}{reading.unit.value}"
