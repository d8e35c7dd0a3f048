"""`portwatch purge`: remove what the log holds from before a date, after asking."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from typing import Final, Protocol

from portwatch.cli.commands._log import (
    EXIT_FAILED,
    LogPlace,
    add_db_argument,
    log_place,
    offline_note,
    parse_when,
)
from portwatch.cli.commands._through import CommandFailed, ask_service

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
    from portwatch.log.store import StoreError

    now = SystemClock().now()
    try:
        before = parse_when(args.before, now)
        place = log_place(args, now)
        log = _ServiceLog(place) if place.socket is not None else None
        if log is not None and not log.running():
            log = None
        if log is None:
            print(offline_note(place, "removing from the log directly"))
            return _purge(args, _LocalLog(place), before, now)
        return _purge(args, log, before, now)
    except (CommandFailed, ValueError) as exc:
        print(f"portwatch purge: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except StoreError as exc:
        print(f"portwatch purge: {exc}", file=sys.stderr)
        return EXIT_FAILED


class _Log(Protocol):
    def purge(self, before: datetime, *, dry_run: bool) -> dict[str, int]: ...


class _ServiceLog:
    """The purge done by the running service (the one owner of the log)."""

    def __init__(self, place: LogPlace) -> None:
        self._place = place

    def running(self) -> bool:
        return ask_service(self._place, "GET", "status") is not None

    def purge(self, before: datetime, *, dry_run: bool) -> dict[str, int]:
        body = {"before": before.isoformat(), "dry_run": dry_run}
        answer = ask_service(self._place, "POST", "purge", body)
        if answer is None:
            raise CommandFailed("the portwatch service stopped; nothing removed")
        return {str(k): int(v) for k, v in answer["counts"].items()}


class _LocalLog:
    """No service runs: the log file itself."""

    def __init__(self, place: LogPlace) -> None:
        self._db = place.db

    def purge(self, before: datetime, *, dry_run: bool) -> dict[str, int]:
        from portwatch.log.store import Store

        with Store.open(self._db) as store:
            return store.purge(before, dry_run=dry_run)


def _purge(args: argparse.Namespace, log: _Log, before: datetime, now: datetime) -> int:
    shown = before.astimezone().isoformat(timespec="minutes")
    counts = log.purge(before, dry_run=True)
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
    removed = log.purge(before, dry_run=False)
    print(f"removed {sum(removed.values()):,} rows")
    return 0


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        print("portwatch purge: not a terminal; pass --yes to confirm", file=sys.stderr)
        return False
    return input(question).strip().lower() in ("y", "yes")
