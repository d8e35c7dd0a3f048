"""The `portwatch` command line: one entry point, one module per subcommand.

Each subcommand lives in ``portwatch.cli.commands.<name>`` and provides ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Command modules keep their top-level
imports light (heavy libraries are imported inside ``run``) so that ``--help`` is instant.
A command typed by a person builds only its own arguments (issue 20: on a Pi Zero 2 W
every import here costs several times as much): ``portwatch status`` loads no other
command module, and ``portwatch --help`` loads each module for its help line only.
Only this module and ``daemon.py`` configure logging handlers.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Final

from portwatch import __version__

# Order is the order `portwatch --help` lists them in.
COMMANDS: Final[tuple[str, ...]] = (
    "setup",
    "run",
    "demo",
    "decode",
    "add",
    "import",
    "purge",
    "alerts",
    "inbox",
    "replay",
    "scan",
    "pair",
    "pause",
    "config",
    "doctor",
    "status",
    "web",
    "log",
    "report",
    "export",
    "summary",
)


# Each command's one-line help as its module's HELP says it, so that `portwatch --help`
# imports no command module (tests/test_cli.py holds the two equal). A command missing
# here is still listed, from its module.
HELP_LINES: Final[Mapping[str, str]] = {
    "setup": (
        "set up this Pi: ask what only you know, make the secrets, pin the thermometer, start"
    ),
    "web": "a one-time link and QR code that opens the caregiver page on a phone",
    "run": "run the daemon: read the thermometer, log, apply the fever rule, alert the clinic",
    "demo": "watch portwatch do its whole job: ten simulated days in about a minute, no hardware",
    "decode": "decode one Health Thermometer (or CORE) characteristic value given in hex, as JSON",
    "add": "record a temperature measured by hand (101.2F, 38.4C) when the Bluetooth one failed",
    "import": "import readings from a CSV file (time,temperature,unit[,kind,device,site,interval])",
    "purge": "remove log entries older than a date (keep the monitored period plus 90 days)",
    "alerts": "list clinic alerts (pending, delivered, failed), resend one, or send a test message",
    "inbox": "run a reference clinic inbox that verifies, stores and lists signed alerts",
    "replay": (
        "replay a CSV file of readings through the fever rule and print its decisions as JSON"
    ),
    "scan": "list nearby thermometers (name, address, signal, driver), refreshed as they are heard",
    "pair": "pin the patient's thermometer: scan, choose one, remember it in the state directory",
    "pause": (
        "take the thermometer off for up to 2 h (shower): no 'silent' notice; fevers still alert"
    ),
    "config": "check the settings file: one line per problem, exit status 2 if any",
    "doctor": (
        "check settings, log, disk, Bluetooth, clock, thermometer and clinic; say what to fix"
    ),
    "status": "one screen: day N, last temperature, link and battery, fever, what the clinic has",
    "log": "the log: readings (observations for streams), events and decisions, and a chart",
    "report": "report symptoms at the port site: an urgent alert to the clinic",
    "export": "export readings: CSV (the import format) or one FHIR R4 collection Bundle",
    "summary": "the visit summary for the day 7-10 check, printable (HTML)",
}


def _load(name: str) -> ModuleType:
    return importlib.import_module(f"portwatch.cli.commands.{name}")


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names, if any: its first word that is not an option (the
    top-level options take no value)."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line; given ``argv``, only what parsing it needs.

    Without ``argv`` every subcommand gets its arguments. With it, only the subcommand
    ``argv`` names does; the others are listed by name, and by their help line (from
    :data:`HELP_LINES`, importing no module) only when ``argv`` names none
    (``portwatch --help`` or a usage error shows that list).
    """
    only = None if argv is None else chosen_command(argv)
    parser = argparse.ArgumentParser(
        prog="portwatch",
        description=(
            "Watch a newly implanted infusion port for fever: read a Bluetooth LE "
            "thermometer, log every reading, apply the clinic's fever rule and alert the clinic."
        ),
    )
    parser.add_argument("--version", action="version", version=f"portwatch {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        if argv is not None and only is not None and name != only:
            sub.add_parser(name)  # never shown: parsing goes to `only`
            continue
        if argv is not None and only is None and name in HELP_LINES:
            # only listed (--help or a usage error): no module to import
            sub.add_parser(name, help=HELP_LINES[name])
            continue
        module = _load(name)
        help_line: str = module.HELP
        command_parser = sub.add_parser(name, help=help_line, description=help_line)
        module.add_arguments(command_parser)
        command_parser.set_defaults(_module=module)
    return parser


# Libraries whose DEBUG lines carry what must not reach a log: urllib3 logs every request
# line, and a notification URL's path (an ntfy topic) is the only secret it has.
QUIET_LOGGERS: Final[Mapping[str, int]] = {"urllib3": 20}  # logging.INFO


def configure_logging(verbosity: int) -> None:
    """Log to stderr (journald under systemd); health values and secrets never above DEBUG,
    and never from the libraries in :data:`QUIET_LOGGERS`, even with ``-vv``."""
    import logging  # not at import time: `portwatch --help` needs none

    level = logging.WARNING - 10 * min(verbosity, 2)
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for name, floor in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(level, floor))


# Exit statuses a shell gives a program ended by a signal (128 + its number).
EXIT_INTERRUPTED: Final = 130  # SIGINT: Ctrl-C
EXIT_BROKEN_PIPE: Final = 141  # SIGPIPE: the reader went away (`alerts list | head`)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's own flush at exit stays quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _credentials_as_systemd_gives_them(args: argparse.Namespace) -> None:
    """A command run by a person sees the credentials the service is given: when systemd
    set no ``$CREDENTIALS_DIRECTORY``, the ``credentials/`` beside the settings file (where
    ``portwatch setup`` wrote them), if there is one. Without this, ``doctor`` and ``config
    check`` run by hand right after setup said "no clinic secret" of a secret they had just
    written. A directory this user may not read gives "permission denied", which is true."""
    if os.environ.get("CREDENTIALS_DIRECTORY"):
        return
    from portwatch.settings_file import config_path, credentials_beside

    settings = config_path(getattr(args, "config", None))
    directory = credentials_beside(settings)
    if settings.is_file() and directory.is_dir():
        os.environ["CREDENTIALS_DIRECTORY"] = str(directory)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; argparse exits with status 2 on a usage error.

    The one place that turns Ctrl-C into exit status 130 and a closed pipe into 141,
    without a traceback, for every command (issue 18).
    """
    try:
        words = sys.argv[1:] if argv is None else argv
        args = build_parser(words).parse_args(words)
        module: ModuleType = args._module
        status: int | None = None
        early = getattr(module, "run_before_logging", None)
        if early is not None and not args.verbose:
            # A command that may be answered whole by the running service (`status`) asks
            # it first: importing logging was a sixth of that path (issue 20).
            status = early(args)
        if status is None:
            configure_logging(args.verbose)
            _credentials_as_systemd_gives_them(args)
            status = module.run(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    return status
