"""`portwatch status`: one screen about the patient now."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "one screen: day N, last temperature, link and battery, fever, what the clinic has"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from portwatch.web.cliargs import add_common

    add_common(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help="one JSON object: day, period_days, fever, recheck_due, last_reading, "
        "thermometer, clinic_undelivered, notices_waiting, notices_unaddressed, "
        "clinic_last_reached",
    )


# The flags that choose another view than the running service's own.
_VIEW_FLAGS = ("db", "placement", "patient", "threshold_f", "healing_days", "unit")


def _service_socket(args: argparse.Namespace) -> Path | None:
    """Where the running service for these settings would listen, or None to read the log.

    Only for the service's own view (no flag above, no ``--json``). With no settings file
    named (``--config``, ``$PORTWATCH_CONFIG``), where a service puts its socket without
    the settings (``$RUNTIME_DIRECTORY``, /run/portwatch, the default state directory), so
    no settings file is parsed and no pydantic imported (issue 20); with one, that file's
    service: ``status --config FILE`` read the log on this command's clock while the
    service ran, and could contradict the service's own screen.
    """
    import os

    if getattr(args, "json", False) or any(getattr(args, f, None) for f in _VIEW_FLAGS):
        return None
    from portwatch.service.control_socket import command_socket_path
    from portwatch.settings_file import config_path

    named = getattr(args, "config", None) or os.environ.get("PORTWATCH_CONFIG")
    if named and config_path(getattr(args, "config", None)).is_file():
        from portwatch.cli.commands._log import log_place

        try:
            place = log_place(args)
        except ValueError:  # ConfigError: the offline path reports it
            return None
        args._settings = place.settings  # read once: the offline path must not parse again
        return place.socket
    state = os.environ.get("PORTWATCH_STATE_DIRECTORY") or "/var/lib/portwatch"
    return command_socket_path(Path(state.split(":")[0]))


def from_service(args: argparse.Namespace) -> str | None:
    """The running service's status screen over its control socket, or None to read the
    log (no service, or another view asked for). Any trouble asking is the offline path's
    to report."""
    socket = _service_socket(args)
    if socket is None:
        return None
    from portwatch.cli.control_client import ask

    try:
        screen = ask(socket, "GET", "status", timeout_s=5.0).get("screen")
    except Exception:  # noqa: BLE001 - the offline path reads the log and says what is wrong
        return None
    return screen if isinstance(screen, str) else None


def run_before_logging(args: argparse.Namespace) -> int | None:
    """The service's screen, printed, before the command line sets up logging (nothing on
    this path logs); None: :func:`run` reads the log (it does not ask again)."""
    screen = from_service(args)
    args.service_asked = True
    if screen is None:
        return None
    print(screen, end="")
    return 0


def run(args: argparse.Namespace) -> int:
    import sys

    if not getattr(args, "service_asked", False):
        answered = run_before_logging(args)
        if answered is not None:
            return answered
    from portwatch.clock import SystemClock
    from portwatch.log.store import Store, StoreError
    from portwatch.web.cliargs import db_path, display_from, settings_from
    from portwatch.web.source import status_data
    from portwatch.web.text import status_text

    now = SystemClock().now()
    try:
        config = args._settings if hasattr(args, "_settings") else settings_from(args, now)
        settings = display_from(args, now, config)
        reminder = None
        if config is not None:
            from portwatch.web.settings import next_reminder

            reminder = next_reminder(config)(now)
        with Store.open_reader(db_path(args, config)) as store:
            status = status_data(store, settings, now, reminder)
    except (StoreError, ValueError) as exc:
        print(f"portwatch status: {exc}", file=sys.stderr if args.json else sys.stdout)
        return 1
    if args.json:
        import json

        from portwatch.web.text import status_json

        print(json.dumps(status_json(status), indent=2))
        return 0
    print(status_text(status), end="")
    return 0
