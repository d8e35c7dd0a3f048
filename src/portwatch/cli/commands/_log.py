"""What the commands that touch the log share: ``--db`` and reading a time typed by a person."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, time
from pathlib import Path

# Exit status when the log cannot be used (damaged, too new, unwritable).
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2  # issue 21: settings and input are refused with status 2


def refuse(prog: str, problem: Exception, suffix: str = "") -> int:
    """Say why input was refused, one line per problem (a ConfigError may hold several),
    control characters from the input escaped (portwatch.printable); status 2."""
    from portwatch.printable import printable

    for line in str(problem).splitlines():
        print(f"{prog}: {printable(line)}{suffix}", file=sys.stderr)
    return EXIT_BAD_INPUT


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


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config FILE`` and ``--db PATH`` for the commands that add readings (add, import)."""
    config_help = "the settings file, for the placement and the log's place (default: "
    config_help += "$PORTWATCH_CONFIG or /etc/portwatch/portwatch.toml when it exists)"
    parser.add_argument("--config", metavar="FILE", help=config_help)
    add_db_argument(parser)


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
