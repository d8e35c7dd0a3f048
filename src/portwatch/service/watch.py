"""The stale-data watch, as a pure function of (last valid reading, its kind, pauses, fever, now).

alerts.md: a thermometer silent for ``stale_after`` (30 min) is reported to the caregiver,
sooner and repeatedly (every ``stale_after_pending``, 10 min) while a fever waits for its
recheck, and "back" is said when readings return.

That is a wearable's promise (a STREAM thermometer sends a sample every second or minute:
30 min without one means it is off, flat or out of range). A spot thermometer (Bluetooth
HTS taken a few times a day, or a reading typed in by hand: ReadingKind.SPOT) is silent
between readings by design; held to 30 min it told the caregiver "silent" after every
reading and "back" at the next, two notices of noise per temperature (issue 19). So the
kind of the last valid reading picks the limit (:func:`silence_limit`): ``stale_after``
for a stream, ``spot_stale_after`` (16 h: no temperature since last evening) for a spot
reading. While a fever waits for a spot recheck, the rule itself already sends "Recheck
due: please take a temperature now" at the due time (fever-rule.md §5); the watch does not
repeat that, nor count 10 min from the last reading (hours before the recheck may even be
taken). It speaks once, urgently, when the recheck is overdue: ``stale_after_pending``
after the due time with no reading since. A reading at or after the due time was the
recheck, and the spot limit applies again. ``portwatch pause 30m --reason shower``
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

from portwatch.model import ReadingKind

__all__ = [
    "MAX_PAUSE",
    "SPOT_STALE_AFTER",
    "Pause",
    "PauseError",
    "StaleCheck",
    "StaleSay",
    "make_pause",
    "silence_limit",
    "stale_state",
]

# issue 7: "portwatch pause 30m --reason shower (at most 2 h)".
MAX_PAUSE: Final = timedelta(hours=2)
# alerts.md: thermometer silent for stale_after (30 min); sooner while a fever is pending.
STALE_AFTER: Final = timedelta(minutes=30)
STALE_AFTER_PENDING: Final = timedelta(minutes=10)
# Issue 19: a spot thermometer is taken a few times a day. 16 h covers a night between an
# evening and a morning reading (20:00 to 08:30 is 12.5 h: a 12 h limit spoke every night)
# and still tells the caregiver the same day when no temperature has come since last evening.
SPOT_STALE_AFTER: Final = timedelta(hours=16)


def silence_limit(
    kind: ReadingKind,
    *,
    stale_after: timedelta = STALE_AFTER,
    spot_stale_after: timedelta = SPOT_STALE_AFTER,
) -> timedelta:
    """How long a thermometer whose last reading was of ``kind`` may be silent: a stream
    (a wearable) ``stale_after``; a spot or hand reading (and a spot thermometer's
    provisional one) ``spot_stale_after``. The page greys a reading by the same limit."""
    return stale_after if kind is ReadingKind.STREAM else spot_stale_after


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
    kind: ReadingKind = ReadingKind.STREAM,
    spot_stale_after: timedelta = SPOT_STALE_AFTER,
    recheck_due: datetime | None = None,
) -> StaleCheck:
    """What the stale-data watch says at ``now``, and when it should look next.

    ``last_valid_reading_time`` is the time of the last valid reading (or when watching
    began) and ``kind`` that reading's kind (STREAM when none is known: the stricter
    limit); ``last_notice`` is when the last stale notice of the current silence was sent.
    A reading newer than ``last_notice`` means the thermometer is back. ``recheck_due`` is
    when the rule asks for the pending fever's recheck: for a spot thermometer the watch
    then waits for it (module docstring); unknown (None), a pending fever is watched at
    the stream's 10-minute cadence, the loud side.
    """
    spot = kind is not ReadingKind.STREAM
    silent_total = now - last_valid_reading_time
    if last_notice is not None and last_valid_reading_time > last_notice:
        look = stale_after_pending if fever_pending else stale_after
        return StaleCheck(StaleSay.BACK, silent_total, now + look)

    if fever_pending and spot and recheck_due is not None:
        if last_valid_reading_time < recheck_due:
            overdue_at = recheck_due + stale_after_pending
            return _recheck_watch(silent_total, overdue_at, now, last_notice, stale_after)
        # The recheck was taken: the plain spot limit below.
    elif fever_pending:
        if silent_total < stale_after_pending:
            next_check = last_valid_reading_time + stale_after_pending
            return StaleCheck(None, silent_total, next_check)
        if last_notice is None or now - last_notice >= stale_after_pending:
            return StaleCheck(StaleSay.STALE_PENDING, silent_total, now + stale_after_pending)
        return StaleCheck(None, silent_total, last_notice + stale_after_pending)

    limit = silence_limit(kind, stale_after=stale_after, spot_stale_after=spot_stale_after)
    pause_list = list(pauses)
    silent = silent_total - _paused_within(pause_list, last_valid_reading_time, now)
    active = [p for p in pause_list if p.start <= now < p.effective_end()]
    paused_until = max((p.effective_end() for p in active), default=None)
    if silent < limit:
        remaining = limit - silent
        # During a pause the silence stops counting until the pause ends; checking at the
        # pause's end (or sooner, for a fever that becomes pending) is enough. A spot
        # thermometer's hours-long limit is looked at every stale_after all the same.
        next_check = (paused_until if paused_until else now) + remaining
        if spot:
            next_check = min(next_check, now + stale_after)
        return StaleCheck(None, silent, next_check, paused_until)
    if last_notice is None:
        return StaleCheck(StaleSay.STALE, silent, now + stale_after, paused_until)
    # Already said once for this silence; look again in case a fever becomes pending.
    return StaleCheck(None, silent, now + stale_after_pending, paused_until)


def _recheck_watch(
    silent: timedelta,
    overdue_at: datetime,
    now: datetime,
    last_notice: datetime | None,
    look: timedelta,
) -> StaleCheck:
    """A pending fever's spot recheck not yet taken: nothing before ``overdue_at`` (the
    rule's own reminder speaks at the due time), then one urgent notice for that recheck.
    Pauses do not count here: a pause never silences the fever path."""
    if now < overdue_at:
        return StaleCheck(None, silent, min(overdue_at, now + look))
    if last_notice is None or last_notice < overdue_at:
        return StaleCheck(StaleSay.STALE_PENDING, silent, now + look)
    return StaleCheck(None, silent, now + look)
