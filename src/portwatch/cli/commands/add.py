"""`portwatch add`: record a reading taken by hand with an ordinary thermometer."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from portwatch.cli.commands._log import (
    EXIT_FAILED,
    add_input_arguments,
    log_place,
    parse_when,
    refuse,
)
from portwatch.cli.commands._through import take_readings
from portwatch.web.cliargs import person_time

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from portwatch.log.store import Store, StoredReading
    from portwatch.model import Reading

HELP = "record a temperature measured by hand (101.2F, 38.4C) when the Bluetooth one failed"

# Without settings (no placement to compare with), a typed time before any placement the
# settings accept (config.PLACEMENT_YEARS) less a day is taken for a typing error.
OLDEST_WITHOUT_SETTINGS: Final = datetime(1999, 12, 31, tzinfo=UTC)


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
    add_input_arguments(parser)


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


def hand_reading(
    typed: str,
    at: str | None,
    site: str | None,
    *,
    now: datetime,
    placement: datetime | None,
) -> Reading:
    """The reading a person typed, or ValueError saying what to type instead.

    Refused as typing errors: a temperature outside 25-47 °C (fever-rule.md §8), a time
    more than 5 minutes ahead, or before the placement less a day (§1; without settings,
    before the year 2000).

    Raises:
        ValueError: one line, naming what was typed.
    """
    from portwatch.log import csvio
    from portwatch.model import Site

    value, unit = csvio.parse_temperature(typed)
    try:
        when = now if at is None else parse_when(at, now)
    except OverflowError:  # 0001-01-01T00:00:00+05:00 is before the first UTC time
        raise ValueError(f"--at {at!r} is out of range") from None
    if when > now + csvio.FUTURE_TOLERANCE:
        raise ValueError(f"{when.isoformat()} is in the future")
    if placement is not None and when < placement - timedelta(days=1):
        raise ValueError(
            f"{when.isoformat()} is before the placement ({placement.isoformat()}) less a "
            "day; check the date"
        )
    if placement is None and when < OLDEST_WITHOUT_SETTINGS:
        raise ValueError(f"{when.isoformat()} is before any placement; check the date")
    return csvio.hand_reading(
        value,
        unit,
        time=when,
        received_at=now,
        site=None if site is None else Site(site),
        raw=typed.encode("utf-8", "surrogateescape"),
    )


# Farther apart than this, `add` says the gateway's clock differs (fever-rule.md §1's 5
# minutes: the service times its thermometer's readings on its own clock).
CLOCKS_AGREE_WITHIN: Final = timedelta(minutes=5)


def run(args: argparse.Namespace) -> int:
    from portwatch.clock import SystemClock

    now = SystemClock().now()
    try:
        place = log_place(args, now)  # the settings without the clinic secret
        placement = None if place.settings is None else place.settings.patient.placement
        reading = hand_reading(args.temperature, args.at, args.site, now=now, placement=placement)
    except ValueError as exc:  # ConfigError included
        return refuse("portwatch add", exc)
    repeat = _logged_repeat(place.db, reading)
    if repeat is not None:
        then = person_time(repeat.reading.time, place.settings, now, seconds=True)
        shown = f"{reading.value} °{reading.unit.value}"
        print(
            f"portwatch add: not recorded: {shown} repeats reading {repeat.id} "
            f"({shown} at {then}); an identical reading within a minute is taken "
            "as typed twice",
            file=sys.stderr,
        )
        return EXIT_FAILED
    # Through the running service (the rule acts at once), else into the log directly.
    taken = take_readings(place, "add", [reading], once=False)
    if taken is None:
        return EXIT_FAILED
    (row_id,) = taken.ids
    print(
        f"recorded {reading.value} °{reading.unit.value} ({reading.celsius:.2f} °C) at "
        f"{person_time(reading.time, place.settings, now)} as reading {row_id}"
    )
    _note_clocks(taken.service_now, now, lambda when: person_time(when, place.settings, now))
    return 0


def _note_clocks(
    service_now: datetime | None, own: datetime, shown: Callable[[datetime], str]
) -> None:
    """Say so when the running service's clock is not this computer's.

    The service times its thermometer's readings on its own clock, which is not the system
    clock while that is unsynchronised (service/timekeeping.py): found by hand, the
    service's day 1 while `add` stamped day 3, and nothing said why the screens disagreed.
    The reading keeps the time the person gave (by their watch): timing it on the service's
    clock instead would refuse an earlier reading typed with --at as "in the future", and
    with it a fever confirmed by two hand readings.
    """
    if service_now is None or abs(service_now - own) <= CLOCKS_AGREE_WITHIN:
        return
    print(
        f"note: the gateway's clock says {shown(service_now)}, this computer's "
        f"{shown(own)}: the gateway's clock is not "
        "synchronised, so its other readings are timed differently (`portwatch doctor`)"
    )
