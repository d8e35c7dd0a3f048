"""`portwatch pause 30m --reason shower`: the thermometer is off the body on purpose."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from portwatch.cli.commands._log import EXIT_FAILED, add_db_argument, db_path

HELP = "take the thermometer off for up to 2 h (shower): no 'silent' notice; fevers still alert"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("duration", metavar="DURATION", help='how long, e.g. "30m" or "1h30m"')
    parser.add_argument("--reason", required=True, help='why, e.g. "shower"')
    add_db_argument(parser)


def run(args: argparse.Namespace) -> int:
    from portwatch.clock import SystemClock

    return record(db_path(args), SystemClock().now(), args.duration, args.reason)


def record(
    db: Path, now: datetime, duration: str, reason: str, prog: str = "portwatch pause"
) -> int:
    """Record a pause from ``now`` in the log at ``db``; 0, or ``EXIT_FAILED`` with a line why.

    :mod:`portwatch.sim.pause` calls it with a simulated ``now`` (the end-to-end tests).
    """
    from portwatch.config import parse_duration
    from portwatch.log.store import Store, StoreError
    from portwatch.service.watch import PauseError, make_pause

    try:
        pause = make_pause(now, parse_duration(duration), reason)
    except PauseError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as exc:
        print(f"{prog}: duration = {duration!r}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        with Store.open(db) as store:
            store.add_note(pause.start, pause.end, pause.reason)
    except StoreError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    until = pause.end.astimezone().strftime("%H:%M")
    print(
        f"Paused until {until} ({pause.reason}): no 'thermometer silent' notice until then. "
        "Fever alerts are not paused."
    )
    return 0
