"""The plain data the renderers take: what a page shows, already read from the log.

Pure: no I/O, no clock. Times are aware UTC; conversion to the caregiver's zone and unit
happens only when text is produced (:func:`fmt_time`, :func:`fmt_temp`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Final

from portwatch.clock import ClockTrust
from portwatch.fever.settings import DEFAULTS, lowest_elevated_c
from portwatch.model import (
    Bucket,
    Decision,
    DecisionType,
    LinkEvent,
    Observation,
    Reading,
    ReadingKind,
    Unit,
)
from portwatch.period import day_number, period_end
from portwatch.service.watch import SPOT_STALE_AFTER, STALE_AFTER, silence_limit

# The rule's defaults (fever-rule.md §3, §7, §5), from the one place they are written.
DEFAULT_THRESHOLD_F: Final = DEFAULTS.threshold_f
DEFAULT_HEALING_DAYS: Final = DEFAULTS.healing_days
DEFAULT_PAIR_WINDOW: Final = DEFAULTS.pair_window
# store/issue 4 "gaps": a stretch with no reading longer than this is shown as a gap;
# alerts.md: the stale-data watch speaks after 30 min, so the chart shades the same.
DEFAULT_MIN_GAP: Final = timedelta(minutes=30)
# alerts.md: the thermometer is "silent" after stale_after (30 min); the "now" page greys
# a reading older than that. A spot reading by the watch's spot limit (issue 19: a spot
# household's reading is hours old by design).
DEFAULT_STALE_AFTER: Final = STALE_AFTER
DEFAULT_SPOT_STALE_AFTER: Final = SPOT_STALE_AFTER
# Gaps are measured against the thermometer's own cadence (issue 18): a thermometer that
# measures on its own is gapped after this many of its intervals (and at least
# DEFAULT_MIN_GAP); a spot thermometer measures when asked, so only a whole day without
# any temperature is a gap in monitoring.
GAP_INTERVALS: Final = 3
SPOT_MIN_GAP: Final = timedelta(hours=24)


# C0 controls (but tab and newline), DEL, C1 controls, surrogates and non-characters:
# not allowed in XML 1.0, so not in an SVG; in HTML they are parse errors.
_UNPRINTABLE: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def esc(text: str) -> str:
    """Text from the log made safe for HTML and SVG: escaped, unprintable characters dropped."""
    return html.escape(_UNPRINTABLE.sub("", text))


def f_to_c(fahrenheit: float) -> float:
    return (fahrenheit - 32.0) * 5.0 / 9.0


def c_to_f(celsius: float) -> float:
    return celsius * 9.0 / 5.0 + 32.0


def in_unit(celsius: float, unit: Unit) -> float:
    """A Celsius temperature in the display unit."""
    return c_to_f(celsius) if unit is Unit.FAHRENHEIT else celsius


def is_elevated(celsius: float, threshold_c: float) -> bool:
    """fever-rule.md §3, for display only: the rule's own decisions are what alert."""
    return celsius >= lowest_elevated_c(threshold_c)  # the rule's own comparison (§3)


def fmt_temp(celsius: float, unit: Unit) -> str:
    return f"{in_unit(celsius, unit):.1f} °{unit.value}"


def fmt_time(when: datetime, zone: tzinfo) -> str:
    """A time as a caregiver reads it: local date, hour and minute, with the zone's name."""
    local = when.astimezone(zone)
    return f"{local:%a %d %b %H:%M} {local.tzname() or ''}".rstrip()


def fmt_short(when: datetime, zone: tzinfo) -> str:
    """A time for a table row on a phone: '19 Nov 15:00' (the page names the zone once)."""
    return f"{when.astimezone(zone):%d %b %H:%M}"


def fmt_ago(delta: timedelta) -> str:
    """'3 min ago', '2 h 5 min ago', '1 d 4 h ago', '276 d ago'; a negative delta is
    'just now'."""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return "just now"
    minutes, _ = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h ago" if hours else f"{days} d ago"  # never "d 0 h"
    if hours:
        return f"{hours} h {minutes} min ago"
    return f"{minutes} min ago"


@dataclass(frozen=True, slots=True)
class DisplaySettings:
    """What the pages need to know about the setup; the daemon maps its settings onto this."""

    threshold_f: float = DEFAULT_THRESHOLD_F
    placement: datetime | None = None  # start of the monitored period (fever-rule.md §7)
    healing_days: int = DEFAULT_HEALING_DAYS
    unit: Unit = Unit.FAHRENHEIT  # the unit temperatures are shown in
    zone: tzinfo = UTC  # the caregiver's time zone, for display only
    patient: str = ""  # a label for the page title, e.g. the patient reference
    min_gap: timedelta = DEFAULT_MIN_GAP
    pair_window: timedelta = DEFAULT_PAIR_WINDOW
    rule_settings: tuple[tuple[str, str], ...] = ()  # shown on the visit summary
    thermometer: str | None = None  # the pinned thermometer's address; None: not pinned yet
    stale_after: timedelta = DEFAULT_STALE_AFTER  # the "now" page greys an older reading
    spot_stale_after: timedelta = DEFAULT_SPOT_STALE_AFTER  # ... an older spot reading
    # The notice channels with a notification address set up ("notify", "patient"); a
    # notice on any other channel is never sent, and is no failure either. None: not known
    # (no settings file), taken as set up.
    notice_addresses: frozenset[str] | None = None

    def stale_limit(self, kind: ReadingKind) -> timedelta:
        """How old a reading of ``kind`` may be before the page greys it: the watch's own
        limit for that kind (:func:`portwatch.service.watch.silence_limit`)."""
        return silence_limit(
            kind, stale_after=self.stale_after, spot_stale_after=self.spot_stale_after
        )

    def addressed(self, channel: str) -> bool:
        """Whether rows on `channel` have somewhere to go (the clinic's always do)."""
        addresses = self.notice_addresses
        return channel == "clinic" or addresses is None or channel in addresses

    @property
    def threshold_c(self) -> float:
        return f_to_c(self.threshold_f)

    def period(self, now: datetime) -> tuple[datetime, datetime]:
        """The monitored period, or the last `healing_days` before `now` without a placement."""
        if self.placement is None:
            return now - timedelta(days=self.healing_days), now
        return self.placement, period_end(self.placement, self.healing_days)

    def day_of_period(self, when: datetime) -> int | None:
        """Day N of the monitored period (:func:`portwatch.period.day_number`: the
        placement's local date is day 1), or None before placement is known."""
        if self.placement is None:
            return None
        return day_number(self.placement, when, self.zone)


@dataclass(frozen=True, slots=True)
class Pause:
    """A stretch a person said the thermometer was off on purpose ("shower")."""

    start: datetime
    end: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Unused:
    """A reading drawn on the chart that the fever rule did not use, and why."""

    time: datetime
    celsius: float
    value: str  # as the device sent it: "38.60 °C"
    reason: str


@dataclass(frozen=True, slots=True)
class ChartData:
    """Everything one chart shows, for the period [since, until)."""

    since: datetime
    until: datetime
    bands: Sequence[Bucket]
    threshold_c: float
    unit: Unit = Unit.FAHRENHEIT
    zone: tzinfo = UTC
    gaps: Sequence[tuple[datetime, datetime]] = ()
    pauses: Sequence[Pause] = ()
    observations: Sequence[Observation] = ()  # what the rule used; the elevated ones marked
    decisions: Sequence[Decision] = ()
    placement: datetime | None = None  # day labels count from here
    unused: Sequence[Unused] = ()  # readings the rule did not use, drawn apart with the reason
    min_gap: timedelta = DEFAULT_MIN_GAP  # the silence that counts as a gap here (cadence_gap)


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One outbox entry as the caregiver sees it: what was sent and whether it arrived."""

    id: str
    channel: str
    kind: str
    priority: str
    created_at: datetime
    status: str  # pending | delivered | failed
    attempts: int
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None
    summary: str = ""


@dataclass(frozen=True, slots=True)
class SymptomReport:
    time: datetime
    symptoms: tuple[str, ...]
    note: str


class EpisodeState(StrEnum):
    """The fever state shown on the status screen."""

    NONE = "none"
    PENDING = "pending"  # a first elevated observation waits for its recheck
    OPEN = "open"  # a confirmed fever that has not resolved
    RESOLVED = "resolved"  # the last episode resolved, and nothing elevated since

    @property
    def word(self) -> str:
        """The state as `portwatch status --json` names it: none|elevated|confirmed|resolved."""
        return _STATE_WORD[self]


_STATE_WORD: Final[dict[EpisodeState, str]] = {
    EpisodeState.NONE: "none",
    EpisodeState.PENDING: "elevated",
    EpisodeState.OPEN: "confirmed",
    EpisodeState.RESOLVED: "resolved",
}


@dataclass(frozen=True, slots=True)
class Episode:
    """A fever episode (fever-rule.md §5) reconstructed from the decisions."""

    opened: datetime
    closed: datetime | None
    decisions: tuple[Decision, ...]


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the outbox says about reaching people: the one reading every view shares.

    ``clinic_undelivered`` counts clinic alerts only (never heartbeats, never the
    caregiver's notices); notices that wait (quiet hours, or a push URL not answering)
    are counted apart, so that "not yet received by the clinic" is true when it shows.
    Notices with no notification address set up for their channel are not waiting for
    anything: they are ``notices_unaddressed``, never sent and never a failure.
    """

    clinic_undelivered: Sequence[AlertRow]
    notices_waiting: int
    notices_held_until: datetime | None
    clinic_last_reached: datetime | None
    clinic_silent_since: datetime | None
    notices_unaddressed: int = 0


@dataclass(frozen=True, slots=True)
class StatusData:
    """The one-screen status (issue 8, `portwatch status`)."""

    now: datetime
    settings: DisplaySettings
    latest: Reading | None
    link: LinkEvent | None  # the last connect/disconnect
    battery: LinkEvent | None
    episode_state: EpisodeState
    episode_since: datetime | None
    recheck_due: datetime | None
    clinic_undelivered: Sequence[AlertRow]  # clinic alerts (never heartbeats) not yet accepted
    next_reminder: tuple[datetime, str] | None = None
    notices_waiting: int = 0  # caregiver/patient notices not yet sent (held, or retrying)
    notices_held_until: datetime | None = None  # the last quiet-hours release among them
    clinic_last_reached: datetime | None = None  # last accepted anything (heartbeats too)
    clinic_silent_since: datetime | None = None  # oldest message tried and not accepted since
    notices_unaddressed: int = 0  # notices never sent: no notification address is set up
    clock: ClockTrust = ClockTrust.SYNCHRONISED  # the running service's (a command alone: none)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of the log: a reading, an observation, a link event or a decision."""

    time: datetime
    what: str  # "reading" | "observation" | "event" | "decision"
    text: str
    elevated: bool = False


@dataclass(frozen=True, slots=True)
class SummaryData:
    """The visit summary for the post-procedure check."""

    now: datetime
    settings: DisplaySettings
    chart: ChartData
    episodes: Sequence[Episode]
    decisions: Sequence[Decision]
    symptoms: Sequence[SymptomReport]
    alerts: Sequence[AlertRow]
    gaps: Sequence[tuple[datetime, datetime]]
    devices: Sequence[tuple[str, str]] = ()  # (device, site) pairs seen in the period
    reading_count: int = 0
    extra: Sequence[tuple[str, str]] = field(default=())


def episodes_from(decisions: Sequence[Decision]) -> list[Episode]:
    """Group confirmed/ongoing/resolved decisions into episodes, in time order (§5)."""
    episodes: list[Episode] = []
    current: list[Decision] = []
    opened: datetime | None = None
    for decision in sorted(decisions, key=lambda d: d.time):
        if decision.type is DecisionType.FEVER_CONFIRMED and opened is None:
            opened, current = decision.time, [decision]
        elif decision.type is DecisionType.FEVER_ONGOING and opened is not None:
            current.append(decision)
        elif decision.type is DecisionType.FEVER_RESOLVED and opened is not None:
            current.append(decision)
            episodes.append(Episode(opened, decision.time, tuple(current)))
            opened, current = None, []
    if opened is not None:
        episodes.append(Episode(opened, None, tuple(current)))
    return episodes


def fever_state(
    decisions: Sequence[Decision], now: datetime, pair_window: timedelta
) -> tuple[EpisodeState, datetime | None, datetime | None]:
    """(state, since, recheck due) from the rule's decisions up to `now` (fever-rule.md §5).

    A first elevated observation stays pending until it is confirmed or its pair window
    has passed; a confirmed fever stays open until a "resolved" decision, after which the
    state is "resolved" until something is elevated again.
    """
    state: EpisodeState = EpisodeState.NONE
    since: datetime | None = None
    due: datetime | None = None
    for decision in sorted(decisions, key=lambda d: d.time):
        if decision.time > now:
            break
        if decision.type is DecisionType.FEVER_CONFIRMED:
            state, since, due = EpisodeState.OPEN, decision.time, None
        elif decision.type is DecisionType.FEVER_RESOLVED:
            state, since, due = EpisodeState.RESOLVED, decision.time, None
        elif (
            decision.type in (DecisionType.ELEVATED_FIRST, DecisionType.RECHECK_DUE)
            and state is not EpisodeState.OPEN
        ):
            state, due = EpisodeState.PENDING, decision.due or due
            since = decision.time if decision.type is DecisionType.ELEVATED_FIRST else since
    if state == EpisodeState.PENDING and since is not None and now - since > pair_window:
        state, since, due = EpisodeState.NONE, None, None
    return state, since, due


def cadence_gap(min_gap: timedelta, kind: str | None, interval_s: float | None) -> timedelta:
    """The shortest silence that is a gap for this thermometer (:data:`GAP_INTERVALS`).

    `kind` and `interval_s` are the latest reading's ("spot", "stream", None: no reading).
    """
    if kind == "spot":
        return max(min_gap, SPOT_MIN_GAP)
    if interval_s is not None and interval_s > 0:
        return max(min_gap, timedelta(seconds=interval_s * GAP_INTERVALS))
    return min_gap


def gaps_from_bands(
    bands: Sequence[Bucket], since: datetime, until: datetime, min_gap: timedelta
) -> list[tuple[datetime, datetime]]:
    """Stretches of [since, until) longer than `min_gap` that no band covers.

    Precise to one bucket's width, which is all a chart can show; the visit summary's table
    uses the log's exact gaps instead. Asking the log costs a pass over every reading.
    """
    gaps: list[tuple[datetime, datetime]] = []
    cursor = since
    for band in sorted(bands, key=lambda b: b.start):
        if band.start >= until:
            break
        if band.start - cursor > min_gap:
            gaps.append((cursor, band.start))
        cursor = max(cursor, band.end)
    if until - cursor > min_gap:
        gaps.append((cursor, until))
    return gaps
