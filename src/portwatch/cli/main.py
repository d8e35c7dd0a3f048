"""The `portwatch` command line: one entry point, one module per subcommand.

Each subcommand lives in ``portwatch.cli.commands.<name>`` and provides ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Command modules keep their top-level
imports light (heavy libraries are imported inside ``run``) so that ``--help`` is instant.
Only this module and ``daemon.py`` configure logging handlers.
"""

from __future__ import annotations

import argparse
import importlib
import logging
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


def _load(name: str) -> ModuleType:
    return importlib.import_module(f"portwatch.cli.commands.{name}")


def build_parser() -> argparse.ArgumentParser:
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
        module = _load(name)
        help_line: str = module.HELP
        command_parser = sub.add_parser(name, help=help_line, description=help_line)
        module.add_arguments(command_parser)
        command_parser.set_defaults(_module=module)
    return parser


# Libraries whose DEBUG lines carry what must not reach a log: urllib3 logs every request
# line, and a notification URL's path (an ntfy topic) is the only secret it has.
QUIET_LOGGERS: Final[Mapping[str, int]] = {"urllib3": logging.INFO}


def configure_logging(verbosity: int) -> None:
    """Log to stderr (journald under systemd); health values and secrets never above DEBUG,
    and never from the libraries in :data:`QUIET_LOGGERS`, even with ``-vv``."""
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; argparse exits with status 2 on a usage error.

    The one place that turns Ctrl-C into exit status 130 and a closed pipe into 141,
    without a traceback, for every command (issue 18).
    """
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        configure_logging(args.verbose)
        module: ModuleType = args._module
        status: int = module.run(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    return status
