"""What the commands that touch the log share: ``--db`` and reading a time typed by a person."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, time
from pathlib import Path

# Exit status when the log cannot be used (damaged, too new, unwritable) or input is bad.
EXIT_FAILED = 1


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    """``--db PATH``, defaulting to the configured state directory."""
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        metavar="PATH",
        help="the log file (default: portwatch.db in $PORTWATCH_STATE_DIRECTORY "
        "or /var/lib/portwatch)",
    )


def db_path(args: argparse.Namespace) -> Path:
    from portwatch.log.store import default_db_path

    chosen: Path | None = args.db
    return chosen if chosen is not None else default_db_path()


def parse_when(text: str, now: datetime) -> datetime:
    """A time typed by a person: ISO 8601 (with or without offset), a date, or HH:MM today.

    Without an offset the time is read in the gateway's local zone, like the clock on the
    wall. Returns aware UTC.

    Raises:
        ValueError: when the text is none of these.
    """
    local_now = now.astimezone()
    zone = local_now.tzinfo
    try:
        clock_time = time.fromisoformat(text)
    except ValueError:
        clock_time = None
    if clock_time is not None and len(text) <= 8:
        moment = datetime.combine(local_now.date(), clock_time, tzinfo=zone)
        return moment.astimezone(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: write ISO 8601 (2026-11-04T08:30+01:00), a date "
            "(2026-11-04) or HH:MM for today"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)
