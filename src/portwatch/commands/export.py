"""`portwatch export`: the readings as CSV (the `portwatch import` format)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "export readings: CSV (the import format)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from portwatch.web.cliargs import add_common

    add_common(parser)
    parser.add_argument("--format", choices=("csv",), default="csv", help="csv")
    parser.add_argument("--since", default=None, help="ISO 8601 or a span back (default: all)")
    parser.add_argument("--until", default=None, help="ISO 8601 or a span back (default: now)")
    parser.add_argument("--out", type=Path, default=None, help="write to FILE (default: stdout)")


def run(args: argparse.Namespace) -> int:
    import os
    import sys
    from datetime import timedelta

    from portwatch.clock import SystemClock
    from portwatch.store import Store, StoreError
    from portwatch.web.cliargs import db_path, display_from, parse_time
    from portwatch.web.export import ALL_SPAN, write_csv

    now = SystemClock().now()
    try:
        settings = display_from(args, now)
        until = parse_time(args.until, now, settings.zone) if args.until else now
        since = parse_time(args.since, now, settings.zone) if args.since else until - ALL_SPAN
        until += timedelta(microseconds=1)
        with Store.open_reader(db_path(args)) as store:
            if args.out is None:
                counts = write_csv(store, sys.stdout, since, until)
            else:
                fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
                    counts = write_csv(store, out, since, until)
    except (StoreError, ValueError, OSError) as exc:
        print(f"portwatch export: {exc}", file=sys.stderr)
        return 1
    written, invalid = counts
    print(
        f"portwatch export: {written} readings; {invalid} invalid ones left out "
        "(`portwatch log` lists them with their reason)",
        file=sys.stderr,
    )
    return 0
