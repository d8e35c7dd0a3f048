"""`portwatch add`: record a reading taken by hand with an ordinary thermometer."""

from __future__ import annotations

import argparse
import sys

from portwatch.cli.commands._log import EXIT_FAILED, add_db_argument, log_place, parse_when
from portwatch.cli.commands._through import take_readings

HELP = "record a temperature measured by hand (101.2F, 38.4C) when the Bluetooth one failed"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from portwatch.model import Site

    parser.add_argument("temperature", metavar="TEMPERATURE", help='e.g. "101.2F" or "38.4C"')
    parser.add_argument(
        "--at",
        metavar="TIME",
        help="when it was measured: ISO 8601 or HH:MM today (default: now)",
    )
    parser.add_argument(
        "--site", choices=[site.value for site in Site], help="where it was measured"
    )
    add_db_argument(parser)


def run(args: argparse.Namespace) -> int:
    from portwatch.clock import SystemClock
    from portwatch.log.csvio import FUTURE_TOLERANCE, celsius_from, parse_temperature
    from portwatch.model import MANUAL_DEVICE, Reading, ReadingKind, Site

    now = SystemClock().now()
    try:
        value, unit = parse_temperature(args.temperature)
        at = now if args.at is None else parse_when(args.at, now)
    except ValueError as exc:
        print(f"portwatch add: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if at > now + FUTURE_TOLERANCE:
        print(f"portwatch add: {at.isoformat()} is in the future", file=sys.stderr)
        return EXIT_FAILED
    reading = Reading(
        device=MANUAL_DEVICE,
        kind=ReadingKind.SPOT,  # a hand reading is a spot reading and counts for the rule
        value=value,
        unit=unit,
        celsius=celsius_from(value, unit),
        time=at,
        received_at=now,
        site=None if args.site is None else Site(args.site),
        raw=args.temperature.encode("utf-8"),
    )
    try:
        place = log_place(args, now)
    except ValueError as exc:  # the settings (ConfigError)
        print(f"portwatch add: {exc}", file=sys.stderr)
        return EXIT_FAILED
    outcome = take_readings(place, "add", [reading], once=False)
    if outcome is None:
        return EXIT_FAILED
    (row_id,) = outcome.ids
    print(
        f"recorded {value} °{unit.value} ({reading.celsius:.2f} °C) at "
        f"{at.astimezone().isoformat(timespec='minutes')} as reading {row_id}"
    )
    return 0
