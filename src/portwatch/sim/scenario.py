"""The demo's ten-day course, as data: a temperature script and the things that happen. Pure.

Issue 9: normal readings, a shower pause, a link dropped for 45 minutes (a stale-data
notice), a fever building on day 4 (first elevated notice, recheck, confirmed: the clinic
is alerted once), a symptom report on day 5, the fever resolving, the care reminders on
their days, the period ending. ``portwatch demo`` plays it on a VirtualClock; the tests
play the same course and check each promise at its expected simulated time.

Day N is the N-th 24 hours after the placement (day 1 starts at the placement).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from portwatch.model import Symptom

__all__ = [
    "COURSE",
    "COURSES",
    "DEFAULT_COURSE",
    "DEFAULT_PLACEMENT",
    "FEVER",
    "MEASUREMENT_INTERVAL_S",
    "RECHECK_SPOT_READINGS",
    "ROUTINE_SPOT_READINGS",
    "SECOND_FEVER",
    "SPOT_TWO_FEVERS",
    "TWO_FEVERS",
    "Absence",
    "Course",
    "Fever",
    "Happening",
    "HappeningKind",
    "Thermometer",
    "core_celsius",
    "spot_times",
    "wearable_absences",
]

# A fixed placement, so that every run of the demo tells the same story (08:00 UTC on a
# Monday; the patient's zone is UTC in the demo).
DEFAULT_PLACEMENT: Final = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
# The virtual CORE wearable measures once a minute, not once a second: ten days at 1/s
# through the Bumble radio would take far longer than the minute the demo promises, and
# 5 samples per 5-minute window still make every window count (fever-rule.md §2: 3 needed).
MEASUREMENT_INTERVAL_S: Final = 60.0

# Normal core temperature and its daily swing (lowest early morning, highest evening).
NORMAL_C: Final = 36.9
SWING_C: Final = 0.3
# The fever: rises from the normal curve to its plateau, holds, falls back.
FEVER_PLATEAU_C: Final = 38.7


@dataclass(frozen=True, slots=True)
class Fever:
    """When the scripted fever rises, holds and falls, as offsets from the placement."""

    rise_start: timedelta
    plateau: timedelta
    fall_start: timedelta
    normal_again: timedelta


# Day 4 (72-96 h after placement): rises 10:00-12:00, holds until 06:00 on day 5, normal by 10:00.
FEVER: Final = Fever(
    rise_start=timedelta(days=3, hours=2),
    plateau=timedelta(days=3, hours=4),
    fall_start=timedelta(days=3, hours=22),
    normal_again=timedelta(days=4, hours=2),
)


# A second fever, for the power-loss campaign's course (issue 10: "a ten-day course with
# two fevers"): day 7 (144-168 h after placement), rises 10:00-12:00, holds until 22:00,
# normal by 02:00 on day 8. Ten hours of plateau: it is confirmed four hours in.
SECOND_FEVER: Final = Fever(
    rise_start=timedelta(days=6, hours=2),
    plateau=timedelta(days=6, hours=4),
    fall_start=timedelta(days=6, hours=14),
    normal_again=timedelta(days=6, hours=18),
)


def _normal(offset: timedelta, placement: datetime) -> float:
    hour = (placement + offset).hour + (placement + offset).minute / 60
    return NORMAL_C + SWING_C * math.sin(2 * math.pi * (hour - 10) / 24)


def _fever_celsius(fever: Fever, offset: timedelta, normal: float) -> float | None:
    """The temperature ``fever`` sets at ``offset`` after the placement (None: outside it)."""
    if offset < fever.rise_start or offset >= fever.normal_again:
        return None
    if offset < fever.plateau:
        share = (offset - fever.rise_start) / (fever.plateau - fever.rise_start)
        return normal + (FEVER_PLATEAU_C - normal) * share
    if offset < fever.fall_start:
        return FEVER_PLATEAU_C
    share = (offset - fever.fall_start) / (fever.normal_again - fever.fall_start)
    return FEVER_PLATEAU_C + (normal - FEVER_PLATEAU_C) * share


def core_celsius(
    placement: datetime, when: datetime, fevers: tuple[Fever, ...] = (FEVER,)
) -> float:
    """The scripted core temperature at ``when``: normal, except during ``fevers``.

    The default is the demo's one fever on day 4; a course's own fevers are
    ``course.fevers``. Fevers should not overlap (the first that covers ``when`` wins).
    """
    offset = when - placement
    normal = _normal(offset, placement)
    for fever in fevers:
        celsius = _fever_celsius(fever, offset, normal)
        if celsius is not None:
            return celsius
    return normal


class HappeningKind(StrEnum):
    """What the course makes happen besides temperatures."""

    SHOWER = "shower"  # `portwatch pause` and the wearable off the body
    LINK_DROP = "link_drop"  # the wearable out of range, with no pause
    SYMPTOMS = "symptoms"  # a symptom report from the caregiver page


# The happenings the thermometer itself plays (it goes away); the rest are a person's doing.
WEARABLE_AWAY: Final = frozenset({HappeningKind.SHOWER, HappeningKind.LINK_DROP})


@dataclass(frozen=True, slots=True)
class Happening:
    """One scripted event, at ``at`` after the placement."""

    at: timedelta
    kind: HappeningKind
    duration: timedelta = timedelta(0)  # how long the wearable is away
    pause: timedelta = timedelta(0)  # how long the pause the caregiver sets lasts
    reason: str = ""
    symptoms: tuple[Symptom, ...] = ()
    text: str = ""  # one line for the demo's progress


class Thermometer(StrEnum):
    """Which virtual thermometer a course's patient wears or uses."""

    CORE = "core"  # the CORE wearable: a stream every MEASUREMENT_INTERVAL_S
    SPOT = "spot"  # an HTS spot thermometer: one reading at each of Course.spot_readings


@dataclass(frozen=True, slots=True)
class Course:
    """The whole course: how long it runs and what happens on the way."""

    length: timedelta
    happenings: tuple[Happening, ...]
    fevers: tuple[Fever, ...] = (FEVER,)  # what core_celsius plays
    thermometer: Thermometer = Thermometer.CORE
    # With a spot thermometer: when the patient takes a reading, from the placement.
    spot_readings: tuple[timedelta, ...] = ()


COURSE: Final = Course(
    # Ten days of monitoring and one more hour, to see the period end.
    length=timedelta(days=10, hours=1),
    happenings=(
        # Day 2, 07:00: a 40-minute shower under a 45-minute pause: silence, but no notice.
        Happening(
            at=timedelta(days=1, hours=-1),
            kind=HappeningKind.SHOWER,
            duration=timedelta(minutes=40),
            pause=timedelta(minutes=45),
            reason="shower",
            text="wearable off for a 40-minute shower (paused 45 min)",
        ),
        # Day 3, 14:00: out of range for 45 minutes with no pause: a stale-data notice.
        Happening(
            at=timedelta(days=2, hours=6),
            kind=HappeningKind.LINK_DROP,
            duration=timedelta(minutes=45),
            text="wearable out of range for 45 minutes",
        ),
        # Day 5, 10:00: redness at the site, reported on the caregiver page.
        Happening(
            at=timedelta(days=4, hours=2),
            kind=HappeningKind.SYMPTOMS,
            symptoms=(Symptom.REDNESS,),
            text="caregiver reports redness at the port site",
        ),
    ),
)

# Issue 10's power-loss course: the demo's ten days with a second fever on day 7.
TWO_FEVERS: Final = Course(
    length=COURSE.length, happenings=COURSE.happenings, fevers=(FEVER, SECOND_FEVER)
)

# The spot thermometer's patient (issue 10, recheck reminders across power loss): a
# reading at 08:00, 13:00, 18:00 and 22:00 each day (the placement is at 08:00)...
ROUTINE_SPOT_READINGS: Final = tuple(
    timedelta(days=day, hours=hour) for day in range(10) for hour in (0, 5, 10, 14)
)
# ...and one at each recheck: the 13:00 reading of day 4 and of day 7 is each fever's first
# elevated one, its recheck falls due at 17:00 (fever-rule.md §5: T + min_separation, 4 h),
# and the patient, reminded then, takes the reading ten minutes later. The course plays
# these whether or not the reminder came: the campaign checks the reminder on its own.
RECHECK_SPOT_READINGS: Final = (
    timedelta(days=3, hours=9, minutes=10),
    timedelta(days=6, hours=9, minutes=10),
)
# The two fevers of TWO_FEVERS read by that patient with a spot thermometer: no wearable,
# so no shower or link drop; the caregiver's symptom report stays.
SPOT_TWO_FEVERS: Final = Course(
    length=COURSE.length,
    happenings=tuple(h for h in COURSE.happenings if h.kind not in WEARABLE_AWAY),
    fevers=(FEVER, SECOND_FEVER),
    thermometer=Thermometer.SPOT,
    spot_readings=tuple(sorted(ROUTINE_SPOT_READINGS + RECHECK_SPOT_READINGS)),
)
# The courses the virtual radio can play (`python -m portwatch.sim.run --scenario NAME`).
DEFAULT_COURSE: Final = "demo"
COURSES: Final[Mapping[str, Course]] = {
    DEFAULT_COURSE: COURSE,
    "two-fevers": TWO_FEVERS,
    "spot-two-fevers": SPOT_TWO_FEVERS,
}


def spot_times(
    course: Course, placement: datetime, after: datetime, until: datetime
) -> list[datetime]:
    """The course's spot readings taken after ``after`` and no later than ``until``, in order."""
    times = (placement + offset for offset in course.spot_readings)
    return sorted(t for t in times if after < t <= until)


@dataclass(frozen=True, slots=True)
class Absence:
    """The wearable is away (off the body, out of range) from ``start`` to ``end``."""

    start: datetime
    end: datetime
    kind: HappeningKind


def wearable_absences(course: Course, placement: datetime, since: datetime) -> list[Absence]:
    """The course's absences of the wearable that have not ended at ``since``, in order.

    One already under way at ``since`` is cut to what is left of it, so that a wearable
    started in the middle of the course (a restarted ``python -m portwatch.sim.run``)
    continues the course from there.
    """
    absences = []
    for happening in course.happenings:
        if happening.kind not in WEARABLE_AWAY:
            continue
        start = placement + happening.at
        end = start + happening.duration
        if end > since:
            absences.append(Absence(max(start, since), end, happening.kind))
    return sorted(absences, key=lambda absence: absence.start)
