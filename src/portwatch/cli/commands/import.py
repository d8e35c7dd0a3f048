"""`portwatch import`: add the readings of a CSV file to the log, all or nothing, once.

Importing the same file again stores nothing new: a reading already in the log (same
device, kind, time, unit and value) is skipped and counted as already present. Rows
without a device are manual readings and count for the fever rule; a readable but
implausible row is kept as invalid with its reason, and only an unreadable line refuses
the file (fever-rule.md §8).

The file is read twice, a line at a time (issue 20: ten days at one a second is 864,000
lines): once to check every line before the log is touched, then into the log in one
transaction. Memory does not grow with the file.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Final

from portwatch.cli.commands._log import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    LogPlace,
    log_place,
    offline_note,
    refuse,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from portwatch.model import Reading

# Up to this many readings (ten days at one a minute is 14,400) go through the running
# service in one request, in one transaction, and reach the rule at once. A larger file
# (a wearable's export at one a second) is streamed into the log directly, in one
# transaction, without holding it in memory (issue 20); the service's log watch then hands
# its readings to the rule within seconds (issue 16).
THROUGH_SERVICE_MAX: Final = 20_000

HELP = "import readings from a CSV file (time,temperature,unit[,kind,device,site,interval])"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from portwatch.cli.commands._log import add_input_arguments

    parser.add_argument("file", type=Path, metavar="FILE.csv", help="the CSV file to import")
    add_input_arguments(parser)


@dataclass(frozen=True, slots=True)
class FileSummary:
    """What a checked file holds: its readings' count and time span, how many are invalid."""

    readings: int
    invalid: int
    first: datetime | None
    last: datetime | None


def readings_of(
    path: Path, *, now: datetime, placement: datetime | None, zone: tzinfo | None = None
) -> Iterator[Reading]:
    """The file's readings, one at a time, judged as fever-rule.md §1 and §8 say; a time
    typed without an offset is read in ``zone`` (the patient's).

    Raises:
        CsvFormatError: the first unreadable line (while iterating).
        OSError: the file cannot be read.
    """
    from portwatch.log.csvio import iter_readings

    return iter_readings(path, now=now, placement=placement, zone=zone)


def check_file(
    path: Path, *, now: datetime, placement: datetime | None, zone: tzinfo | None = None
) -> FileSummary:
    """Read the whole file once, keeping only counts: every line is readable, or this raises.

    Raises:
        CsvFormatError: the first unreadable line.
        OSError: the file cannot be read.
    """
    count = invalid = 0
    first = last = None
    for reading in readings_of(path, now=now, placement=placement, zone=zone):
        count += 1
        invalid += reading.invalid_reason is not None
        first = reading.time if first is None else min(first, reading.time)
        last = reading.time if last is None else max(last, reading.time)
    return FileSummary(count, invalid, first, last)


def run(args: argparse.Namespace) -> int:
    from portwatch.clock import SystemClock
    from portwatch.config import ConfigError
    from portwatch.log.csvio import CsvFormatError
    from portwatch.log.store import StoreError
    from portwatch.printable import printable

    path: Path = args.file
    now = SystemClock().now()
    try:
        place = log_place(args, now)
        placement = None if place.settings is None else place.settings.patient.placement
        zone = None if place.settings is None else place.settings.zone
        summary = check_file(path, now=now, placement=placement, zone=zone)
    except ConfigError as exc:
        return refuse("portwatch import", exc)
    except CsvFormatError as exc:
        return refuse("portwatch import", exc, "; nothing was imported")
    except OSError as exc:
        print(
            f"portwatch import: cannot read {printable(path)}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    if summary.first is None or summary.last is None:
        print(f"{printable(path.name)} holds no readings; nothing to import")
        return 0
    try:
        added, present = _take(place, path, summary, now=now, placement=placement, zone=zone)
    except _NothingTaken:
        return EXIT_FAILED
    except StoreError as exc:
        print(f"portwatch import: {exc}; nothing was imported", file=sys.stderr)
        return EXIT_FAILED
    except (CsvFormatError, OSError) as exc:  # the file changed between the two readings
        return refuse("portwatch import", exc, "; nothing was imported")
    first, last = _local(summary.first, zone), _local(summary.last, zone)
    kept = f"; {summary.invalid} kept as invalid with their reason" if summary.invalid else ""
    print(
        f"imported {added} new readings from {printable(path.name)} ({first} to "
        f"{last}); {present} already present{kept}"
    )
    return 0


class _NothingTaken(Exception):
    """The running service refused or failed the import (already said); nothing written."""


def _take(
    place: LogPlace,
    path: Path,
    summary: FileSummary,
    *,
    now: datetime,
    placement: datetime | None,
    zone: tzinfo | None,
) -> tuple[int, int]:
    """The checked file into the log, in one transaction; (added, already present).

    Up to :data:`THROUGH_SERVICE_MAX` readings go through the running service (or into the
    log directly when none runs); a larger file is streamed into the log directly.

    Raises:
        _NothingTaken: the service refused it (the reason printed).
        StoreError: nothing was written.
        CsvFormatError, OSError: the file changed since it was checked; nothing written.
    """
    from portwatch.cli.commands._through import take_readings
    from portwatch.log.store import Store

    if summary.readings <= THROUGH_SERVICE_MAX:
        readings = list(readings_of(path, now=now, placement=placement, zone=zone))
        taken = take_readings(place, "import", readings, once=True)
        if taken is None:
            raise _NothingTaken
        return len(taken.ids), taken.already_present
    if place.socket is not None:
        print(
            "a large file: written to the log directly; the running portwatch service "
            "gives its readings to the fever rule within seconds"
        )
    else:
        what = "the readings are written to the log; the service will act on them when it starts"
        print(offline_note(place, what))
    with Store.open(place.db) as store:
        result = store.import_stream(readings_of(path, now=now, placement=placement, zone=zone))
    return result.added, result.already_present


def _local(moment: datetime, zone: tzinfo | None) -> str:
    """A time in the patient's zone (the gateway's without settings); in UTC when that
    zone cannot hold it (year 1, 9999)."""
    try:
        return moment.astimezone(zone).isoformat(timespec="minutes")
    except OverflowError:
        return moment.isoformat(timespec="minutes")
