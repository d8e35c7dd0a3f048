"""`portwatch export`: the readings as CSV (the `portwatch import` format) or FHIR.

Streamed from the log (issue 20): memory does not grow with the log's length.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

HELP = "export readings: CSV (the import format) or one FHIR R4 collection Bundle"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from portwatch.web.cliargs import add_clinic, add_common

    add_common(parser)
    add_clinic(parser)
    parser.add_argument(
        "--format",
        choices=("csv", "fhir"),
        default="csv",
        help="csv: every valid reading; fhir: the observations as bodytemp Observations",
    )
    parser.add_argument("--since", default=None, help="ISO 8601 or a span back (default: all)")
    parser.add_argument("--until", default=None, help="ISO 8601 or a span back (default: now)")
    parser.add_argument("--out", type=Path, default=None, help="write to FILE (default: stdout)")


def run(args: argparse.Namespace) -> int:
    import sys
    from datetime import timedelta

    from portwatch.clock import SystemClock
    from portwatch.fever.settings import RuleSettings
    from portwatch.log.store import Store, StoreError
    from portwatch.web.cliargs import db_path, display_from, parse_time, settings_from, target_from
    from portwatch.web.export import observations, write_csv, write_fhir

    now = SystemClock().now()
    try:
        config = settings_from(args, now)
        settings = display_from(args, now, config)
        until = parse_time(args.until, now, settings.zone) if args.until else now
        # Issue 18: no --since is everything in the log (it meant the last 100 days).
        since = parse_time(args.since, now, settings.zone) if args.since else None
        until += timedelta(microseconds=1)
        with Store.open_reader(db_path(args, config)) as store:
            if args.format == "fhir":
                latest = store.latest_reading()
                target = target_from(args, latest.reading.device if latest else None, config)
                rule = RuleSettings.from_pairs(settings.rule_settings)
                found = observations(store, since, until, rule)
                counts = (len(found), 0)
            out = sys.stdout if args.out is None else _private(args.out)
            try:
                if args.format == "fhir":
                    write_fhir(found, target, out)  # an entry at a time (issue 20)
                else:
                    counts = write_csv(store, out, since, until)
            finally:
                if out is not sys.stdout:
                    out.close()
    except BrokenPipeError:
        raise  # the reader closed the pipe (`| head`): main() exits 141 without a word
    except (StoreError, ValueError, OSError) as exc:
        print(f"portwatch export: {exc}", file=sys.stderr)
        return 1
    written, invalid = counts
    if args.format == "fhir":
        print(f"portwatch export: {written} observations", file=sys.stderr)
        return 0
    print(
        f"portwatch export: {written} readings; {invalid} invalid ones left out "
        "(`portwatch log` lists them with their reason)",
        file=sys.stderr,
    )
    return 0


def _private(path: Path) -> TextIO:
    """A new file readable by its owner only: exports are health data."""
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, "w", encoding="utf-8", newline="")
