"""`portwatch purge`: remove what the log holds from before a date, after asking."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import Final

from portwatch.cli.commands._log import EXIT_FAILED, add_db_argument, db_path, parse_when

HELP = "remove log entries older than a date (keep the monitored period plus 90 days)"

# Issue 4, "Retention": keep the monitored period (10 days, fever-rule.md §7) plus 90 days.
RETENTION: Final = timedelta(days=10 + 90)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--before", required=True, metavar="DATE", help="remove entries before this date or time"
    )
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_db_argument(parser)


def run(args: argparse.Namespace) -> int:
    from portwatch.clock import SystemClock
    from portwatch.log.store import Store, StoreError

    now = SystemClock().now()
    try:
        before = parse_when(args.before, now)
    except ValueError as exc:
        print(f"portwatch purge: {exc}", file=sys.stderr)
        return EXIT_FAILED
    shown = before.astimezone().isoformat(timespec="minutes")
    try:
        with Store.open(db_path(args)) as store:
            counts = store.purge(before, dry_run=True)
            total = sum(counts.values())
            if total == 0:
                print(f"nothing in the log is older than {shown}")
                return 0
            print(f"before {shown} the log holds:")
            for table, count in counts.items():
                if count:
                    print(f"  {count:>9,} {table.replace('_', ' ')}")
            print("  (alerts not yet delivered, and their decisions, are always kept)")
            if before > now - RETENTION:
                print(
                    "note: this is within the monitored period plus 90 days that the clinic "
                    "may still ask about"
                )
            if not args.yes and not _confirm(f"remove these {total:,} rows? [y/N] "):
                print("nothing removed")
                return EXIT_FAILED
            removed = store.purge(before)
    except StoreError as exc:
        print(f"portwatch purge: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"removed {sum(removed.values()):,} rows")
    return 0


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        print("portwatch purge: not a terminal; pass --yes to confirm", file=sys.stderr)
        return False
    return input(question).strip().lower() in ("y", "yes")
