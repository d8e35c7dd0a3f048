"""`portwatch replay FILE.csv`: run the fever rule over a file and print its decisions.

Rows are fed in file order, the order they would have arrived in: replay time is the
latest reading time seen so far, so a row that goes back in time arrives late. At the end
time runs on to ``--until`` (default: the last reading) so that reminders and resolutions
due by then appear. Decisions are printed in decision-time order, one JSON object a line.
Nothing is logged or stored.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from portwatch.fever.rule import RuleSettings
    from portwatch.model import Decision

HELP = "replay a CSV file of readings through the fever rule and print its decisions as JSON"

# The duration settings and their flags; the numbers keep their own types.
_DURATIONS: Final = ("min_separation", "pair_window", "window", "realert_after", "resolve_after")
_NUMBERS: Final = {
    "threshold_f": float,
    "min_samples": int,
    "site_offset_c": float,
    "healing_days": int,
}
EXIT_BAD_INPUT: Final = 2


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with an offset, in UTC.

    Raises:
        ValueError: a time without an offset or not ISO 8601.
    """
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no offset; write it like 2026-11-02T08:00:00+00:00")
    return value.astimezone(UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file", type=Path, metavar="FILE.csv", help="readings, as `portwatch import` reads them"
    )
    parser.add_argument(
        "--placement", metavar="TIME", help="when the port was placed (default: the first reading)"
    )
    parser.add_argument(
        "--until", metavar="TIME", help="replay time runs to here (default: the last reading)"
    )
    parser.add_argument("--patient", default="replay", help="patient reference for decision ids")
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="a portwatch TOML file; its [rule] table"
    )
    for name in _DURATIONS:
        parser.add_argument(
            f"--{name.replace('_', '-')}", dest=name, metavar="DURATION", help="like 4h or 90m"
        )
    for name in _NUMBERS:
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, metavar="NUMBER")


def _settings(args: argparse.Namespace) -> RuleSettings:
    """The file's ``[rule]`` table read exactly as the daemon reads it, then the flags."""
    from dataclasses import replace

    from portwatch.fever.rule import RuleSettings

    settings = RuleSettings()
    if args.config is not None:
        from portwatch.config import rule_settings_from
        from portwatch.settings_file import read_toml

        settings = rule_settings_from(read_toml(args.config).get("rule", {}))
    flags: dict[str, Any] = {
        name: _convert(name, getattr(args, name))
        for name in (*_DURATIONS, *_NUMBERS)
        if getattr(args, name) is not None
    }
    return replace(settings, **flags) if flags else settings


def _convert(name: str, raw: str) -> object:
    from portwatch.config import parse_duration

    if name in _DURATIONS:
        try:
            return parse_duration(raw)
        except ValueError as exc:
            raise ValueError(f"--{name.replace('_', '-')} {raw}: {exc}") from None
    kind = _NUMBERS.get(name, float)
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"rule setting {name}={raw!s} is not a number") from None


def decision_to_json(decision: Decision) -> dict[str, object]:
    """One decision as the line `portwatch replay` prints."""
    return {
        "type": decision.type.value,
        "id": str(decision.id),
        "time": decision.time.isoformat(),
        "late": decision.late,
        "readings": [
            {
                "time": o.time.isoformat(),
                "celsius": round(o.celsius, 3),
                "value": format(o.value, "f"),  # "40", never Decimal's "4E+1"
                "unit": o.unit.value,
                "device": o.device,
                "samples": o.samples,
                "late": o.late,
            }
            for o in decision.observations
        ],
        "summary": decision.summary,
        "due": decision.due.isoformat() if decision.due is not None else None,
        "reason": decision.reason,
        "settings": dict(decision.settings),
    }


def run(args: argparse.Namespace) -> int:
    from portwatch.fever.rule import FeverRule
    from portwatch.log import csvio

    try:
        settings = _settings(args)
        # undeclared stream intervals are the rule's to work out, as for `import` (§2)
        readings = csvio.read_readings(args.file)
        placement = parse_time(args.placement) if args.placement else None
        until = parse_time(args.until) if args.until else None
    except (OSError, ValueError) as exc:  # CsvFormatError, ConfigError, RuleSettingsError
        from portwatch.printable import printable

        for line in str(exc).splitlines():
            print(f"portwatch replay: {printable(line)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not readings:
        return 0
    if placement is None:
        placement = min(r.time for r in readings)
    rule = FeverRule(settings, patient=args.patient, placement=placement, pinned_device=None)
    decisions: list[Decision] = []
    now = readings[0].time
    for reading in readings:
        now = max(now, reading.time)
        decisions.extend(rule.feed(reading, now=now))
    # the rule decides what is due strictly before the time it is given; "due by then"
    # includes then, so replay time ends one microsecond after it
    end = (until if until is not None else now) + timedelta(microseconds=1)
    decisions.extend(rule.advance(end))
    decisions.sort(key=lambda d: d.time)  # stable: ties keep the order the rule made them
    for decision in decisions:
        print(json.dumps(decision_to_json(decision), ensure_ascii=False))
    return 0
