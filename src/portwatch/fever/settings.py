"""The fever rule's settings: every number of fever-rule.md, with the spec's defaults.

The ONLY place the rule's defaults are written: ``portwatch.config`` takes its ``[rule]``
defaults from :data:`DEFAULTS`, the pages read the settings in force back with
:meth:`RuleSettings.from_pairs`. The one threshold comparison (§3) lives here too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Final

from portwatch.model import MANUAL_DEVICE  # §8: counts like the pinned thermometer

__all__ = [
    "BEFORE_PLACEMENT",
    "DEFAULTS",
    "ELEVATED_MARGIN_C",
    "ELEVATED_TOLERANCE_C",
    "LATE_WINDOWS",
    "MANUAL_DEVICE",
    "THRESHOLD_MAX_F",
    "THRESHOLD_MIN_F",
    "WINDOW_MIN",
    "RuleSettings",
    "RuleSettingsError",
    "Threshold",
    "counts_as_pinned",
    "fahrenheit_to_celsius",
    "lowest_elevated_c",
    "setting_text",
]

# §3: "at least threshold less 0.05 °C", so that a thermometer showing the threshold
# rounded to one decimal (38.3 °C, 101.0 °F) counts and one tenth below it does not.
ELEVATED_MARGIN_C: Final = 0.05
# §3: "compare ... with a tolerance of 1e-9 °C, never a bare float >=": 100.91 °F is exactly
# 101.0 °F less 0.05 °C, and float arithmetic puts it a hair under. A thermometer's
# resolution is 0.01 °C, so the tolerance changes nothing else.
ELEVATED_TOLERANCE_C: Final = 1e-9
# §3 / issue 5: the clinic may move the threshold, but only within 99.5-104 °F.
THRESHOLD_MIN_F: Final = 99.5
THRESHOLD_MAX_F: Final = 104.0
# Issue 5: a window shorter than one minute is refused.
WINDOW_MIN: Final = timedelta(minutes=1)
# §1: a reading stamped before the placement time less one day is invalid.
BEFORE_PLACEMENT: Final = timedelta(days=1)
# §6: a decision is late when the observation that caused it is more than two windows
# older than the moment it was decided.
LATE_WINDOWS: Final = 2


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

    def is_elevated(self, celsius: float) -> bool:
        """§3, the one comparison: at least threshold less 0.05 °C, within 1e-9 °C."""
        return Threshold(self).is_elevated(celsius)

    @property
    def dense_interval_s(self) -> float:
        """The longest stream interval that is summarised per window (§2): 100 s by default."""
        return self.window.total_seconds() / self.min_samples

    @property
    def horizon(self) -> timedelta:
        """§2: how long a window's samples are kept for late ones: the pair window and the
        time a window waits for stragglers, after the window's last sample arrived."""
        return self.pair_window + self.window * LATE_WINDOWS

    def as_pairs(self) -> tuple[tuple[str, str], ...]:
        """The settings in force, as the decisions cite them."""
        pairs: list[tuple[str, str]] = []
        for f in fields(self):
            value = getattr(self, f.name)
            text = setting_text(value) if isinstance(value, timedelta) else str(value)
            pairs.append((f.name, text))
        return tuple(pairs)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> RuleSettings:
        """The settings back from :meth:`as_pairs` (what the pages are given); a setting
        missing or unreadable keeps its default, so the pages never fail on it."""
        known = {f.name: f for f in fields(cls)}
        values: dict[str, object] = {}
        for name, text in pairs:
            default = getattr(DEFAULTS, name, None) if name in known else None
            try:
                if isinstance(default, timedelta):
                    values[name] = _parse_setting_duration(text)
                elif isinstance(default, bool) or default is None:
                    continue
                elif isinstance(default, int):
                    values[name] = int(text)
                elif isinstance(default, float):
                    values[name] = float(text)
            except ValueError:
                continue
        try:
            return cls(**values)  # type: ignore[arg-type]
        except RuleSettingsError:
            return DEFAULTS


def lowest_elevated_c(threshold_c: float) -> float:
    """§3, the one comparison's bound: threshold less 0.05 °C, less the 1e-9 °C tolerance
    (so that 100.91 °F counts); an observation at or above it is elevated. The rule and
    the pages (:func:`portwatch.web.view.is_elevated`) both compare against this."""
    return threshold_c - ELEVATED_MARGIN_C - ELEVATED_TOLERANCE_C


class Threshold:
    """§3, the one comparison, with its bound worked out once (the rule asks per reading)."""

    __slots__ = ("lowest_c",)

    def __init__(self, settings: RuleSettings) -> None:
        self.lowest_c = lowest_elevated_c(fahrenheit_to_celsius(settings.threshold_f))

    def is_elevated(self, celsius: float) -> bool:
        """At least threshold less 0.05 °C, within 1e-9 °C: 100.91 °F is elevated."""
        return celsius >= self.lowest_c


_DURATION_PART: Final = re.compile(r"(\d+)\s*(h|min|s)")
_UNIT_SECONDS: Final = {"h": 3600, "min": 60, "s": 1}


def setting_text(span: timedelta) -> str:
    """A setting's duration as decisions cite it: "24 h", "5 min", "1 h 30 min", "90 s"."""
    seconds = int(span.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n} {u}" for n, u in ((hours, "h"), (minutes, "min"), (secs, "s")) if n]
    return " ".join(parts) or "0 min"


def _parse_setting_duration(text: str) -> timedelta:
    parts = _DURATION_PART.findall(text)
    if not parts:
        raise ValueError(f"not a duration: {text!r}")
    return timedelta(seconds=sum(int(n) * _UNIT_SECONDS[u] for n, u in parts))


DEFAULTS: Final = RuleSettings()


def counts_as_pinned(device: str, pinned: str | None) -> bool:
    """§1, §8: whether a reading from ``device`` counts for the patient: any device while
    nothing is pinned, else the pinned thermometer or a hand reading (``MANUAL_DEVICE``).

    The one statement of it, for the rule and for every screen that says why a reading was
    not used (a screen that said so of a hand reading the rule had used contradicted the
    alert). Bluetooth addresses compare without case: a CSV may write them in lower case.
    """
    if pinned is None or device == MANUAL_DEVICE:
        return True
    return device.upper() == pinned.upper()
