"""`portwatch pause 30m --reason shower`: the thermometer is off the body on purpose."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from portwatch.cli.commands._log import (
    EXIT_FAILED,
    LogPlace,
    add_db_argument,
    log_place,
    offline_note,
)
from portwatch.cli.commands._through import CommandFailed, ask_service
from portwatch.web.cliargs import person_time

HELP = "take the thermometer off for up to 2 h (shower): no 'silent' notice; fevers still alert"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("duration", metavar="DURATION", help='how long, e.g. "30m" or "1h30m"')
    parser.add_argument("--reason", required=True, help='why, e.g. "shower"')
    add_db_argument(parser)


def run(args: argparse.Namespace) -> int:
    from portwatch.clock import SystemClock

    now = SystemClock().now()
    try:
        place = log_place(args, now)
    except ValueError as exc:  # the settings (ConfigError)
        print(f"portwatch pause: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return record(place, now, args.duration, args.reason)


def record(
    where: LogPlace | Path, now: datetime, duration: str, reason: str, prog: str = "portwatch pause"
) -> int:
    """Record a pause from ``now``: through the running service (it times the pause on its
    own clock), else as a note in the log; 0, or ``EXIT_FAILED`` with a line why.

    ``where`` is the place the command found, or a log file written directly:
    :mod:`portwatch.sim.pause` calls it so with a simulated ``now`` (the end-to-end tests).
    """
    from portwatch.config import parse_duration
    from portwatch.service.watch import PauseError, make_pause

    try:
        pause = make_pause(now, parse_duration(duration), reason)
    except PauseError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as exc:
        print(f"{prog}: duration = {duration!r}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if isinstance(where, Path):
        where = LogPlace(db=where, socket=None, direct=True, settings=None)
    try:
        end = _pause(where, pause.start, pause.end, pause.reason)
    except (CommandFailed, ValueError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    until = person_time(end, where.settings, now)
    print(
        f"Paused until {until} ({pause.reason}): no 'thermometer silent' notice until then. "
        "Fever alerts are not paused."
    )
    return 0


def _pause(place: LogPlace, start: datetime, end: datetime, reason: str) -> datetime:
    """Through the service, else a note in the log; returns when the pause ends.

    Raises:
        CommandFailed: the service refused it.
        ValueError: the log cannot be written (StoreError).
    """
    from portwatch.log.store import Store, StoreError

    body = {"duration_s": (end - start).total_seconds(), "reason": reason}
    answer = ask_service(place, "POST", "pauses", body)
    if answer is not None:
        return datetime.fromisoformat(str(answer["end"]))
    print(
        offline_note(
            place, "the pause is written to the log; the service honours it when it starts"
        )
    )
    try:
        with Store.open(place.db) as store:
            store.add_note(start, end, reason)
    except StoreError as exc:
        raise ValueError(str(exc)) from exc
    return end
