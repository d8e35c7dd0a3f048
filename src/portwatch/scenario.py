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
    "SECOND_FEVER",
    "TWO_FEVERS",
    "Course",
    "Fever",
    "Happening",
    "HappeningKind",
    "core_celsius",
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


@dataclass(frozen=True, slots=True)
class Course:
    """The whole course: how long it runs and what happens on the way."""

    length: timedelta
    happenings: tuple[Happening, ...]
    fevers: tuple[Fever, ...] = (FEVER,)  # what core_celsius plays


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
# The courses `portwatch run --scenario NAME` can play on its virtual radio.
DEFAULT_COURSE: Final = "demo"
COURSES: Final[Mapping[str, Course]] = {DEFAULT_COURSE: COURSE, "two-fevers": TWO_FEVERS}
