"""The rule's decisions as sentences for people: in the patient's time zone (with its
abbreviation) and the display unit; for the clinic in both units.

The rule writes a summary into each decision in UTC and in the device's unit (it knows
neither the patient's zone nor how they read temperatures). Every text a person reads is
worded here instead, from the decision's facts, so the page, the terminal, the visit
summary, the chart's tooltips and the clinic's one-line summary say the same thing the
same way (issue 18). Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Final

from portwatch.fever.sentences import EXACT_DECIMALS, reading_text  # the device's digits
from portwatch.model import Decision, DecisionType, Observation, Unit

__all__ = [
    "clock_time",
    "decision_sentence",
    "duration_text",
    "temperature",
]


def _decimals(obs: Observation) -> int:
    exponent = obs.value.as_tuple().exponent
    digits = -exponent if isinstance(exponent, int) else 1
    return min(max(digits, 1), EXACT_DECIMALS)


def _converted(obs: Observation, unit: Unit) -> str:
    """Converted with the device's own precision (one or two decimals): a wearable's
    38.30 °C (elevated) and 38.26 °C (normal) must not both read "100.9 °F"."""
    celsius = obs.celsius
    shown = celsius * 9.0 / 5.0 + 32.0 if unit is Unit.FAHRENHEIT else celsius
    return f"{shown:.{_decimals(obs)}f} °{unit.value}"


def temperature(obs: Observation, unit: Unit, *, both: bool = False) -> str:
    """An observation in the display unit ("101.3 °F"), with the other unit in brackets
    when `both` ("101.3 °F (38.5 °C)"). The device's unit always shows its own digits;
    the other is converted to the device's precision. One sentence never mixes units
    otherwise."""
    other = Unit.CELSIUS if unit is Unit.FAHRENHEIT else Unit.FAHRENHEIT

    def shown(in_unit: Unit) -> str:
        return reading_text(obs) if obs.unit is in_unit else _converted(obs, in_unit)

    return f"{shown(unit)} ({shown(other)})" if both else shown(unit)


def clock_time(when: datetime, zone: tzinfo, *, with_day: bool = False) -> str:
    """'08:15 CET', or 'Thu 19 Nov 08:15 CET' with the day: local time, zone named."""
    local = when.astimezone(zone)
    text = f"{local:%a %d %b %H:%M}" if with_day else f"{local:%H:%M}"
    return f"{text} {local.tzname() or ''}".rstrip()


def duration_text(delta: timedelta) -> str:
    """'4 h 25 min', '1 d 2 h', '1 d' (never '1 d 0 h'), '35 min'."""
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


class _Words:
    """The pieces one sentence is built from, for one zone and unit."""

    def __init__(self, decision: Decision, zone: tzinfo, unit: Unit, both: bool) -> None:
        self.decision = decision
        self.zone = zone
        self.unit = unit
        self.both = both

    def temp(self, obs: Observation) -> str:
        return temperature(obs, self.unit, both=self.both)

    def at(self, when: datetime) -> str:
        return clock_time(when, self.zone, with_day=True)

    def reading(self, obs: Observation) -> str:
        return f"{self.temp(obs)} at {self.at(obs.time)}"


def _elevated(w: _Words) -> str:
    (first, *_) = w.decision.observations
    due = w.decision.due
    recheck = f"; recheck due at {w.at(due)}" if due is not None else ""
    return f"Elevated: {w.reading(first)}{recheck}."


def _recheck(w: _Words) -> str:
    (first, *_) = w.decision.observations
    return f"Recheck due: please take a temperature now; {w.reading(first)} was elevated."


def _pair(w: _Words) -> str:
    a, b = w.decision.observations[0], w.decision.observations[-1]
    return f"{w.reading(a)} and {w.reading(b)}, {duration_text(b.time - a.time)} apart."


def _confirmed(w: _Words) -> str:
    return "Fever confirmed: " + _pair(w)


def _ongoing(w: _Words) -> str:
    return "Fever ongoing: " + _pair(w)


def _resolved(w: _Words) -> str:
    last, normal = w.decision.observations[0], w.decision.observations[-1]
    before = duration_text(w.decision.time - last.time)
    return (
        f"Fever resolved: nothing elevated since {w.reading(last)}, {before} before; "
        f"{w.reading(normal)} was normal."
    )


_SENTENCES: Final[Mapping[DecisionType, Callable[[_Words], str]]] = {
    DecisionType.ELEVATED_FIRST: _elevated,
    DecisionType.RECHECK_DUE: _recheck,
    DecisionType.FEVER_CONFIRMED: _confirmed,
    DecisionType.FEVER_ONGOING: _ongoing,
    DecisionType.FEVER_RESOLVED: _resolved,
}


def decision_sentence(decision: Decision, zone: tzinfo, unit: Unit, *, both: bool = False) -> str:
    """The decision as one sentence in `zone` and `unit` (`both`: the clinic's, in both
    units). A decision without the readings its sentence needs keeps the rule's summary."""
    if decision.type is DecisionType.READING_INVALID and decision.reason:
        # The rule's summary names the time in UTC; the reason alone, the time is the row's.
        return f"Reading not used: {decision.reason}."
    sentence = _SENTENCES.get(decision.type)
    if sentence is None or not decision.observations:
        return decision.summary
    late = " Some readings arrived late." if decision.late else ""
    return sentence(_Words(decision, zone, unit, both)) + late
