"""What the commands that touch the log share: where the log and the service are
(``--config``, ``--db``), and reading a time typed by a person.

One way to find the settings for every command (issue 16): ``--config FILE``, else
``$PORTWATCH_CONFIG``, else /etc/portwatch/portwatch.toml when it exists; the state
directory (the log, and the service's socket when it runs outside systemd) comes from it.
Without a settings file: ``$PORTWATCH_STATE_DIRECTORY``, else /var/lib/portwatch.
``--db PATH`` is an explicit override: that file, written directly, the service not asked.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from portwatch.config import Settings

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
    """``--config FILE`` and ``--db PATH`` (an override), as every command takes them."""
    parser.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="the settings file (default: $PORTWATCH_CONFIG or /etc/portwatch/portwatch.toml "
        "when it exists); the log and the service are found from it",
    )
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        metavar="PATH",
        help="override: this log file, written directly (default: portwatch.db in the "
        "settings' state directory, $PORTWATCH_STATE_DIRECTORY or /var/lib/portwatch)",
    )


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config FILE`` and ``--db PATH`` for the commands that add readings (add, import):
    the same two options every command takes (:func:`add_db_argument`)."""
    add_db_argument(parser)


def db_path(args: argparse.Namespace) -> Path:
    """The log: ``--db``, else the settings' state directory, else the default one.

    Raises:
        ConfigError: the settings file named is missing, or a settings file is invalid.
    """
    return log_place(args).db


class LogPlace(NamedTuple):
    """Where a command's work goes: the log, and the running service's socket (if any).

    A named tuple, not a dataclass: ``portwatch status`` asking the running service loads
    this module, and ``dataclasses`` (with ``inspect``) was a sixth of its start (issue 20).
    """

    db: Path
    socket: Path | None  # None: no service to ask (none runs, or --db was given)
    direct: bool  # --db: that file, written directly
    settings: Settings | None


def log_place(args: argparse.Namespace, now: datetime | None = None) -> LogPlace:
    """The log and the service for this command's ``--config`` / ``--db``.

    Raises:
        ConfigError: the settings file named is missing, or a settings file is invalid.
    """
    from portwatch.log.store import DB_FILE_NAME, default_db_path
    from portwatch.service.control_socket import command_socket_path

    settings = _settings(args, now)
    chosen: Path | None = getattr(args, "db", None)
    if chosen is not None:
        return LogPlace(db=chosen, socket=None, direct=True, settings=settings)
    if settings is not None:
        state_directory = settings.store.state_directory
        db = state_directory / DB_FILE_NAME
    else:
        db = default_db_path()
        state_directory = db.parent
    return LogPlace(
        db=db, socket=command_socket_path(state_directory), direct=False, settings=settings
    )


def _settings(args: argparse.Namespace, now: datetime | None) -> Settings | None:
    from portwatch.clock import SystemClock

    return command_settings(getattr(args, "config", None), now or SystemClock().now())


def command_settings(argument: str | None, now: datetime) -> Settings | None:
    """The settings as a command needs them, or None when there is no settings file.

    ``argument`` is ``--config`` (else ``$PORTWATCH_CONFIG``, else the default path, when
    it exists). A command needs no secret: the service holds them (systemd's
    ``LoadCredential``), and the people in group portwatch may not read them, so a clinic
    secret this user cannot read is no reason to refuse; every other problem is.

    Raises:
        ConfigError: the file named is missing, or the settings are invalid.
    """
    from portwatch.settings_file import config_path

    if argument is None and not config_path(argument).exists():
        return None  # no settings file: nothing to validate, no pydantic (issue 20)
    from portwatch.settings_check import settings_for_input

    return settings_for_input(argument, now)


def offline_note(place: LogPlace, what: str) -> str:
    """The one line a command prints when it does the work itself instead of the service."""
    if place.direct:
        return (
            f"written to {place.db} directly (--db); a portwatch service using that log "
            "acts on it within a second, or when it starts"
        )
    return f"portwatch is not running: {what}"


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
