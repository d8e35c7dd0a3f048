"""The fever rule (shared/spec/fever-rule.md): readings in, decisions out. Pure.

One :class:`FeverRule` per patient. :meth:`FeverRule.feed` takes one reading and the time
it reached the gateway; :meth:`FeverRule.advance` takes the time and makes the decisions
that time alone brings (a stream window closing, a recheck reminder, a resolution).
Neither reads a clock, does I/O or logs: the daemon, ``portwatch replay``, ``import`` and
the tests all drive the same code with their own notion of now.

The rooms: :mod:`~portwatch.fever.settings` (the numbers and the one threshold
comparison), :mod:`~portwatch.fever.windows` (stream samples into observations, late ones
included), :mod:`~portwatch.fever.episodes` (the walk along the time line that finds
episodes and tells them), :mod:`~portwatch.fever.decisions` (ids, times, "late") and
:mod:`~portwatch.fever.sentences` (what a nurse reads aloud). This module checks readings
(§1) and keeps the time.

Time. What is due at T (a window closing, a reminder, a resolution) is decided once rule
time has passed T, at the first :meth:`advance` or :meth:`feed` with a later ``now``, and
carries the decision time max(T, when the readings behind it arrived). ``advance`` at an
unchanged time decides nothing. So the decisions, their ids and their times depend only
on the readings and the times they arrived, not on when the scheduler ticks, which is
what lets :meth:`rebuild` reproduce them after a restart. Readings that arrive at one
instant (a file, a dump of stored measurements) are all placed before anything is
declared over.

Late and repeated data. A reading is placed at its own time however late it comes; a late
stream sample completes or revises its window (§2) for as long as the window is kept;
an exact repeat (same device, time and value) is one reading on every path.

Cost. In time order: O(log n) a reading. Out of order: the walk from the reading to
where it rejoins the old walk, at most the open episode and one pair window after it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from functools import partial

from portwatch.fever.decisions import Ledger
from portwatch.fever.episodes import EpisodeWalk
from portwatch.fever.sentences import duration_text, hhmm, reading_ident
from portwatch.fever.settings import (
    BEFORE_PLACEMENT,
    ELEVATED_MARGIN_C,
    LATE_WINDOWS,
    MANUAL_DEVICE,
    THRESHOLD_MAX_F,
    THRESHOLD_MIN_F,
    WINDOW_MIN,
    RuleSettings,
    RuleSettingsError,
    counts_as_pinned,
    fahrenheit_to_celsius,
)
from portwatch.fever.windows import StreamWindows, WindowChange, is_windowed
from portwatch.model import Decision, DecisionType, Observation, Reading, ReadingKind

__all__ = [
    "BEFORE_PLACEMENT",
    "ELEVATED_MARGIN_C",
    "MANUAL_DEVICE",
    "THRESHOLD_MAX_F",
    "THRESHOLD_MIN_F",
    "WINDOW_MIN",
    "FeverRule",
    "RuleSettings",
    "RuleSettingsError",
    "fahrenheit_to_celsius",
    "invalid_reason",
]


def invalid_reason(
    reading: Reading,
    settings: RuleSettings,
    *,
    placement: datetime | None,
    pinned_device: str | None,
    now: datetime | None,
) -> str | None:
    """§1: why a reading is invalid (kept in the log with this reason), or None.

    The one statement of §1's checks: an importer that knows no receiving clock or no
    placement yet passes None and those checks are skipped (§8: kept as invalid with the
    reason, never refused).
    """
    s = settings
    if reading.invalid_reason is not None:
        return reading.invalid_reason
    if reading.special is not None or reading.celsius is None:
        special = reading.special.value if reading.special is not None else "none"
        return f"special value {special}: no temperature"
    if not s.min_celsius <= reading.celsius <= s.max_celsius:
        return f"{reading.celsius:.2f} °C is outside {s.min_celsius}-{s.max_celsius} °C"
    if now is not None and reading.time > now + s.max_future_skew:
        return (
            f"time {reading.time.isoformat()} is more than "
            f"{duration_text(s.max_future_skew)} ahead of the receiving clock"
        )
    if placement is not None and reading.time < placement - BEFORE_PLACEMENT:
        return f"time {reading.time.isoformat()} is before the placement less one day"
    if not counts_as_pinned(reading.device, pinned_device):
        return f"device {reading.device} is not the pinned device {pinned_device}"
    return None


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
        self._ledger = Ledger(
            patient, settings.as_pairs(), settings.window * LATE_WINDOWS, self.placement
        )
        self._walk = EpisodeWalk(settings, self._ledger, self.placement, self.period_end)
        self._windows = StreamWindows(settings)
        self._now: datetime | None = None  # rule time: the latest now seen
        self._known: datetime = self.placement  # now of the latest feed

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

        The reading may be late, out of order or a repeat; it is placed at its own time.
        When ``now`` is later than any time seen before, what that time brings is decided
        first (as :meth:`advance` would).
        """
        now = self._clamp(now)
        before = self._advance(now) if self._now is None or now > self._now else []
        self._known = now
        out = self._take(reading, now)
        if before:
            out = before + out
            out.sort(key=lambda d: d.time)
        return out

    def _take(self, reading: Reading, now: datetime) -> list[Decision]:
        made = self._ledger.collect(now)
        reason = invalid_reason(
            reading,
            self.settings,
            placement=self.placement,
            pinned_device=self.pinned_device,
            now=now,
        )
        if reason is not None:
            self._ledger.emit(
                DecisionType.READING_INVALID,
                (reading_ident(reading),),
                summary=f"Reading from {reading.device} at {hhmm(reading.time)} UTC not "
                f"used: {reason}.",
                reason=reason,
            )
        elif reading.kind is ReadingKind.PROVISIONAL:
            pass  # §1: logged and shown, never used by the rule
        elif reading.kind is ReadingKind.STREAM and is_windowed(reading, self.settings):
            self._apply(self._windows.add(_in_utc(reading), now))
        else:
            self._walk.place(self._observation(reading), spot=reading.kind is ReadingKind.SPOT)
        return made

    def advance(self, now: datetime) -> list[Decision]:
        """Decide what the passing of time brings before ``now``. Idempotent.

        Stream windows that waited long enough close; recheck reminders fall due; open
        episodes resolve. Each happens at its own due time, in time order, whatever the
        times at which ``advance`` is called.
        """
        return self._advance(self._clamp(now))

    def _advance(self, now: datetime) -> list[Decision]:
        if self._now is not None and now <= self._now:
            # Time has not moved: what the latest readings made due is decided at the next
            # later time (with the same decision time), so that a scheduler tick between
            # two readings received at one instant changes nothing (§6).
            return []
        self._now = now
        out = self._ledger.collect(self._known)
        while True:
            work = self._next_due()
            # Strictly before now: what is due at T is decided once T has passed, so that a
            # reading stamped exactly T (a recheck at T + 4 h, an elevated reading exactly
            # resolve_after later) counts, however the ticks of the scheduler fall.
            if work is None or work[0] >= now:
                break
            self._ledger.time = max(work[0], self._known)
            work[1]()
        self._windows.prune(now)
        out.sort(key=lambda d: d.time)
        return out

    def observations(self) -> list[Observation]:
        """Every observation placed so far, in time order (for reports and tests)."""
        return [o.obs for o in self._walk.timeline.items]

    def samples_held(self) -> int:
        """Stream samples kept for late ones (bounded by the horizon; for the benchmark)."""
        return len(self._windows)

    # -- internals ------------------------------------------------------------------------

    def _clamp(self, now: datetime) -> datetime:
        if now.tzinfo is None:
            raise ValueError(f"now {now.isoformat()} has no time zone")
        if now.tzinfo is not UTC:
            now = now.astimezone(UTC)
        return now if self._now is None or now > self._now else self._now

    def _next_due(self) -> tuple[datetime, Callable[[], None]] | None:
        """The first thing time decides: a window closing, a reminder, a resolution (in
        that order on a tie). A resolution waits for every window that ends by its time:
        samples already received may show the fever went on (nothing is declared over
        before what arrived is placed)."""
        window = self._windows.next_due()
        reminder = self._walk.next_reminder()
        resolution = self._walk.next_resolution()
        if reminder is None and resolution is None:  # the common case: a window, or nothing
            return None if window is None else (window[0], partial(self._close_window, window[1]))
        work: list[tuple[datetime, int, Callable[[], None]]] = []
        if window is not None:
            work.append((window[0], 0, partial(self._close_window, window[1])))
        if reminder is not None:
            work.append((reminder[0], 1, reminder[1]))
        if resolution is not None:
            blocking = self._windows.next_due(ending_by=resolution[0])
            if blocking is None:
                work.append((resolution[0], 2, resolution[1]))
            else:
                work.append((blocking[0], 0, partial(self._close_window, blocking[1])))
        if not work:
            return None
        due, _, action = min(work, key=lambda w: (w[0], w[1]))
        return due, action

    def _close_window(self, key: tuple[str, int]) -> None:
        self._apply(self._windows.close(key))

    def _apply(self, changes: list[WindowChange]) -> None:
        offset = self.settings.site_offset_c
        for before, made in changes:
            now = [dataclasses.replace(o, celsius=o.celsius + offset) for o in made]
            if before is None:
                for obs in now:
                    self._walk.place(obs, spot=False)
            else:
                self._walk.replace(before, now)

    def _observation(self, reading: Reading) -> Observation:
        if reading.celsius is None or reading.value is None:  # invalid_reason refused these
            raise ValueError(f"reading {reading_ident(reading)} carries no temperature")
        return Observation(
            time=reading.time.astimezone(UTC),
            celsius=reading.celsius + self.settings.site_offset_c,
            value=reading.value,
            unit=reading.unit,
            device=reading.device,
            site=reading.site,
        )


def _in_utc(reading: Reading) -> Reading:
    if reading.time.tzinfo is UTC:
        return reading
    return dataclasses.replace(reading, time=reading.time.astimezone(UTC))
