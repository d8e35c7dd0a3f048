"""The stale-data watch, as a pure function of (last valid reading, pauses, fever pending, now).

alerts.md: a thermometer silent for ``stale_after`` (30 min) is reported to the caregiver,
sooner and repeatedly (every ``stale_after_pending``, 10 min) while a fever waits for its
recheck, and "back" is said when readings return. ``portwatch pause 30m --reason shower``
(at most 2 h) takes the thermometer off the body on purpose: paused time does not count
as silence. A pause never silences the fever path: while a fever is pending, pauses are
ignored (a pending fever is exactly when a silent thermometer matters most).

The daemon calls :func:`stale_state` whenever a reading arrives or the returned
``next_check`` comes, and records each notice it sends as ``last_notice``. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

__all__ = [
    "MAX_PAUSE",
    "Pause",
    "PauseError",
    "StaleCheck",
    "StaleSay",
    "make_pause",
    "stale_state",
]

# issue 7: "portwatch pause 30m --reason shower (at most 2 h)".
MAX_PAUSE: Final = timedelta(hours=2)
# alerts.md: thermometer silent for stale_after (30 min); sooner while a fever is pending.
STALE_AFTER: Final = timedelta(minutes=30)
STALE_AFTER_PENDING: Final = timedelta(minutes=10)


class PauseError(ValueError):
    """A pause that cannot be granted (too long, not positive, no reason, naive time)."""


class StaleSay(StrEnum):
    """What the watch has to say; each value is also the notice kind sent."""

    STALE = "watch.stale"
    STALE_PENDING = "watch.stale_pending"
    BACK = "watch.back"


@dataclass(frozen=True, slots=True)
class Pause:
    """The thermometer is off the body on purpose from ``start`` to ``end``."""

    start: datetime
    end: datetime
    reason: str

    def effective_end(self) -> datetime:
        """``end``, but never more than :data:`MAX_PAUSE` after ``start`` (a note read back
        from the log is trusted no further than the command that wrote it)."""
        return min(self.end, self.start + MAX_PAUSE)


def make_pause(start: datetime, duration: timedelta, reason: str) -> Pause:
    """A pause from ``start`` for ``duration``, checked against the 2 h limit.

    Raises:
        PauseError: for a duration not in (0, 2 h], an empty reason or a naive start.
    """
    if start.tzinfo is None:
        raise PauseError(f"start = {start.isoformat()}: must be an aware datetime")
    if not timedelta(0) < duration <= MAX_PAUSE:
        raise PauseError(
            f"duration = {duration}: a pause lasts more than zero and at most "
            f"{MAX_PAUSE} (the thermometer must not be off the body longer)"
        )
    if not reason.strip():
        raise PauseError("reason = '': say why the thermometer is off (e.g. 'shower')")
    return Pause(start, start + duration, reason.strip())


@dataclass(frozen=True, slots=True)
class StaleCheck:
    """The watch's verdict: what to say now (if anything) and when to look again."""

    say: StaleSay | None
    silent_for: timedelta  # unpaused silence since the last valid reading
    next_check: datetime
    paused_until: datetime | None = None


def _paused_within(pauses: Iterable[Pause], start: datetime, end: datetime) -> timedelta:
    """Total paused time inside [start, end], overlapping pauses counted once."""
    spans = sorted(
        (max(p.start, start), min(p.effective_end(), end))
        for p in pauses
        if p.start < end and p.effective_end() > start
    )
    total = timedelta(0)
    cursor = start
    for span_start, span_end in spans:
        span_start = max(span_start, cursor)
        if span_end > span_start:
            total += span_end - span_start
            cursor = span_end
    return total


def stale_state(
    last_valid_reading_time: datetime,
    pauses: Iterable[Pause],
    fever_pending: bool,
    now: datetime,
    *,
    last_notice: datetime | None = None,
    stale_after: timedelta = STALE_AFTER,
    stale_after_pending: timedelta = STALE_AFTER_PENDING,
) -> StaleCheck:
    """What the stale-data watch says at ``now``, and when it should look next.

    ``last_valid_reading_time`` is the time of the last valid reading (or when watching
    began); ``last_notice`` is when the last stale notice of the current silence was sent.
    A reading newer than ``last_notice`` means the thermometer is back.
    """
    if last_notice is not None and last_valid_reading_time > last_notice:
        limit = stale_after_pending if fever_pending else stale_after
        return StaleCheck(StaleSay.BACK, now - last_valid_reading_time, now + limit)

    if fever_pending:
        silent = now - last_valid_reading_time
        if silent < stale_after_pending:
            return StaleCheck(None, silent, last_valid_reading_time + stale_after_pending)
        if last_notice is None or now - last_notice >= stale_after_pending:
            return StaleCheck(StaleSay.STALE_PENDING, silent, now + stale_after_pending)
        return StaleCheck(None, silent, last_notice + stale_after_pending)

    pause_list = list(pauses)
    silent = (now - last_valid_reading_time) - _paused_within(
        pause_list, last_valid_reading_time, now
    )
    active = [p for p in pause_list if p.start <= now < p.effective_end()]
    paused_until = max((p.effective_end() for p in active), default=None)
    if silent < stale_after:
        remaining = stale_after - silent
        # During a pause the silence stops counting until the pause ends; checking at the
        # pause's end (or sooner, for a fever that becomes pending) is enough.
        next_check = (paused_until if paused_until else now) + remaining
        return StaleCheck(None, silent, next_check, paused_until)
    if last_notice is None:
        return StaleCheck(StaleSay.STALE, silent, now + stale_after, paused_until)
    # Already said once for this silence; look again in case a fever becomes pending.
    return StaleCheck(None, silent, now + stale_after_pending, paused_until)
