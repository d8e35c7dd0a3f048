"""`portwatch pause 30m --reason shower`: the thermometer is off the body on purpose."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from portwatch.cli.commands._log import EXIT_FAILED, add_db_argument, log_place, offline_note
from portwatch.cli.commands._through import CommandFailed, ask_service

HELP = "take the thermometer off for up to 2 h (shower): no 'silent' notice; fevers still alert"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("duration", metavar="DURATION", help='how long, e.g. "30m" or "1h30m"')
    parser.add_argument("--reason", required=True, help='why, e.g. "shower"')
    add_db_argument(parser)
    # For the end-to-end tests of `portwatch run --virtual-clock`: the pause starts at NOW
    # (simulated time, with an offset) instead of the system clock's time.
    parser.add_argument("--virtual-clock", metavar="NOW", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from portwatch.clock import SystemClock
    from portwatch.config import parse_duration
    from portwatch.service.watch import PauseError, make_pause

    try:
        now = _now(args.virtual_clock) if args.virtual_clock else SystemClock().now()
        pause = make_pause(now, parse_duration(args.duration), args.reason)
    except PauseError as exc:
        print(f"portwatch pause: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except _ClockError as exc:
        print(f"portwatch pause: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as exc:
        print(f"portwatch pause: duration = {args.duration!r}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        end = _pause(args, pause.start, pause.end, pause.reason)
    except (CommandFailed, ValueError) as exc:
        print(f"portwatch pause: {exc}", file=sys.stderr)
        return EXIT_FAILED
    until = end.astimezone().strftime("%H:%M")
    print(
        f"Paused until {until} ({pause.reason}): no 'thermometer silent' notice until then. "
        "Fever alerts are not paused."
    )
    return 0


def _pause(args: argparse.Namespace, start: datetime, end: datetime, reason: str) -> datetime:
    """Through the service (it times the pause on its clock), else a note in the log.

    Returns when the pause ends.

    Raises:
        CommandFailed: the service refused it.
        ValueError: the settings cannot be read, or the log cannot be written (StoreError).
    """
    from portwatch.log.store import Store, StoreError

    place = log_place(args, start)
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


class _ClockError(ValueError):
    """``--virtual-clock`` is not an ISO 8601 time with an offset."""


def _now(text: str) -> datetime:
    """``--virtual-clock NOW`` as an aware UTC time.

    Raises:
        _ClockError: NOW is not ISO 8601, or has no offset.
    """
    try:
        now = datetime.fromisoformat(text)
    except ValueError as exc:
        raise _ClockError(f"--virtual-clock = {text!r}: not an ISO 8601 time") from exc
    if now.tzinfo is None:
        raise _ClockError(f"--virtual-clock = {text!r}: needs a time with an offset")
    return now.astimezone(UTC)
