"""`portwatch import`: add the readings of a CSV file to the log, all or nothing, once.

Importing the same file again stores nothing new: a reading already in the log (same
device, kind, time, unit and value) is skipped and counted as already present.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from portwatch.cli.commands._log import EXIT_FAILED, add_db_argument, log_place
from portwatch.cli.commands._through import take_readings

if TYPE_CHECKING:
    from portwatch.model import Reading

HELP = "import readings from a CSV file (time,temperature,unit,kind[,device,site,interval])"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE.csv", help="the CSV file to import")
    add_db_argument(parser)


def run(args: argparse.Namespace) -> int:
    from portwatch.clock import SystemClock
    from portwatch.log.csvio import CsvFormatError, read_readings

    path: Path = args.file
    now = SystemClock().now()
    try:
        readings = read_readings(path, now=now)
    except CsvFormatError as exc:
        print(f"portwatch import: {exc}; nothing was imported", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(f"portwatch import: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    if not readings:
        print(f"{path.name} holds no readings; nothing to import")
        return 0
    readings = _manual_without_device(readings, path.name)
    try:
        place = log_place(args, now)
    except ValueError as exc:  # the settings (ConfigError)
        print(f"portwatch import: {exc}; nothing was imported", file=sys.stderr)
        return EXIT_FAILED
    result = take_readings(place, "import", readings, once=True)
    if result is None:
        return EXIT_FAILED
    first = min(r.time for r in readings).astimezone().isoformat(timespec="minutes")
    last = max(r.time for r in readings).astimezone().isoformat(timespec="minutes")
    print(
        f"imported {len(result.ids)} new readings from {path.name} ({first} to {last}); "
        f"{result.already_present} already present"
    )
    return 0


def _manual_without_device(readings: list[Reading], name: str) -> list[Reading]:
    """fever-rule.md §8: a reading imported without a device is a manual reading, and counts.

    (The CSV reader names such rows ``import:<file>``; until it says "manual" itself, this
    renames them here.)
    """
    from dataclasses import replace

    from portwatch.model import MANUAL_DEVICE

    unnamed = f"import:{name}"
    return [replace(r, device=MANUAL_DEVICE) if r.device == unnamed else r for r in readings]
