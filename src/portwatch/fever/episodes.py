"""Episodes (§4-§6): the walk along the time line that finds them, and what it tells.

The episodes are what one walk along the time line finds: an elevated observation with
an elevated partner 4-24 h before it opens an episode unless one is open; an episode
closes at the later of its last elevated observation plus ``resolve_after`` and the first
normal observation after it. An observation in time order extends the walk by one step
(a binary search for its partner). One that lands in the past (or a window revised by
late samples) re-walks from the state just before it and stops where the new walk meets
the old one. What was told is remembered by observation time (:class:`Told`), so a
re-walk never alerts an episode twice (§6) and nothing told is withdrawn: a resolution
told stands for the episode it closed, and elevated observations after the last one it
cited are judged like new ones: a pair among them starts a new episode, told late.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from portwatch.fever.decisions import Ledger
from portwatch.fever.sentences import day, duration_text, hhmm, observation_ident, pair_sentence
from portwatch.fever.sentences import reading_text as _text
from portwatch.fever.settings import RuleSettings, Threshold
from portwatch.fever.timeline import Episode, Placed, Timeline
from portwatch.model import DecisionType, Observation

__all__ = ["EpisodeWalk", "Told"]

# when, and what
Work = tuple[datetime, Callable[[], None]]


@dataclass(frozen=True, slots=True)
class _Reminder:
    due: datetime
    first: Placed
    first_id: uuid.UUID


@dataclass(slots=True)
class Told:
    """What has been told, by the times of the observations behind it (§6)."""

    confirmed: list[datetime] = field(default_factory=list)  # time of each "confirmed" B
    alerts: list[datetime] = field(default_factory=list)  # confirmed and ongoing
    resolutions: list[tuple[datetime, datetime]] = field(default_factory=list)  # (last, at)
    firsts: set[tuple[datetime, str]] = field(default_factory=set)  # (time, device)

    def resolution_for(self, start: datetime) -> tuple[datetime, datetime] | None:
        """The told resolution of the episode confirmed at ``start``: the first whose last
        elevated observation is not before it."""
        r = bisect.bisect_left(self.resolutions, (start, start))
        return self.resolutions[r] if r < len(self.resolutions) else None

    def covers(self, start: datetime, until: datetime | None, since: datetime) -> bool:
        """Whether a told "confirmed" lies in the episode confirmed at ``start`` and ending at
        ``until``: then it was told, whatever order its readings came in (§6).

        Or one lies earlier in it, from its partner at ``since`` on, and no resolution was
        told after it: the clinic believes that fever goes on. So it is when late samples
        revise the told B's window to normal and the next window confirms with the same
        partner (§2: nothing told is withdrawn); a second "confirmed" would be a duplicate.
        With a resolution told, the episode is a new one and is told (§6).
        """
        c = bisect.bisect_left(self.confirmed, start)
        if c < len(self.confirmed) and (until is None or self.confirmed[c] <= until):
            return True
        if c == 0:
            return False
        told = self.confirmed[c - 1]
        return told >= since and self.resolution_for(told) is None


class EpisodeWalk:
    """The time line, the episodes on it and what has been told about them.

    Args:
        settings: the clinic's numbers.
        ledger: where decisions go.
        placement, period_end: the monitored period (§7), both ends inclusive.
    """

    def __init__(
        self, settings: RuleSettings, ledger: Ledger, placement: datetime, period_end: datetime
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.placement = placement
        self.period_end = period_end
        self._threshold = Threshold(settings)
        self.timeline = Timeline()
        self.episodes: list[Episode] = []  # sorted by start
        self.told = Told()
        self._reminders: dict[uuid.UUID, _Reminder] = {}
        self._firsts: list[Placed] = []  # candidates of the current walk

    # -- observations in ------------------------------------------------------------------

    def place(self, obs: Observation, *, spot: bool) -> None:
        """Put one observation on the time line and decide what it brings."""
        item = self._placed(obs, spot)
        if item is None:
            return
        index = self.timeline.insert(item)
        if index is None:
            return  # the same observation again (a resend): nothing new
        last = self.episodes[-1] if self.episodes else None
        if index == len(self.timeline) - 1 and (
            last is None or last.end is None or last.end < item.time
        ):
            self._step(item, horizon=None)  # in order: one step of the walk
            self._finish_walk(horizon=None)
        else:
            self._rewalk(item.time, horizon=None, elevated=item.elevated)
        if self._firsts:
            self._tell_firsts()

    def replace(self, old: Observation, new: list[Observation]) -> None:
        """A window revised by late samples (§2): its new observation replaces the old."""
        removed = self.timeline.remove((old.time, old.device, observation_ident(old)))
        if removed is None:
            for obs in new:
                self.place(obs, spot=False)
            return
        for obs in new:
            item = self._placed(obs, spot=False)
            if item is not None:
                self.timeline.insert(item)
        self._rewalk(old.time, horizon=None, elevated=True)
        self._tell_firsts()

    def _placed(self, obs: Observation, spot: bool) -> Placed | None:
        if not self.placement <= obs.time <= self.period_end:
            return None  # §7: logged, but alerts nobody
        ident = observation_ident(obs)
        ledger = self.ledger
        return Placed(
            key=(obs.time, obs.device, ident),
            obs=obs,
            spot=spot,
            elevated=self._threshold.is_elevated(obs.celsius),
            ident=ident,
            late=ledger.time - obs.time > ledger.late_after,  # Ledger.is_late, inline
        )

    # -- the walk -------------------------------------------------------------------------

    def open(self) -> Episode | None:
        if self.episodes and self.episodes[-1].end is None:
            return self.episodes[-1]
        return None

    def _rewalk(self, changed: datetime, *, horizon: datetime | None, elevated: bool) -> None:
        """Walk the time line again from the episode that ``changed`` lies in."""
        start, keep, resume = changed, len(self.episodes), None
        for i, ep in enumerate(self.episodes):
            if ep.end is not None and ep.end < changed:
                continue  # over before the change: it stands
            keep = i
            told = self.told.resolution_for(ep.start.time) is not None
            if ep.start.time < changed and ep.skipped_resolution is None and not told:
                resume = self._state_before(ep, changed)
            else:
                start = min(changed, ep.start.time)
            break
        old = self.episodes[keep:]
        del self.episodes[keep:]
        if resume is not None:
            self.episodes.append(resume)
        # Once past the change (and the pair window after it, when an elevated observation
        # lies there to pair with), with no episode open in the new walk nor in the old one,
        # the walk would find again what it found before: stop there. This keeps a file
        # imported newest-first from costing the square of its length.
        pairs_ahead = elevated and self.timeline.elevated_after(changed, self.settings.pair_window)
        settled = changed + self.settings.pair_window if pairs_ahead else changed
        items = self.timeline.items
        for index in range(self.timeline.index(start), len(items)):
            item = items[index]
            if (
                horizon is None
                and item.time > changed
                and self._rejoined(old, item, changed, settled)
            ):
                return
            self._step(item, horizon=horizon)
        self._finish_walk(horizon=horizon)

    def _rejoined(
        self, old: list[Episode], item: Placed, changed: datetime, settled: datetime
    ) -> bool:
        """Whether the walk, about to step on ``item``, is where the old walk was; splice it.

        Past the change, the steps depend only on the open episode's last elevated and
        first normal observations (and, with no episode open, on partners up to a pair
        window after the change). When neither walk has an episode open past ``settled``,
        or both have the same one open and its last elevated observation came after the
        change, the old walk's episodes from here on stand as they were.
        """
        current = self.open()
        spanning = None
        for i, ep in enumerate(old):
            if ep.start.time < item.time and (ep.end is None or ep.end >= item.time):
                spanning = i
                break
        if current is None and spanning is None:
            if item.time <= settled:
                return False
            self.episodes.extend(ep for ep in old if ep.start.time >= item.time)
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
        self.episodes.pop()
        self.episodes.extend(old[spanning:])
        return True

    def _state_before(self, ep: Episode, time: datetime) -> Episode:
        """The state of ``ep`` as the walk had it just before ``time`` (ep started earlier)."""
        pos = self.timeline.index(time)
        last = self.timeline.last_elevated_before(pos)  # ep.start is elevated and earlier
        items = self.timeline.items
        return Episode(
            start=ep.start,
            partner=ep.partner,
            last_elevated=items[last],
            first_normal=items[last + 1] if last + 1 < pos else None,
            alerted=ep.alerted,
        )

    def _step(self, item: Placed, *, horizon: datetime | None) -> None:
        """One step of the walk: the episode state just before ``item``, then ``item``."""
        s = self.settings
        ep = self.open()
        if ep is not None:
            self._maybe_close(ep, item, horizon=horizon)
            ep = self.open()
        if not item.elevated:
            if ep is not None and ep.first_normal is None:
                ep.first_normal = item
            return
        partner = self.timeline.partner(item.time, s.min_separation, s.pair_window)
        if ep is not None:
            ep.last_elevated = item
            ep.first_normal = None
            if partner is not None:
                self._maybe_ongoing(ep, partner, item)
            return
        if partner is not None:
            self.episodes.append(Episode(start=item, partner=partner, last_elevated=item))
        elif not self.timeline.elevated_between(item.time - s.pair_window, item.time):
            self._firsts.append(item)  # §5: told once the walk knows its episodes

    def _maybe_close(self, ep: Episode, item: Placed, *, horizon: datetime | None) -> None:
        """Close ``ep`` if it ended before ``item`` (§5), or if a told resolution says so."""
        told = self._told_resolution(ep)
        if told is not None:
            last, at = told
            # §6: a told resolution stands; an elevated observation after the last one it
            # cited is judged like a new one
            if at < item.time or (item.elevated and item.time > last):
                self._close(ep, at, announce=False)
                return
        due = ep.resolution_due(self.settings.resolve_after)
        if due is None or due >= item.time or not item.elevated:
            return
        # an elevated observation after the due time: the episode would have resolved
        if horizon is not None and due <= horizon:
            self._close(ep, due, announce=True)
        elif ep.skipped_resolution is None or due < ep.skipped_resolution:
            ep.skipped_resolution = due

    def _told_resolution(self, ep: Episode) -> tuple[datetime, datetime] | None:
        """The resolution told for ``ep``: none when ``ep`` would have resolved before it
        (a skipped resolution: time will resolve it, and the told one is a later one's)."""
        if not self.told.resolutions or ep.skipped_resolution is not None:
            return None
        return self.told.resolution_for(ep.start.time)

    def _finish_walk(self, *, horizon: datetime | None) -> None:
        ep = self.open()
        if ep is None:
            return
        told = self._told_resolution(ep)
        if told is not None:
            self._close(ep, told[1], announce=False)  # a told resolution stands
            return
        if horizon is not None:
            due = ep.resolution_due(self.settings.resolve_after)
            if due is not None and due <= horizon:
                self._close(ep, due, announce=True)
                return
        self._confirm_if_unalerted(ep, until=None)

    def _close(self, ep: Episode, at: datetime, *, announce: bool) -> None:
        self._confirm_if_unalerted(ep, until=at)
        ep.end = at
        if not announce:
            return
        last, normal = ep.last_elevated, ep.first_normal
        if normal is None:  # resolution_due() is None without one: cannot happen
            raise ValueError("a resolution needs a normal observation after the last elevated")
        made = self.ledger.emit(
            DecisionType.FEVER_RESOLVED,
            (ep.start.ident, last.ident, normal.ident),
            summary=f"Fever resolved: nothing elevated since {_text(last.obs)} at "
            f"{hhmm(last.time)} on {day(last.time)}, {duration_text(at - last.time)} "
            f"before; {_text(normal.obs)} at {hhmm(normal.time)} on {day(normal.time)} "
            "UTC was normal.",
            observations=(last, normal),
            trigger=at,
        )
        if made is not None:
            bisect.insort(self.told.resolutions, (last.time, at))

    def _confirm_if_unalerted(self, ep: Episode, *, until: datetime | None) -> None:
        """§6: one "confirmed" per episode, whatever order its readings came in."""
        if ep.alerted:
            return
        ep.alerted = True
        if self.told.covers(ep.start.time, until, ep.partner.time):
            return
        a, b = ep.partner, ep.start
        made = self.ledger.emit(
            DecisionType.FEVER_CONFIRMED,
            (a.ident, b.ident),
            summary=pair_sentence(a.obs, b.obs),
            observations=(a, b),
            trigger=b.time,
        )
        if made is not None:
            bisect.insort(self.told.confirmed, b.time)
            bisect.insort(self.told.alerts, b.time)

    def _maybe_ongoing(self, ep: Episode, a: Placed, b: Placed) -> None:
        """§5: a further confirmation at least realert_after after the last alert."""
        i = bisect.bisect_right(self.told.alerts, b.time)
        last = ep.start.time
        if i > 0:
            last = max(last, self.told.alerts[i - 1])
        if b.time - last < self.settings.realert_after:
            return
        made = self.ledger.emit(
            DecisionType.FEVER_ONGOING,
            (a.ident, b.ident),
            summary="Fever ongoing: " + pair_sentence(a.obs, b.obs),
            observations=(a, b),
            trigger=b.time,
        )
        if made is not None:
            bisect.insort(self.told.alerts, b.time)

    # -- firsts and reminders (§5) --------------------------------------------------------

    def _inside_confirmed(self, time: datetime) -> bool:
        return any(ep.alerted and ep.holds(time) for ep in reversed(self.episodes))

    def _tell_firsts(self) -> None:
        """§5: a first tells the caregiver, unless it lies inside a confirmed episode."""
        firsts, self._firsts = self._firsts, []
        for item in firsts:
            where = (item.time, item.obs.device)
            if where in self.told.firsts or self._inside_confirmed(item.time):
                continue
            due = item.time + self.settings.min_separation
            sentence = (
                f"Elevated: {_text(item.obs)} at {hhmm(item.time)} UTC; "
                f"recheck due at {hhmm(due)} UTC."
            )
            first_id = self._about(DecisionType.ELEVATED_FIRST, item, sentence, item.time, due)
            self.told.firsts.add(where)
            if first_id is not None and item.spot and due <= self.period_end:
                self._reminders[first_id] = _Reminder(due, item, first_id)

    def next_reminder(self) -> Work | None:
        """The recheck reminder that falls due first, and when (§5)."""
        if not self._reminders:
            return None
        best: Work | None = None
        for r in self._reminders.values():
            if best is None or r.due < best[0]:
                best = (r.due, partial(self._run_reminder, r))
        return best

    def next_resolution(self) -> Work | None:
        """When the open episode ends if nothing elevated comes first (§5), and the walk
        that decides it."""
        ep = self.open()
        if ep is None:
            return None
        due = ep.resolution_due(self.settings.resolve_after)
        skipped = ep.skipped_resolution
        if due is None or (skipped is not None and skipped < due):
            due = skipped
        return None if due is None else (due, partial(self._run_resolve, (ep, due)))

    def _run_reminder(self, reminder: _Reminder) -> None:
        del self._reminders[reminder.first_id]
        first = reminder.first
        if (
            reminder.due > self.period_end
            or self._confirmed_by(first.time, reminder.due)
            or self._inside_confirmed(first.time)
        ):
            return
        sentence = (
            f"Recheck due: please take a temperature now; {_text(first.obs)} "
            f"at {hhmm(first.time)} UTC was elevated."
        )
        self._about(DecisionType.RECHECK_DUE, first, sentence, reminder.due, reminder.due)

    def _about(
        self, type_: DecisionType, first: Placed, summary: str, trigger: datetime, due: datetime
    ) -> uuid.UUID | None:
        """A decision about one elevated observation, to the caregiver (§5)."""
        return self.ledger.emit(
            type_, (first.ident,), summary=summary, observations=(first,), trigger=trigger, due=due
        )

    def _confirmed_by(self, since: datetime, due: datetime) -> bool:
        for ep in reversed(self.episodes):
            if ep.start.time <= due and (ep.end is None or ep.end >= since):
                return True
            if ep.start.time < since:
                break
        return False

    def _run_resolve(self, work: tuple[Episode, datetime]) -> None:
        ep, due = work
        self._rewalk(ep.start.time, horizon=due, elevated=True)
        self._tell_firsts()


def _same_skips(current: Episode, twin: Episode, time: datetime) -> bool:
    """Whether both walks will end with the same skipped resolution from ``time`` on.

    A skipped resolution found before ``time`` is due before it, so an old one due after
    ``time`` lies in the steps both walks share; the new walk must then have none yet.
    """
    if current.skipped_resolution == twin.skipped_resolution:
        return True
    return current.skipped_resolution is None and (
        twin.skipped_resolution is not None and twin.skipped_resolution > time
    )
