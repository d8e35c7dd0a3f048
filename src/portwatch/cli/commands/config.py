"""`portwatch config check`: validate the settings file and say what is wrong, line by line."""

from __future__ import annotations

import argparse
import sys

HELP = "check the settings file: one line per problem, exit status 2 if any"

EXIT_BAD_SETTINGS = 2  # the issue: a bad file is refused with exit status 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action", choices=("check",), help="check: validate the settings and report problems"
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="settings file (default: $PORTWATCH_CONFIG or /etc/portwatch/portwatch.toml)",
    )


def run(args: argparse.Namespace) -> int:
    from portwatch.clock import SystemClock
    from portwatch.config import ConfigError, config_path, load_settings

    path = config_path(args.config)
    try:
        settings = load_settings(path, now=SystemClock().now())
    except ConfigError as exc:
        for line in exc.problems:
            print(f"{path}: {line}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    print(
        f"{path}: ok (patient {settings.patient.reference}, monitored until "
        f"{settings.monitoring_ends.isoformat()})"
    )
    return 0
