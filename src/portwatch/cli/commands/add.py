"""`portwatch add`: record a reading taken by hand with an ordinary thermometer."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from portwatch.cli.commands._log import EXIT_FAILED, add_db_argument, log_place, parse_when
from portwatch.cli.commands._through import take_readings

if TYPE_CHECKING:
    from pathlib import Path

    from portwatch.log.store import Store, StoredReading
    from portwatch.model import Reading

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


# An identical hand reading (same value and unit) this close in time is the same one typed
# twice: it would be stored and notified twice (issue 18).
REPEAT_WITHIN: Final = timedelta(minutes=1)


def _repeat_of(store: Store, reading: Reading) -> StoredReading | None:
    """The identical hand reading already in the log within REPEAT_WITHIN, if any."""
    from portwatch.model import MANUAL_DEVICE

    nearby = store.readings(
        reading.time - REPEAT_WITHIN, reading.time + REPEAT_WITHIN, device=MANUAL_DEVICE
    )
    for stored in nearby:
        if (stored.reading.value, stored.reading.unit) == (reading.value, reading.unit):
            return stored
    return None


def _logged_repeat(db: Path, reading: Reading) -> StoredReading | None:
    """:func:`_repeat_of` in the log at ``db`` (None: no log yet, or none this user reads)."""
    from portwatch.log.store import Store, StoreError

    try:
        with Store.open_reader(db) as store:
            return _repeat_of(store, reading)
    except StoreError:
        return None


def run(args: argparse.Namespace) -> int:
    from portwatch.clock import SystemClock
    from portwatch.log.csvio import FUTURE_TOLERANCE, celsius_from, parse_temperature
    from portwatch.model import MANUAL_DEVICE, Reading, ReadingKind, Site

    now = SystemClock().now()
    try:
        value, unit = parse_temperature(args.temperature)
        at = now if args.at is None else parse_when(args.at, now)
    except ValueError as exc:
        hint = ""
        if "," in args.temperature:
            hint = f" (write a decimal point: {args.temperature.replace(',', '.')})"
        print(f"portwatch add: {exc}{hint}", file=sys.stderr)
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
    repeat = _logged_repeat(place.db, reading)
    if repeat is not None:
        then = repeat.reading.time.astimezone().strftime("%H:%M:%S")
        print(
            f"portwatch add: not recorded: {value} °{unit.value} repeats reading "
            f"{repeat.id} ({value} °{unit.value} at {then}); an identical reading "
            "within a minute is taken as typed twice",
            file=sys.stderr,
        )
        return EXIT_FAILED
    # Through the running service (the rule acts at once), else into the log directly.
    taken = take_readings(place, "add", [reading], once=False)
    if taken is None:
        return EXIT_FAILED
    (row_id,) = taken.ids
    print(
        f"recorded {value} °{unit.value} ({reading.celsius:.2f} °C) at "
        f"{at.astimezone().isoformat(timespec='minutes')} as reading {row_id}"
    )
    return 0
